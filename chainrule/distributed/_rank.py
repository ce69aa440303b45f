"""One rank started by ``chainrule.distributed.run``: torchrun's variables, then the script with
chainrule standing in for torch (or, after ``-m``, a module such as ``chainrule`` itself, as
``python -m`` runs it). A failure (an exception, or a non-zero ``sys.exit``) stops every rank
through ``MPI_Abort``."""

from __future__ import annotations

import os
import runpy
import sys

from chainrule.distributed import _liveness, faults
from chainrule.distributed._mpi import mpi


def _torchrun_environment(MPI) -> None:
    world = MPI.COMM_WORLD
    node = world.Split_type(MPI.COMM_TYPE_SHARED)
    os.environ.update(RANK=str(world.Get_rank()), WORLD_SIZE=str(world.Get_size()),
                      LOCAL_RANK=str(node.Get_rank()), LOCAL_WORLD_SIZE=str(node.Get_size()),
                      GROUP_RANK="0", ROLE_RANK=str(world.Get_rank()),
                      ROLE_WORLD_SIZE=str(world.Get_size()))
    node.Free()
    _liveness.announce(world.Get_rank())
    status_dir = os.environ.get(faults.STATUS_DIR)
    if status_dir:
        with open(os.path.join(status_dir, f"pid.{world.Get_rank()}"), "w") as note:
            note.write(str(os.getpid()))


def _run_module(argv: list[str]) -> int:
    """``python -m MODULE ARGS`` in this process; returns its exit status."""
    saved = sys.argv
    sys.argv = list(argv)
    try:
        runpy.run_module(argv[0], run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    finally:
        sys.argv = saved
    return 0


def main(argv: list[str]) -> int:
    from chainrule._torch_shim import main_run

    MPI = mpi()
    _torchrun_environment(MPI)
    faults.install()
    try:
        code = _run_module(argv[1:]) if argv[:1] == ["-m"] else main_run(argv)
    except BaseException:
        faults.abort_world(*sys.exc_info())
        raise
    if code:
        faults.abort_world(SystemExit, SystemExit(f"the script exited with status {code}"), None)
    _liveness.goodbye()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
