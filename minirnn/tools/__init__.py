"""The tools built on the library: the minirnn command (cli), training runs (train), the pictures and
printouts that show an RNN's inside (study), the benchmark (bench) and the GPU check (gpucheck).

They import the library as any user does; the library imports nothing from here."""
