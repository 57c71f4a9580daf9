"""The description a sequence layer needs of a cell."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Cell:
    """A recurrent cell's gate math and the buffers it asks the sequence layer for.

    n_gates: blocks of H stacked in the weights (1 for RNN, 4 for LSTM, 3 for GRU).
    state_names: the state carried between steps, h first: ("h",) or ("h", "c").
    n_saved: H-wide arrays the forward keeps per step for the backward.
    scratch_widths: one k per work buffer of shape (B, k H), reused every step (no
        allocation in the loop), e.g. (1, 4): a (B, H) and a (B, 4H) buffer.
    shares_gate_grads: the recurrent pre-activation enters the gates only by
        addition (RNN, LSTM), so its gradient is the gate gradient itself and
        b_hh can be folded into x_proj before the loop. The GRU multiplies it by r.
    forward(gates, hh, prev, out, saved, scratch): gates (B, G*H) holds the
        input pre-activations and is overwritten with what backward needs; hh
        (B, G*H) the recurrent ones; prev and out are state tuples of (B, H).
    prepare_backward(gates, states, saved, d_gates, d_hh), optional: the local derivatives of a
        block of k steps at once (the backward loop calls it as it reaches them), from
        the forward's values alone: gates (k, B, G*H), states a tuple of (k+1, B, H),
        saved (k, B, n_saved*H), d_gates and d_hh (k, B, G*H).
        It fills d_gates (and d_hh) with the derivatives of the pre-activations
        with respect to the step's incoming gradient, and may turn saved into
        values of the same kind (the LSTM's dc_t/dh_t); backward then only multiplies.
        A cell without one (None) takes each step's derivatives in backward itself.
    backward(d_state, gates, prev, out, saved, d_gates, d_hh, scratch): one step, t,
        with the step-t slices of the arrays above. d_state holds dL/d(out) and
        leaves with dL/d(prev) for every state but h; turns d_gates (and d_hh
        when it is separate) into the gate gradients, from what prepare_backward
        left there or, without one, from the forward's values. Returns the part of
        dL/dh_prev that bypasses W_hh (GRU), or None.
    gpu_forward, gpu_backward: forward and backward, with the same signatures, as
        one fused CuPy kernel each (minirnn.gates.kernels), used for CuPy arrays. A
        GPU pays little per kernel launch, so the backward kernel computes each
        step's local derivatives itself and there is no prepare_backward on CuPy:
        its d_gates hold no derivatives before the step, and saved keeps the forward's values.
    """
    name: str
    n_gates: int
    state_names: tuple
    n_saved: int
    scratch_widths: tuple
    shares_gate_grads: bool
    forward: Callable
    backward: Callable
    gpu_forward: Callable
    gpu_backward: Callable
    prepare_backward: Callable | None = None

    def step_functions(self, xp) -> tuple:
        """(forward, prepare_backward, backward) for arrays of the module xp.

        On CuPy the fused kernels, with None for prepare_backward (each backward kernel takes its
        step's derivatives itself); otherwise the array-module lines (NumPy, or a backend plugged in
        by the tests, whose arrays cannot run CUDA kernels).
        """
        if xp.__name__ == "cupy":
            return self.gpu_forward, None, self.gpu_backward
        return self.forward, self.prepare_backward, self.backward
