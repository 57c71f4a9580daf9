"""Linear: y = x W^T + b as a module, mirroring torch.nn.Linear (a head on an RNN, a projection)."""
from __future__ import annotations

import math

from ..core import validate
from ..core.grad_mode import is_grad_enabled
from ..core.module import Module
from ..ops import linear_backward, linear_forward


class Linear(Module):
    """y = x W^T + b over the last axis of x, with any leading axes (torch.nn.Linear).

    Parameters, with torch's names, shapes and initialisation: weight
    (out_features, in_features) and bias (out_features,), both drawn from
    U(-1/sqrt(in_features), 1/sqrt(in_features)); ``bias=False`` leaves the bias out.
    They are ``params["weight"]`` and ``params["bias"]``, also reachable as ``weight``
    and ``bias`` (None without one), as in torch. forward(x) -> y; backward(d_y)
    adds into ``grads`` and returns dx.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype="float32",
                 seed: int | None = None):
        super().__init__(dtype, seed)
        self.in_features = validate.positive_int("in_features", in_features)
        self.out_features = validate.positive_int("out_features", out_features)
        bound = 1.0 / math.sqrt(self.in_features)
        self.add_param("weight", self.init_uniform(bound, (self.out_features, self.in_features)))
        if bias:
            self.add_param("bias", self.init_uniform(bound, (self.out_features,)))
        else:
            self.leave_out_param("bias", "bias=False")

    @property
    def weight(self):
        return self._params["weight"]

    @property
    def bias(self):
        return self._params.get("bias")

    def config(self) -> dict:
        return dict(in_features=self.in_features, out_features=self.out_features, bias=self.bias is not None,
                    dtype=self.dtype.name)

    def forward(self, x):
        """x: (..., in_features) of the model's dtype (another is refused), any number of leading axes.

        Returns y (..., out_features), with x's leading axes.
        """
        given = x
        x = validate.float_array("x", x, (..., self.in_features), self.xp, self.dtype)
        if x is given and is_grad_enabled():
            x = x.copy()     # the cache keeps x for dW: the caller may change theirs before backward
        y, cache = linear_forward(x, self.weight, self.bias)   # y = x W^T + b
        self.save_cache((cache, y.shape))
        return y

    def backward(self, d_y):
        """d_y: dL/dy, y's shape. Adds dL/dW (and dL/db) into ``grads``; returns dx with x's shape."""
        cache, y_shape = self.last_cache()
        d_y = validate.float_array("d_y", d_y, y_shape, self.xp, self.dtype)
        self.release_cache()
        dx, d_weight, d_bias = linear_backward(d_y, cache)
        self.add_grads([("weight", d_weight), ("bias", d_bias)])
        return dx
