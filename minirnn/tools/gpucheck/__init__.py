"""Proofs of the CuPy path beyond the test suite: the fused kernels compiled by NVRTC (no GPU needed)
and held against their cells' NumPy lines (on a GPU). scripts/gpu_check.py runs them with the rest."""
