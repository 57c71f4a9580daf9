"""The foundations every other layer of minirnn stands on.

backend: which array library (NumPy or CuPy) and the few operations spelled differently in each;
module: parameters and gradients side by side, state dicts, dtype and backend moves;
grad_mode: no_grad(), forwards that keep nothing for a backward;
threads: set_num_threads(), the BLAS's thread count;
checks: the argument checks of the public entry points, with their error messages;
atomic: files written whole or not at all.
"""
