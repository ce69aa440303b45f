"""The command line's grammar: the parser, its argument types, and which options were given."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Sequence

DESCRIPTION = """\
chainrule: train a digit classifier or a character-level GPT, re-score a saved run, or run a
PyTorch script on chainrule.

"chainrule train" with no arguments trains a 784-128-64-10 ReLU network on the embedded
Digits data (no download) with a validation split and early stopping, prints the test
accuracy and writes a run folder: weights, a CSV log, plots and summary.json.
"chainrule train --model gpt [--data FILE.txt]" trains nanoGPT's model on a text file (the
shipped tiny Shakespeare by default) and adds samples.txt, text the model wrote.
"""

GPT_HELP = """\
training a character-level GPT (--model gpt):
  trains for --max-steps steps of --batch-size random windows of --block-size characters
  with AdamW (betas 0.9, 0.99); every --eval-interval steps it prints and logs the training
  loss and a validation loss estimated on 20 random batches. summary.json's val_loss is the
  exact loss over the whole validation split, the number "chainrule evaluate" reports.
  --dropout, --lr, --weight-decay, --seed and --valid-fraction apply; the classifier's
  options (--dataset, --hidden, --epochs, --patience, ...), --resume and --nproc do not.
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
# Options only one kind of model takes; giving one to the other kind is refused.
GPT_ONLY = ("data", "block_size", "n_layer", "n_head", "n_embd", "max_steps", "eval_interval")
CLASSIFIER_ONLY = ("dataset", "data_root", "hidden", "activation", "epochs", "patience", "resume",
                   "nproc", "diagnose")
# Defaults that depend on the model: (classifiers, gpt).
MODEL_DEFAULTS = {"batch_size": (64, 12), "weight_decay": (0.0, 0.1)}


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


def _add_gpt_options(train: argparse.ArgumentParser) -> None:
    gpt = train.add_argument_group("options of --model gpt")
    gpt.add_argument("--data", default=None, metavar="FILE.txt",
                     help="a UTF-8 text file (default: the shipped tiny_shakespeare.txt)")
    gpt.add_argument("--block-size", type=_positive_int, default=64,
                     help="characters of context (default: 64)")
    gpt.add_argument("--n-layer", type=_positive_int, default=4, help="blocks (default: 4)")
    gpt.add_argument("--n-head", type=_positive_int, default=4,
                     help="attention heads; must divide --n-embd (default: 4)")
    gpt.add_argument("--n-embd", type=_positive_int, default=128, help="width (default: 128)")
    gpt.add_argument("--max-steps", type=_positive_int, default=1000,
                     help="training steps (default: 1000)")
    gpt.add_argument("--eval-interval", type=_positive_int, default=250,
                     help="steps between validation estimates and progress lines (default: 250)")


def check_model_options(args: argparse.Namespace, given: set[str]) -> None:
    """Refuse options the chosen model does not take, and fill in the model's defaults."""
    is_gpt = args.model == "gpt"
    if is_gpt and "resume" in given:
        raise UsageError("--model gpt does not take --resume: gpt runs cannot be resumed; "
                         "start a new run")
    foreign = [key for key in (CLASSIFIER_ONLY if is_gpt else GPT_ONLY) if key in given]
    if foreign:
        options = ", ".join("--" + key.replace("_", "-") for key in foreign)
        raise UsageError(f"--model {args.model} does not take {options}")
    if is_gpt and args.optimizer != "adamw" and "optimizer" in given:
        raise UsageError(f"--model gpt trains with AdamW, not --optimizer {args.optimizer}")
    if is_gpt and args.n_embd % args.n_head:
        raise UsageError(f"--n-embd {args.n_embd} is not divisible by --n-head {args.n_head}")
    for key, defaults in MODEL_DEFAULTS.items():
        if getattr(args, key) is None and args.resume is None:
            setattr(args, key, defaults[is_gpt])


def build_parser() -> argparse.ArgumentParser:
    from chainrule.train.recipes import ACTIVATIONS

    parser = _Parser(prog="chainrule", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    train = commands.add_parser(
        "train", help="train a digit classifier and write a run folder",
        description="Train a classifier or a character-level GPT and write a run folder "
                    "(weights, log, plots, summary.json).", epilog=RESUME_HELP + "\n" + GPT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--dataset", default="digits",
                       help="digits (embedded, the default), mnist, fashion-mnist, or a folder "
                            "of IDX files")
    train.add_argument("--data-root", default=os.environ.get("CHAINRULE_DATA", "data"),
                       help="where mnist/fashion-mnist are stored or downloaded (default: "
                            "$CHAINRULE_DATA or ./data)")
    train.add_argument("--model", choices=("mlp", "cnn", "gpt"), default="mlp")
    train.add_argument("--hidden", type=_hidden_sizes, default=[128, 64],
                       help="hidden layer sizes of the mlp (default: 128,64)")
    train.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu")
    train.add_argument("--dropout", type=_fraction, default=0.0)
    train.add_argument("--optimizer", choices=("sgd", "adam", "adamw", "rmsprop"), default="adam")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help="learning rate (default: 0.1 for sgd, 1e-3 otherwise)")
    train.add_argument("--weight-decay", type=_non_negative_float, default=None,
                       help="(default: 0, or 0.1 for gpt)")
    train.add_argument("--batch-size", type=_positive_int, default=None,
                       help="(default: 64, or 12 for gpt)")
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

    _add_gpt_options(train)

    evaluate = commands.add_parser("evaluate", help="re-score a saved run on its test set",
                                   description="Re-score a saved run on its test set (a gpt "
                                               "run: its exact validation loss).")
    evaluate.add_argument("run_dir")

    run = commands.add_parser("run", help="run a PyTorch script with chainrule standing in for torch",
                              description="Run a PyTorch script with chainrule standing in for "
                                          "torch.")
    _add_nproc(run)
    run.add_argument("--cuda-as-cpu", action="store_true",
                     help="accept cuda and cuda:N devices as the CPU and make "
                          "torch.cuda.set_device do nothing, for scripts that insist on a GPU "
                          "(torch.cuda.is_available() stays False)")
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
