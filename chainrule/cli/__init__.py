"""The ``chainrule`` command: ``train`` a classifier or a GPT, ``evaluate`` a saved run, ``run``
a script.

One module per command (``train``, ``train_gpt``, ``evaluate``) and per concern (``arguments``, ``data``,
``run_folder``, ``resume``, ``model_check``, ``outputs``); ``main`` dispatches.

>>> main(["--no-such-option"])
2
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from chainrule._allocator import keep_freed_memory
from chainrule.cli.arguments import UsageError, build_parser, check_model_options, given_options
from chainrule.cli.ranks import agreed_exit, is_rank_zero

__all__ = ["main", "UsageError"]


def _run(args) -> int:
    from chainrule._torch_shim import main_run

    result = main_run([args.script, *args.args], cuda_as_cpu=args.cuda_as_cpu)
    return result if isinstance(result, int) else 0


def _launch(nproc: int, argv: list[str]) -> int:
    """The same command on ``nproc`` ranks (mpiexec's processes); its exit status."""
    from chainrule.distributed.run import launch_cli

    try:
        return launch_cli(nproc, argv)
    except FileNotFoundError as error:  # no mpiexec: the message names the pip command
        raise UsageError(f"--nproc {nproc}: {error}") from error


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit code: 0 on success, 2 for bad arguments,
    unreadable data or an unwritable run folder, 1 when training diverged, 130 on Ctrl-C."""
    from chainrule.cli.evaluate import evaluate
    from chainrule.cli.train import train
    from chainrule.cli.train_gpt import train_gpt

    argv = list(sys.argv[1:] if argv is None else argv)
    keep_freed_memory()  # a training program opts in to what `import chainrule` leaves alone
    try:
        if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
            argv = ["train", *argv]  # bare options configure the default command
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command == "run" and not os.path.isfile(args.script):
            raise UsageError(f"run: no such script {args.script!r}")
        given = given_options(parser, argv)
        if args.command == "train":
            check_model_options(args, given)
        if getattr(args, "nproc", 1) > 1:
            return _launch(args.nproc, argv)
        if args.command == "train" and args.model == "gpt":
            return train_gpt(args)
        if args.command == "train":
            return agreed_exit(train(args, given))
        return {"evaluate": evaluate, "run": _run}[args.command](args)
    except UsageError as error:
        message = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
        if is_rank_zero():  # every rank meets the same error: one line is enough
            print(f"chainrule: error: {message}", file=sys.stderr)
        return agreed_exit(2)
    except KeyboardInterrupt:  # before or after training (train handles Ctrl-C during it)
        print("chainrule: interrupted", file=sys.stderr)
        return 130
