"""The linear layer y = x W^T + b, over any number of leading dimensions."""
from __future__ import annotations


def linear_forward(x, weight, bias=None):
    """y = x @ W.T + b.

    x: (..., in), weight: (out, in) as torch stores it, bias: (out,) or None.
    Returns y (..., out) and the cache for :func:`linear_backward`.
    """
    # One 2-D matmul over all leading rows: NumPy would call the BLAS once per matrix of a 3-D x.
    y = (x.reshape(-1, x.shape[-1]) @ weight.T).reshape(*x.shape[:-1], weight.shape[0])
    if bias is not None:
        y += bias
    return y, (x, weight, bias is not None)


def linear_backward(dy, cache):
    """Gradients of y = x W^T + b.

    dy: (..., out). Returns dx (..., in), dW (out, in), db (out,) or None.
    The leading dimensions are flattened so that dW is one matmul over all rows.
    """
    x, weight, has_bias = cache
    dy_rows = dy.reshape(-1, dy.shape[-1])
    dx = (dy_rows @ weight).reshape(x.shape)                      # dL/dx = dy W
    d_weight = dy_rows.T @ x.reshape(-1, x.shape[-1])             # dL/dW = dy^T x, summed over rows
    d_bias = dy_rows.sum(axis=0) if has_bias else None            # dL/db = sum of dy over rows
    return dx, d_weight, d_bias
