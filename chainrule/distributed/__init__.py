"""``torch.distributed`` on MPI: process groups, collectives and point-to-point messages.

The ranks are the processes that ``mpiexec -n N`` (or ``python -m chainrule.distributed.run
--nproc_per_node N``) started; the backends ``"mpi"`` and ``"gloo"`` both run on MPI through
``mpi4py`` (``pip install "chainrule[distributed]"``). Without it this package still imports and
``is_available()`` is False. A single process with no launcher is a world of one:

>>> import chainrule as torch, chainrule.distributed as dist
>>> dist.init_process_group("gloo")
>>> dist.get_rank(), dist.get_world_size(), dist.get_backend()
(0, 1, 'gloo')
>>> t = torch.ones(3)
>>> dist.all_reduce(t)
>>> t
tensor([1., 1., 1.])
>>> dist.destroy_process_group()
"""

from __future__ import annotations

from chainrule.distributed._mpi import mpi4py_installed
from chainrule.distributed.collectives import (
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    all_to_all,
    all_to_all_single,
    barrier,
    broadcast,
    gather,
    irecv,
    isend,
    recv,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
    send,
)
from chainrule.distributed.errors import DistBackendError, DistError, DistNetworkError, DistStoreError
from chainrule.distributed.object_collectives import (
    all_gather_object,
    broadcast_object_list,
    gather_object,
    scatter_object_list,
)
from chainrule.distributed.process_group import (
    GroupMember,
    ProcessGroup,
    destroy_process_group,
    get_backend,
    get_global_rank,
    get_group_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_initialized,
    new_group,
)
from chainrule.distributed.reduce_op import ReduceOp
from chainrule.distributed.work import Work

__all__ = [
    "DistBackendError", "DistError", "DistNetworkError", "DistStoreError", "GroupMember",
    "ProcessGroup", "ReduceOp", "Work", "all_gather", "all_gather_into_tensor",
    "all_gather_object", "all_reduce", "all_to_all", "all_to_all_single", "barrier", "broadcast",
    "broadcast_object_list", "destroy_process_group", "gather", "gather_object", "get_backend",
    "get_global_rank",
    "get_group_rank", "get_process_group_ranks", "get_rank", "get_world_size", "group",
    "init_process_group", "irecv", "is_available", "is_initialized", "isend", "new_group", "recv",
    "reduce", "reduce_scatter", "reduce_scatter_tensor", "scatter", "scatter_object_list", "send",
]


def is_available() -> bool:
    """Whether the distributed package can run here (``mpi4py`` with an MPI is installed)."""
    return mpi4py_installed()
