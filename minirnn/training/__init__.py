"""Training a character model: text and batches (data), optimizers and schedules (optim), the
run's settings (config), each model kind's step (steps), checkpoints checked as a whole
(checkpoint), the run directory, its lock and what it holds (rundir, run_state), progress and
Ctrl-C (terminal), the training loop (trainer) and sampling (sample)."""
