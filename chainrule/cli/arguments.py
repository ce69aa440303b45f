"""The command line's grammar: the parser, its argument types, and which options were given."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Sequence

DESCRIPTION = """\
chainrule: train a digit classifier, re-score a saved run, or run a PyTorch script on chainrule.

"chainrule train" with no arguments trains a 784-128-64-10 ReLU network on the embedded
Digits data (no download) with a validation split and early stopping, prints the test
accuracy and writes a run folder: weights, a CSV log, plots and summary.json.
"""

RESUME_HELP = """\
resuming a run:
  chainrule train --resume RUN_DIR      continue RUN_DIR (or --resume RUN_DIR/train_state.pt)
  --epochs, --patience, --lr and --data-root may change when resuming; the new values apply
  from the next epoch. A run that stopped early continues when --epochs or --patience is
  raised (with only --epochs raised, early stopping's patience count starts again). Every
  other setting (data, model, optimizer, batch size, seed, validation split) is read from
  the run and must not change.
"""

# Options that may differ from the resumed run's; every other option must stay as it was.
CHANGEABLE_ON_RESUME = ("epochs", "patience", "lr", "data_root")


class UsageError(Exception):
    """Bad arguments, unreadable data or an unwritable run folder: one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        # Abbreviated options would make "which options were given" ambiguous.
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message: str):
        raise UsageError(message)


def _hidden_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden expects comma-separated integers, got {text!r}") from None
    if any(size <= 0 for size in sizes):
        raise argparse.ArgumentTypeError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


def _number(text: str, kind: type, accept: Callable, expected: str):
    """An argparse type: ``kind(text)`` if it is finite and ``accept`` holds, else one line."""
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or not accept(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _fraction(text: str) -> float:
    return _number(text, float, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")


def _positive_int(text: str) -> int:
    return _number(text, int, lambda v: v > 0, "a positive integer")


def _positive_float(text: str) -> float:
    return _number(text, float, lambda v: v > 0, "a finite positive number")


def _non_negative_float(text: str) -> float:
    return _number(text, float, lambda v: v >= 0, "a finite number >= 0")


def _run_folder(text: str) -> str:
    if "{" in text or "}" in text:
        raise argparse.ArgumentTypeError(f"a run folder name cannot contain '{{' or '}}', "
                                         f"got {text!r}")
    return text


def _add_nproc(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nproc", type=_positive_int, default=1, metavar="N",
                        help="run on N ranks (processes) started through mpiexec, each with its "
                             "share of every batch (default: 1)")


def build_parser() -> argparse.ArgumentParser:
    from chainrule.train.recipes import ACTIVATIONS

    parser = _Parser(prog="chainrule", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    train = commands.add_parser(
        "train", help="train a digit classifier and write a run folder",
        description="Train a classifier and write a run folder (weights, log, plots, "
                    "summary.json).", epilog=RESUME_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--dataset", default="digits",
                       help="digits (embedded, the default), mnist, fashion-mnist, or a folder "
                            "of IDX files")
    train.add_argument("--data-root", default=os.environ.get("CHAINRULE_DATA", "data"),
                       help="where mnist/fashion-mnist are stored or downloaded (default: "
                            "$CHAINRULE_DATA or ./data)")
    train.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    train.add_argument("--hidden", type=_hidden_sizes, default=[128, 64],
                       help="hidden layer sizes of the mlp (default: 128,64)")
    train.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu")
    train.add_argument("--dropout", type=_fraction, default=0.0)
    train.add_argument("--optimizer", choices=("sgd", "adam", "adamw", "rmsprop"), default="adam")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help="learning rate (default: 0.1 for sgd, 1e-3 otherwise)")
    train.add_argument("--weight-decay", type=_non_negative_float, default=0.0)
    train.add_argument("--batch-size", type=_positive_int, default=64)
    train.add_argument("--epochs", type=_positive_int, default=15)
    train.add_argument("--patience", type=_positive_int, default=3,
                       help="stop after this many epochs without a better validation loss")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--valid-fraction", type=_fraction, default=0.1)
    train.add_argument("--run-dir", type=_run_folder, default=None,
                       help="where to write the run (default: a new runs/<dataset>-<time>); "
                            "a folder holding a run is refused without --resume or --overwrite")
    train.add_argument("--resume", nargs="?", const="", default=None, metavar="RUN",
                       help="continue a run: its folder or its train_state.pt (default: "
                            "--run-dir); see below")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the run already in --run-dir")
    train.add_argument("--no-progress", action="store_true",
                       help="one plain line per epoch instead of a live progress bar (the "
                            "default when output is not a terminal)")
    _add_nproc(train)
    train.add_argument("--diagnose", action="store_true",
                       help="watch the gradients while training; write grad_flow.png, the "
                            "autograd graph and diagnostics.txt into the run folder")

    evaluate = commands.add_parser("evaluate", help="re-score a saved run on its test set",
                                   description="Re-score a saved run on its test set.")
    evaluate.add_argument("run_dir")

    run = commands.add_parser("run", help="run a PyTorch script with chainrule standing in for torch",
                              description="Run a PyTorch script with chainrule standing in for "
                                          "torch.")
    _add_nproc(run)
    run.add_argument("script")
    run.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def given_options(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The destinations of the options ``argv`` spells out (``--lr 0.1`` or ``--lr=0.1``)."""
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command = subparsers.choices.get(argv[0]) if argv else None
    if command is None:
        return set()
    spelled = {token.split("=", 1)[0] for token in argv[1:] if token.startswith("-")}
    return {action.dest for action in command._actions
            if spelled.intersection(action.option_strings)}
