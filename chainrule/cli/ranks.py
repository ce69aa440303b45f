"""``chainrule train --nproc N``: every rank trains its share, rank 0 alone claims the run
folder, writes into it and prints; what rank 0 decides, every rank learns."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from chainrule.cli.arguments import UsageError
from chainrule.train.distributed import Ranks, ranks_for

__all__ = ["EXIT_STATUS_FILE", "agreed_exit", "decided_by_rank_zero", "is_rank_zero", "join_ranks"]

T = TypeVar("T")


def _launched() -> tuple[int, int]:
    """``(rank, world size)`` as the launcher (``chainrule.distributed.run``, or a bare
    ``mpiexec``, which sets MPICH's ``PMI_*`` variables) gave them; ``(0, 1)`` unlaunched."""
    for rank, size in (("RANK", "WORLD_SIZE"), ("PMI_RANK", "PMI_SIZE")):
        if int(os.environ.get(size, "1")) > 1:
            return int(os.environ.get(rank, "0")), int(os.environ[size])
    return 0, 1


def is_rank_zero() -> bool:
    """False in the ranks after the first that a launcher started (they stay silent)."""
    return _launched()[0] == 0


def join_ranks() -> Ranks:
    """The ranks this command runs on: a world of one, unless a launcher started several
    (``WORLD_SIZE`` > 1), which then join the default process group."""
    if _launched()[1] <= 1:
        return Ranks()
    from chainrule import distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return ranks_for(None)


def decided_by_rank_zero(ranks: Ranks, decide: Callable[[], T]) -> T:
    """``decide()``, run on rank 0 only; every rank gets its result, or raises its UsageError."""
    if not ranks.distributed:
        return decide()
    from chainrule import distributed as dist

    outcome: list = [None]
    if ranks.is_writer:
        try:
            outcome[0] = (True, decide())
        except UsageError as error:
            outcome[0] = (False, str(error))
    dist.broadcast_object_list(outcome, src=0)
    decided, value = outcome[0]
    if not decided:
        raise UsageError(value)
    return value


EXIT_STATUS_FILE = "CHAINRULE_CLI_EXIT_STATUS"  # set by launch_cli for the ranks it starts


def agreed_exit(status: int) -> int:
    """The exit status for a rank to return. A failure every rank met in step (bad arguments,
    an unusable run folder, divergence) ends each rank normally, and rank 0 leaves ``status``
    for ``launch_cli`` to return: the user reads rank 0's one line, not every rank's abort."""
    path = os.environ.get(EXIT_STATUS_FILE)
    if not status or not path:
        return status
    if is_rank_zero():
        with open(path, "w") as note:
            note.write(str(status))
    return 0
