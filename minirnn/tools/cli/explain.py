"""Print a model's unrolled computation, recorded line by line while it runs a tiny forward and backward.

For each step of the time loop: every source line that computed an array, the
shapes it read and wrote, the parameters by name and the equation from the
line's comment; then the backward pass in reverse, each step ending with the
gradient it sends to the step before; then the parameter table.

    minirnn explain charloop --batch 4 --emb 42
    minirnn explain lstm --steps 2 --brief      # without the gate math inside the cell
    minirnn explain runs/minirnn/best.npz
"""
from __future__ import annotations

import argparse

from minirnn.cell_kinds import LAYERS
from minirnn.core import validate
from minirnn.gates import RNN_GATE_MATH

from ..study import explain

# The flags that size a built-in model: argument -> (default, the models it sizes). Each is an
# error where it sizes nothing (explain rnn --emb 5), and for a checkpoint, which has its own sizes.
SIZES = {
    "input_size": (10, tuple(LAYERS)),
    "hidden_size": (20, ("charloop", *LAYERS, "charrnn")),
    "num_layers": (1, (*LAYERS, "charrnn")),
    "emb": (42, ("charloop", "charrnn")),
    "vocab_size": (60, ("charloop", "charrnn")),
    "cell": ("lstm", ("charrnn",)),
    "nonlinearity": ("tanh", ("rnn",)),
}


def _size_help(name: str, what: str) -> str:
    default, models = SIZES[name]
    return f"{', '.join(models)}: {what} (default {default})"


def add_model_arguments(parser: argparse.ArgumentParser, steps: int = 3) -> None:
    """MODEL, the flags that size it and its input, and --seed; minirnn draw takes the same ones."""
    parser.add_argument("model", metavar="MODEL",
                        help=f"one of {', '.join(explain.MODELS)}, or a checkpoint (.npz) written by minirnn train")
    parser.add_argument("--steps", type=int, default=steps, metavar="T", help="time steps to run (default %(default)s)")
    parser.add_argument("--batch", type=int, default=4, metavar="B", help="batch size (default %(default)s)")
    sizes = parser.add_argument_group("sizes of a built-in model (each flag only for the models it names)")
    sizes.add_argument("--input-size", type=int, metavar="I", help=_size_help("input_size", "input features"))
    sizes.add_argument("--hidden-size", type=int, metavar="H", help=_size_help("hidden_size", "hidden units"))
    sizes.add_argument("--num-layers", type=int, metavar="L", help=_size_help("num_layers", "stacked layers"))
    sizes.add_argument("--emb", type=int, metavar="F", help=_size_help("emb", "the embedding size (charloop's n_fac)"))
    sizes.add_argument("--vocab-size", type=int, metavar="V", help=_size_help("vocab_size", "characters"))
    sizes.add_argument("--cell", choices=tuple(LAYERS), help=_size_help("cell", "the recurrent layer"))
    sizes.add_argument("--nonlinearity", choices=tuple(RNN_GATE_MATH),
                       help=_size_help("nonlinearity", "the activation"))
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the random input")


def model_from(args: argparse.Namespace):
    """The model that MODEL and the size flags describe; a size flag that sizes nothing here is an error."""
    sizes = {}
    for name, (default, models) in SIZES.items():
        value = getattr(args, name)
        if value is not None and args.model not in models:
            given_for = args.model if args.model in explain.MODELS else "a checkpoint, which has its own sizes"
            raise ValueError(f"--{name.replace('_', '-')} does not apply to {given_for}; it sizes {', '.join(models)}")
        sizes[name] = default if value is None else value
    return explain.build_model(args.model, seed=validate.non_negative_int("--seed", args.seed), **sizes)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--brief", action="store_true",
                        help="leave out the lines inside the cell (its gate math), keep the loop around it")
    parser.add_argument("--show-steps", type=int, default=3, metavar="K",
                        help="steps of a longer loop to print: the first K-1 and the last (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    print(explain.explain(model_from(args), args.steps, args.batch, args.seed, args.show_steps, not args.brief))
    return 0
