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

from ..study import explain


def add_model_arguments(parser: argparse.ArgumentParser, steps: int = 3) -> None:
    """MODEL and the flags that size it and its input; minirnn draw takes the same ones."""
    parser.add_argument("model", metavar="MODEL",
                        help=f"one of {', '.join(explain.MODELS)}, or a checkpoint (.npz) written by minirnn train")
    parser.add_argument("--steps", type=int, default=steps, metavar="T", help="time steps to run (default %(default)s)")
    parser.add_argument("--batch", type=int, default=4, metavar="B", help="batch size (default %(default)s)")
    parser.add_argument("--input-size", type=int, default=10, metavar="I",
                        help="rnn, lstm, gru: input features (default %(default)s)")
    parser.add_argument("--hidden-size", type=int, default=20, metavar="H", help="hidden units (default %(default)s)")
    parser.add_argument("--num-layers", type=int, default=1, metavar="L",
                        help="rnn, lstm, gru, charrnn: stacked layers (default %(default)s)")
    parser.add_argument("--emb", type=int, default=42, metavar="F",
                        help="charloop: n_fac; charrnn: embedding size (default %(default)s)")
    parser.add_argument("--vocab-size", type=int, default=60, metavar="V",
                        help="charloop, charrnn: characters in the vocabulary (default %(default)s)")
    parser.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="lstm",
                        help="charrnn: its recurrent layer (default %(default)s)")
    parser.add_argument("--nonlinearity", choices=("tanh", "relu"), default="tanh",
                        help="rnn: the activation (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the random input")


def model_from(args: argparse.Namespace):
    """The model that MODEL and the size flags describe."""
    return explain.build_model(args.model, args.input_size, args.hidden_size, args.num_layers, args.emb,
                               args.vocab_size, args.cell, args.nonlinearity, args.seed)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--brief", action="store_true",
                        help="leave out the lines inside the cell (its gate math), keep the loop around it")
    parser.add_argument("--show-steps", type=int, default=3, metavar="K",
                        help="steps of a longer loop to print: the first K-1 and the last (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    print(explain.explain(model_from(args), args.steps, args.batch, args.seed, args.show_steps, not args.brief))
    return 0
