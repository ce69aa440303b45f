"""``broadcast_object_list`` and ``all_gather_object``.

Objects travel in chainrule's checkpoint format (``chainrule.save``), not pickle, so receiving
one never runs code: tensors, numbers, strings, ``None`` and lists, tuples and dicts of them.
"""

from __future__ import annotations

import io

import numpy as np

from chainrule.distributed._mpi import mpi
from chainrule.distributed.process_group import resolve
from chainrule.distributed.work import wait_all

__all__ = ["all_gather_object", "broadcast_object_list", "gather_object", "scatter_object_list"]


def _encode(obj) -> np.ndarray:
    from chainrule.serialization import save

    buffer = io.BytesIO()
    save(obj, buffer)
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8)


def _decode(data: np.ndarray):
    from chainrule.serialization import load

    return load(io.BytesIO(data.tobytes()))


def broadcast_object_list(object_list: list, src: int | None = None, group=None, device=None,
                          group_src: int | None = None) -> None:
    """Replace ``object_list``'s items on every rank by those of rank ``src`` (in place)."""
    pg = resolve(group)
    if pg is None:
        return
    MPI = mpi()
    root = pg.peer_rank(src or 0, group_src, "broadcast")
    payload = _encode(list(object_list)) if pg.rank() == root else None
    size = np.array([0 if payload is None else payload.size], dtype=np.int64)
    wait_all(MPI, [pg.comm.Ibcast(size, root=root)], pg.timeout, "broadcast_object_list")
    if payload is None:
        payload = np.empty(int(size[0]), dtype=np.uint8)
    wait_all(MPI, [pg.comm.Ibcast(payload, root=root)], pg.timeout, "broadcast_object_list")
    if pg.rank() != root:
        object_list[:] = _decode(payload)


def all_gather_object(object_list: list, obj, group=None) -> None:
    """Fill ``object_list`` (one slot per rank) with every rank's ``obj``."""
    pg = resolve(group)
    if pg is None:
        return
    if len(object_list) != pg.size():
        raise ValueError(f"all_gather_object: object_list has {len(object_list)} slots but the "
                         f"group has {pg.size()} ranks")
    MPI = mpi()
    payload = _encode(obj)
    sizes = np.empty(pg.size(), dtype=np.int64)
    wait_all(MPI, [pg.comm.Iallgather(np.array([payload.size], dtype=np.int64), sizes)],
             pg.timeout, "all_gather_object")
    gathered = np.empty(int(sizes.sum()), dtype=np.uint8)
    wait_all(MPI, [pg.comm.Iallgatherv(payload, [gathered, sizes])], pg.timeout,
             "all_gather_object")
    _split_into(object_list, gathered, sizes)


def _split_into(object_list: list, gathered: np.ndarray, sizes: np.ndarray) -> None:
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    for index in range(len(sizes)):
        object_list[index] = _decode(gathered[offsets[index]:offsets[index + 1]])


def gather_object(obj, object_gather_list: list | None = None, dst: int | None = None,
                  group=None, group_dst: int | None = None) -> None:
    """Collect every rank's ``obj`` into rank ``dst``'s ``object_gather_list``."""
    pg = resolve(group)
    if pg is None:
        return
    MPI = mpi()
    root = pg.peer_rank(dst or 0, group_dst, "gather")
    payload = _encode(obj)
    sizes = np.empty(pg.size(), dtype=np.int64)
    wait_all(MPI, [pg.comm.Igather(np.array([payload.size], dtype=np.int64), sizes, root=root)],
             pg.timeout, "gather_object")
    if pg.rank() != root:
        wait_all(MPI, [pg.comm.Igatherv(payload, None, root=root)], pg.timeout, "gather_object")
        return
    if object_gather_list is None or len(object_gather_list) != pg.size():
        raise ValueError(f"gather_object: object_gather_list must have one slot per rank "
                         f"({pg.size()}) on the destination rank")
    gathered = np.empty(int(sizes.sum()), dtype=np.uint8)
    wait_all(MPI, [pg.comm.Igatherv(payload, [gathered, sizes], root=root)], pg.timeout,
             "gather_object")
    _split_into(object_gather_list, gathered, sizes)


def scatter_object_list(scatter_object_output_list: list,
                        scatter_object_input_list: list | None = None, src: int | None = None,
                        group=None, group_src: int | None = None) -> None:
    """Rank ``i`` receives ``scatter_object_input_list[i]`` of rank ``src`` into
    ``scatter_object_output_list[0]``."""
    pg = resolve(group)
    if pg is None:
        return
    if not scatter_object_output_list:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at "
                         "least 1.")
    root = pg.peer_rank(src or 0, group_src, "scatter")
    objects = [None] * pg.size()
    if pg.rank() == root:
        if scatter_object_input_list is None or len(scatter_object_input_list) != pg.size():
            raise ValueError(f"scatter_object_list: scatter_object_input_list must have one "
                             f"object per rank ({pg.size()}) on the source rank")
        objects = list(scatter_object_input_list)
    # Every rank receives the whole list: simple, and object lists are small by nature.
    broadcast_object_list(objects, group_src=root, group=group)
    scatter_object_output_list[0] = objects[pg.rank()]
