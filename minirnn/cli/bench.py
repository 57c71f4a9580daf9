"""``minirnn bench``: time minirnn's RNN, LSTM and GRU against torch (the code lives in minirnn.bench)."""
from ..bench.bench import add_arguments, run  # noqa: F401  (the subcommand contract)
