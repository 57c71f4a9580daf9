"""The foundations every other layer of minirnn stands on.

backend: which array library (NumPy or CuPy) and the few operations spelled differently in each;
module: parameters and gradients side by side, state dicts, dtype and backend moves;
grad_mode: no_grad(), forwards that keep nothing for a backward;
threads: set_num_threads(), the BLAS's thread count;
validate: the validation of the public entry points' arguments, with its error messages;
atomic: files written whole or not at all;
param_names: torch's names and shapes of a recurrent cell's and layer's parameters.
"""
