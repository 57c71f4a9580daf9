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
    prepare_backward(gates, states, saved, prepared, d_gates, d_hh): the local derivatives of
        a block of k steps at once, from the forward's values alone (the backward loop calls it
        as it reaches them, on NumPy): gates (k, B, G*H), states a tuple of (k+1, B, H), saved
        (k, B, n_saved*H), prepared (k, B, n_prepared*H), d_gates and d_hh (k, B, G*H). It fills
        d_gates (and d_hh) with the derivatives, with respect to each pre-activation, of the value
        whose gradient the step receives (dh_t/da_t for the RNN; dc_t/da_i, dc_t/da_f, dc_t/da_g
        and dh_t/da_o for the LSTM), and prepared with the further derivatives its backward reads
        (the LSTM's dh_t/dc_t).
    n_prepared: H-wide arrays per step that prepare_backward writes for backward (0, or 1).
    backward(d_state, gates, prev, out, saved, prepared, d_gates, d_hh, scratch): one step, t,
        with the step-t slices of the arrays above. d_state holds dL/d(out) and leaves with
        dL/d(prev) for every state but h; multiplies the local derivatives in d_gates (and d_hh
        when it is separate) by the step's incoming gradient, so that they leave as dL/da, the
        gradients of the pre-activations. Returns the part of dL/dh_prev that bypasses W_hh (GRU),
        or None.
    gpu_forward, gpu_backward: forward and backward, with the same signatures, as one fused
        CuPy kernel each (minirnn.gates.kernels), used for CuPy arrays. Their lines are the same
        as those of prepare_backward and backward: the backward kernel first takes its step's
        local derivatives, under the same names, then the same products. Only the moment of the
        first half differs: NumPy pays per call as much as per element at small sizes, so it
        takes a block of steps in one call per array; a GPU pays little per kernel launch, so
        there is no prepare_backward on CuPy (prepared is None there).
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
    prepare_backward: Callable | None = None
    n_prepared: int = 0

    @property
    def n_gates(self) -> int:
        """G, the number of gate blocks: 1, 4 or 3."""
        return len(self.gates)

    def step_functions(self, xp) -> tuple:
        """(forward, prepare_backward, backward) for arrays of the module xp.

        On CuPy the fused kernels, with None for prepare_backward (each backward kernel takes its
        step's derivatives itself); otherwise the array-module lines (NumPy, or a backend plugged in
        by the tests, whose arrays cannot run CUDA kernels).
        """
        if xp.__name__ == "cupy":
            return self.gpu_forward, None, self.gpu_backward
        return self.forward, self.prepare_backward, self.backward
