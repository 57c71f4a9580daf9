"""The training loop both libraries run: a row's schedule over its examples, evaluated each epoch, timed.

The loop is the same code for minirnn and for torch; a *side* does the library's
part (minirnn_side.py, torch_side.py):

    side.start_epoch()               a stateful side starts every stream from zeros
    side.train_step(x, y, lr) -> loss   forward, loss, backward and one Adam step at rate lr
    side.evaluate(batches) -> (sum of the NLL, targets counted)   in evaluation mode, no gradient

After every epoch the loop records the training loss as the notebook printed it
(an average of the batch losses weighted 0.98 per step into the past, debiased,
restarted with each phase) and the mean validation NLL per target. The time is
the wall time of the whole schedule, evaluations included, from the model built
to the last evaluation done.
"""
from __future__ import annotations

import math
import time

from minirnn.optim import cosine_warm_restarts

from .table import Row

SMOOTHING = 0.98        # the weight of the past in the training loss's running average


def learning_rate(row: Row, phase_index: int, step: int, batches_per_epoch: int) -> float:
    """The rate of training step ``step`` (from 0) of the phase: its lr, or the annealed value.

    An annealed phase runs cycles of 1, 2, 4, ... epochs (minirnn.optim.cosine_warm_restarts):
    at position t of a cycle of T_i steps the rate is lr (1 + cos(pi t / T_i)) / 2.
    """
    phase = row.phases[phase_index]
    if not phase.annealed:
        return phase.lr
    return phase.lr * cosine_warm_restarts(step + 1, batches_per_epoch, cycle_mult=2)


def fit(side, examples, row: Row, report=None) -> dict:
    """Train ``side`` on ``examples`` by ``row``'s schedule; ``report(record)`` after each epoch.

    Returns {"seconds": the wall time, "epochs": [{"epoch", "lr", "train", "val", "seconds"}, ...],
    "phase_ends": the epoch numbers that end a phase}. A NaN or Inf loss raises FloatingPointError.
    """
    start = time.perf_counter()
    epochs, phase_ends, number = [], [], 0
    for phase_index, phase in enumerate(row.phases):
        average, steps = 0.0, 0
        for _ in range(phase.epochs):
            side.start_epoch()
            for x, y in examples.epoch(number):
                lr = learning_rate(row, phase_index, steps, examples.batches_per_epoch)
                loss = side.train_step(x, y, lr)
                if not math.isfinite(loss):
                    raise FloatingPointError(f"row {row.number}: the training loss became {loss} in epoch "
                                             f"{number + 1}, step {steps + 1} of its phase")
                average = SMOOTHING * average + (1 - SMOOTHING) * loss
                steps += 1
            number += 1
            total, count = side.evaluate(examples.validation())
            record = dict(epoch=number, lr=lr, train=average / (1 - SMOOTHING ** steps),
                          val=total / count if count else None, seconds=time.perf_counter() - start)
            epochs.append(record)
            if report is not None:
                report(record)
        phase_ends.append(number)
    return dict(seconds=time.perf_counter() - start, epochs=epochs, phase_ends=phase_ends)
