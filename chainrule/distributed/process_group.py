"""Process groups on MPI: ``init_process_group``, ``new_group`` and the rank queries.

The world is the one ``mpiexec`` started (``MPI.COMM_WORLD``); torchrun's variables (``RANK``,
``WORLD_SIZE``), when set, must agree with it. A lone process with none of them is a world of
one. Each group holds its own duplicate communicator, so a user's own MPI traffic never mixes
with the collectives'.
"""

from __future__ import annotations

import os
from datetime import timedelta

from chainrule.distributed import faults
from chainrule.distributed._mpi import mpi
from chainrule.distributed.work import wait_all

__all__ = [
    "GroupMember", "ProcessGroup", "destroy_process_group", "get_backend", "get_global_rank",
    "get_group_rank", "get_process_group_ranks", "get_rank", "get_world_size", "group",
    "init_process_group", "is_initialized", "new_group",
]

DEFAULT_TIMEOUT = timedelta(minutes=30)
_BACKENDS = ("mpi", "gloo")
_NOT_INITIALIZED = ("Default process group has not been initialized, please make sure to call "
                    "init_process_group.")


class ProcessGroup:
    """A set of ranks with a communicator; ``ranks[i]`` is the global rank of group rank ``i``."""

    def __init__(self, comm, ranks: list[int], backend: str, timeout: timedelta) -> None:
        self.comm = comm
        self.ranks = ranks
        self.backend = backend
        self.timeout = timeout.total_seconds()

    def rank(self) -> int:
        return self.comm.Get_rank()

    def size(self) -> int:
        return self.comm.Get_size()

    def group_rank(self, global_rank: int, op: str, role: str = "root") -> int:
        """The group rank of ``global_rank``, or torch's RuntimeError for a rank outside it."""
        if global_rank not in self.ranks:
            raise RuntimeError(f"{self.backend_class()}::{op}: invalid {role} rank: {global_rank}")
        return self.ranks.index(global_rank)

    def peer_rank(self, global_rank: int | None, group_rank: int | None, op: str,
                  role: str = "root") -> int:
        """``group_rank`` when given (torch's ``group_src``/``group_dst``), else the group rank
        of ``global_rank``."""
        return group_rank if group_rank is not None else self.group_rank(global_rank, op, role)

    def backend_class(self) -> str:
        return "ProcessGroupMPI" if self.backend == "mpi" else "ProcessGroupGloo"


class GroupMember:
    """``GroupMember.WORLD`` is the default group; ``NON_GROUP_MEMBER`` stands for a group
    this rank is not in."""

    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = object()


class group:  # noqa: N801 - torch's name
    WORLD: ProcessGroup | None = None


def _set_world(pg: ProcessGroup | None) -> None:
    GroupMember.WORLD = pg
    _group_namespace.WORLD = pg


_group_namespace = group  # the class, reachable where a parameter named ``group`` hides it


_groups: list[ProcessGroup] = []


def is_initialized() -> bool:
    """Whether ``init_process_group`` was called (and not destroyed since)."""
    return GroupMember.WORLD is not None


def _world() -> ProcessGroup:
    if GroupMember.WORLD is None:
        raise ValueError(_NOT_INITIALIZED)
    return GroupMember.WORLD


def resolve(group: ProcessGroup | None) -> ProcessGroup | None:
    """The group a call works on (the world for None), or None when this rank is not in it."""
    world = _world()
    if group is None:
        return world
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    return group


def _check_backend(backend: str | None) -> str:
    if backend is None:
        return "undefined"
    name = str(backend).lower()
    if "nccl" in name:
        raise RuntimeError("Distributed package doesn't have NCCL built in: chainrule runs on "
                           "CPUs, use backend='gloo' or 'mpi' (both run on MPI)")
    for part in name.split(","):
        device, _, kind = part.rpartition(":")
        if kind not in _BACKENDS or device not in ("", "cpu"):
            raise AssertionError(f"Unknown backend type {backend}")
    return name


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"Error initializing torch.distributed using env:// rendezvous: "
                         f"environment variable {name} is not an integer: {value!r}") from None


def _resolve_world(world_size: int, rank: int, mpi_size: int, mpi_rank: int) -> None:
    """Check the asked-for world against the processes MPI started."""
    size = world_size if world_size != -1 else _env_int("WORLD_SIZE")
    size = mpi_size if size is None else size
    wanted_rank = rank if rank != -1 else _env_int("RANK")
    wanted_rank = mpi_rank if wanted_rank is None else wanted_rank
    if size != mpi_size:
        if mpi_size == 1:
            raise RuntimeError(
                f"world_size {size} needs {size} processes started together by MPI: run "
                f"`mpiexec -n {size} python SCRIPT.py` or `python -m chainrule.distributed.run "
                f"--nproc_per_node {size} SCRIPT.py`")
        raise ValueError(f"world_size={size} does not match the {mpi_size} processes that "
                         f"mpiexec started")
    if not 0 <= wanted_rank < size:
        raise ValueError(f"rank {wanted_rank} is out of range for world_size {size}")
    if wanted_rank != mpi_rank:
        raise ValueError(f"rank={wanted_rank} does not match this process's MPI rank {mpi_rank}")


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: timedelta | None = None, world_size: int = -1, rank: int = -1,
                       store=None, group_name: str = "", pg_options=None, device_id=None) -> None:
    """Join the default process group of every rank that ``mpiexec`` started.

    ``backend`` is ``"mpi"`` or ``"gloo"`` (both run on MPI); ``init_method`` and ``store`` are
    accepted for compatibility, MPI already knows the world. Returns once every rank has joined,
    or raises ``DistBackendError`` after ``timeout`` (default 30 minutes).
    """
    if is_initialized():
        raise ValueError("trying to initialize the default process group twice!")
    name = _check_backend(backend)
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    MPI = mpi()
    world = MPI.COMM_WORLD
    _resolve_world(world_size, rank, world.Get_size(), world.Get_rank())
    if world.Get_size() > 1:  # a world of one has nobody to stop (and may be an interactive session)
        faults.install()
    comm = world.Dup()
    wait_all(MPI, [comm.Ibarrier()], timeout.total_seconds(), "init_process_group's barrier")
    pg = ProcessGroup(comm, list(range(comm.Get_size())), name, timeout)
    _groups.append(pg)
    _set_world(pg)


def new_group(ranks: list[int] | None = None, timeout: timedelta | None = None,
              backend: str | None = None, pg_options=None, use_local_synchronization: bool = False,
              group_desc: str | None = None, device_id=None):
    """A group of ``ranks`` (all ranks for None); every rank of the world must call it.

    Ranks outside the group get ``GroupMember.NON_GROUP_MEMBER``.
    """
    world = _world()
    members = sorted(set(range(world.size()) if ranks is None else ranks))
    for member in members:
        if not 0 <= member < world.size():
            raise ValueError(f"Invalid rank {member} for new_group: the world has "
                             f"{world.size()} ranks")
    comm = world.comm.Create(world.comm.Get_group().Incl(members))
    if comm == mpi().COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    name = world.backend if backend is None else _check_backend(backend)
    pg = ProcessGroup(comm, members, name, timeout or timedelta(seconds=world.timeout))
    _groups.append(pg)
    return pg


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Free ``group``'s communicator; with None, every group and the default one."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return
    everything = group is None or group is GroupMember.WORLD
    if everything and not is_initialized():
        raise ValueError(_NOT_INITIALIZED)
    for pg in list(_groups) if everything else [group]:
        pg.comm.Free()
        _groups.remove(pg)
    if everything:
        _set_world(None)
        faults.uninstall()


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in ``group`` (the world by default); -1 outside the group."""
    pg = resolve(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    """The number of ranks in ``group``; -1 when this rank is not in it."""
    pg = resolve(group)
    return -1 if pg is None else pg.size()


def get_backend(group: ProcessGroup | None = None) -> str:
    """The backend name given to ``init_process_group`` (``"undefined"`` when none was)."""
    pg = resolve(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return pg.backend


def get_process_group_ranks(group: ProcessGroup | None) -> list[int]:
    """The global ranks of ``group``'s members, in group-rank order."""
    pg = resolve(group)
    return list(pg.ranks) if pg is not None else []


def get_global_rank(group: ProcessGroup | None, group_rank: int) -> int:
    pg = resolve(group)
    if pg is None or not 0 <= group_rank < len(pg.ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {group}")
    return pg.ranks[group_rank]


def get_group_rank(group: ProcessGroup | None, global_rank: int) -> int:
    pg = resolve(group)
    if pg is None or global_rank not in pg.ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return pg.ranks.index(global_rank)
