"""The course's table: each row's model, data, schedule and the loss the notebook printed.

The rows are the character models of the 2017 fastai course's lesson 6 notebook
(``lesson6-rnn.ipynb``), trained on Nietzsche's text, each with the notebook's
batch size, epochs and learning rates and its printed losses. This is the one
place these facts are written: the command, its report and the README's table
read them from here.
"""
from __future__ import annotations

from dataclasses import dataclass

N_FAC = 42          # the embedding size of every row
N_HIDDEN = 256      # the hidden size of every row
VAL_FRACTION = 0.2  # rows 2-6: a random 20% of the windows; rows 7-9: the last 20% of the text


@dataclass(frozen=True)
class Phase:
    """``epochs`` epochs of Adam at learning rate ``lr``; ``annealed``: cosine annealing with warm
    restarts from ``lr``, the first cycle one epoch long and each next twice as long."""

    lr: float
    epochs: int
    annealed: bool = False


@dataclass(frozen=True)
class Row:
    """One row of the table.

    model: which model the two libraries build (each side has a builder per name).
    data: how the text becomes examples (a key of DATA).
    batch: examples (windows or streams) per batch; bptt: steps per chunk of the streams (rows 7-9).
    notebook: the loss the notebook printed after the first phase and at the end;
    measure: "val" (validation NLL) or "train" (row 1, whose validation set was one sample).
    """

    number: int
    name: str
    change: str
    model: str
    data: str
    phases: tuple
    notebook: tuple
    batch: int = 512
    bptt: int = 8
    measure: str = "val"
    weight_decay: float = 0.0

    @property
    def epochs(self) -> int:
        return sum(phase.epochs for phase in self.phases)

    @property
    def stateful(self) -> bool:
        """Whether the hidden state is carried from batch to batch (rows 7-9)."""
        return self.data == "streams"


DATA = {
    "every3": "windows of 3 at every 3rd position, the 4th character the target; no validation",
    "windows": "every window of 8 with the character after it; a random 20% for validation",
    "pieces": "the text cut into pieces of 8, a target at every step; a random 20% for validation",
    "streams": ("the text lowercased, characters seen fewer than 3 times one unknown symbol; the first 80% "
                "for training as 64 streams in chunks of 8, the last 20% for validation"),
}

ROWS = {row.number: row for row in [
    Row(1, "Char3Model", "3 characters -> the 4th, the article's loop over 3 steps", "charloop", "every3",
        (Phase(1e-2, 1), Phase(1e-3, 1)), (2.096, 1.845), measure="train"),
    Row(2, "CharLoopModel", "the article's loop over 8 characters", "charloop", "windows",
        (Phase(1e-2, 1), Phase(1e-3, 1)), (1.993, 1.751)),
    Row(3, "CharLoopConcatModel", "the input joined to h instead of added: relu(l_in(cat(h, e(c))))", "concat",
        "windows", (Phase(1e-3, 1), Phase(1e-4, 1)), (1.785, 1.699)),
    Row(4, "CharRnn", "the library's RNN layer, a prediction from its last output", "rnn_last", "windows",
        (Phase(1e-3, 4), Phase(1e-4, 2)), (1.549, 1.504)),
    Row(5, "CharSeqRnn", "a prediction at every step of non-overlapping pieces", "rnn_every", "pieces",
        (Phase(1e-3, 4), Phase(1e-4, 1)), (2.016, 2.001)),
    Row(6, "CharSeqRnn, identity init", "weight_hh starts as the identity", "rnn_every_identity", "pieces",
        (Phase(1e-2, 4), Phase(1e-3, 4)), (1.918, 1.838)),
    Row(7, "CharSeqStatefulRnn", "the hidden state carried from batch to batch (truncated BPTT)", "stateful_rnn",
        "streams", (Phase(1e-3, 4), Phase(1e-4, 4)), (1.539, 1.482), batch=64),
    Row(8, "CharSeqStatefulLSTM", "an LSTM instead of the RNN", "stateful_lstm", "streams",
        (Phase(1e-2, 6), Phase(1e-3, 3)), (1.461, 1.358), batch=64),
    Row(9, "CharSeqStatefulLSTM2", "2 layers, dropout 0.25 between them, weight decay 1e-5, cosine annealing "
        "with warm restarts (cycles of 1, 2, 4, 8, 16 epochs)", "stateful_lstm2", "streams",
        (Phase(1e-2, 2), Phase(1e-2, 31, annealed=True)), (1.506, 1.263), batch=64, weight_decay=1e-5),
]}


def schedule_text(row: Row) -> str:
    """The row's schedule as the table shows it: "1e-3 x4, 1e-4 x2", an annealed phase "1e-2 annealed x31"."""
    return ", ".join(f"{phase.lr:.0e}".replace("e-0", "e-") + (" annealed" if phase.annealed else "")
                     + f" x{phase.epochs}" for phase in row.phases)
