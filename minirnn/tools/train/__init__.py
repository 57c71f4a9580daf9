"""``minirnn train``'s run machinery, built on the library's data, optimizers and checkpoints: the
run's settings (config), what each model kind trains on and how it is evaluated (tasks), the run
directory, its lock and what it holds (rundir, run_state), progress and Ctrl-C (terminal), and the
training loop (trainer)."""
