"""One failing rank stops every rank: an uncaught exception says which rank failed, in one line,
and calls ``MPI.COMM_WORLD.Abort``, which makes ``mpiexec`` end all the others at once (instead
of leaving them blocked forever in their next collective)."""

from __future__ import annotations

import os
import sys
import time
import traceback

__all__ = ["abort_world", "failure_line", "install", "uninstall"]

STATUS_DIR = "CHAINRULE_DISTRIBUTED_STATUS_DIR"  # set by the launcher: ranks leave notes there
_previous_hook = None
_aborting = False


def failure_line(rank: int, size: int, error: BaseException) -> str:
    first_line = next((line for line in str(error).splitlines() if line.strip()), "")
    message = f"{type(error).__name__}: {first_line.strip()}" if first_line else type(error).__name__
    return f"chainrule.distributed: rank {rank} of {size} failed with {message}; stopping every rank"


def abort_world(kind, error, trace) -> None:
    """Print the traceback and the one-line verdict, leave a note for the launcher, abort MPI."""
    from chainrule.distributed._mpi import mpi

    global _aborting
    if _aborting:
        return
    _aborting = True
    traceback.print_exception(kind, error, trace)
    world = mpi().COMM_WORLD
    line = failure_line(world.Get_rank(), world.Get_size(), error)
    print(line, file=sys.stderr, flush=True)
    status_dir = os.environ.get(STATUS_DIR)
    if status_dir:
        with open(os.path.join(status_dir, f"failed.{world.Get_rank()}"), "w") as note:
            note.write(line)
    time.sleep(0.2)  # let mpiexec forward this rank's last output before it ends every rank
    world.Abort(1)
    os._exit(1)  # Abort asks mpiexec to end every rank; this one must not run on meanwhile


def _abort_hook(kind, error, trace) -> None:
    abort_world(kind, error, trace)


def install() -> None:
    """Make an uncaught exception abort every rank (idempotent)."""
    global _previous_hook
    if sys.excepthook is not _abort_hook:
        _previous_hook = sys.excepthook
        sys.excepthook = _abort_hook


def uninstall() -> None:
    global _previous_hook
    if sys.excepthook is _abort_hook:
        sys.excepthook = _previous_hook or sys.__excepthook__
        _previous_hook = None
_aborting = False
