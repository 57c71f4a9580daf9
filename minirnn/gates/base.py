"""GateMath: the elementwise part of one kind of cell, as the sequence layer calls it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class GateMath:
    """A cell kind's gate math and the buffers it asks the sequence layer for.

    name: the cell kind's, "rnn_tanh", "rnn_relu", "lstm" or "gru" (minirnn.cell_kinds).
    gates: the blocks of H rows stacked in the weights, in order: ("h",) for the RNN, whose one
        block is h's own pre-activation, ("i", "f", "g", "o") for the LSTM, ("r", "z", "n") for the GRU.
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
    backward(d_state, gates, prev, out, saved, d_gates, d_hh, scratch): one step, t,
        with the step-t slices of the arrays above. d_state holds dL/d(out) and
        leaves with dL/d(prev) for every state but h; fills d_gates (and d_hh
        when it is separate) with the gradients of the pre-activations, from the
        forward's values. Returns the part of dL/dh_prev that bypasses W_hh (GRU), or None.
    gpu_forward, gpu_backward: forward and backward, with the same signatures, as
        one fused CuPy kernel each (minirnn.gates.kernels), used for CuPy arrays: the
        same equations, line for line, as forward and backward.
    """
    name: str
    gates: tuple
    state_names: tuple
    n_saved: int
    scratch_widths: tuple
    shares_gate_grads: bool
    forward: Callable
    backward: Callable
    gpu_forward: Callable
    gpu_backward: Callable

    @property
    def n_gates(self) -> int:
        """G, the number of gate blocks: 1, 4 or 3."""
        return len(self.gates)

    def step_functions(self, xp) -> tuple:
        """(forward, backward) for arrays of the module xp: on CuPy the fused kernels, otherwise
        the array-module lines (NumPy, or a backend plugged in by the tests, whose arrays cannot run
        CUDA kernels)."""
        if xp.__name__ == "cupy":
            return self.gpu_forward, self.gpu_backward
        return self.forward, self.backward
