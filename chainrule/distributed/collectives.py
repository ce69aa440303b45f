"""The tensor collectives and point-to-point operations of ``torch.distributed`` on MPI.

Each call starts MPI's non-blocking operation directly on the tensor's NumPy array (no copy
when the tensor is contiguous; ``all_reduce`` reduces in place with ``MPI.IN_PLACE``) and either
returns its ``Work`` (``async_op=True``) or waits for it. Ranks given as ``src``/``dst`` are
global ranks, as in torch; a rank outside ``group`` returns None without communicating.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from chainrule.distributed._mpi import mpi
from chainrule.distributed.process_group import ProcessGroup, resolve
from chainrule.distributed.reduce_op import ReduceOp, mpi_op
from chainrule.distributed.work import Work

__all__ = [
    "all_gather", "all_gather_into_tensor", "all_reduce", "all_to_all", "all_to_all_single",
    "barrier", "broadcast", "gather", "irecv", "isend", "recv", "reduce", "reduce_scatter",
    "reduce_scatter_tensor", "scatter", "send",
]


def _buffer(tensor) -> tuple[np.ndarray, Callable[[], None] | None]:
    """The tensor's own array when MPI can use it in place (booleans seen as bytes), else a
    contiguous copy and the step that copies the result back."""
    array = tensor._data
    if array.flags.c_contiguous and array.flags.writeable:
        return (array.view(np.uint8) if array.dtype == bool else array), None
    staged = np.ascontiguousarray(array)
    return (staged.view(np.uint8) if array.dtype == bool else staged), \
        lambda: np.copyto(array, staged)


def _average(array: np.ndarray, op, size: int) -> Callable[[], None] | None:
    if op != ReduceOp.AVG:
        return None
    return lambda: np.divide(array, size, out=array, casting="unsafe")


def _finish(pg: ProcessGroup, what: str, requests: list, steps: list, async_op: bool,
            result: list, statuses: list | None = None) -> Work | None:
    """Wrap started ``requests`` in a ``Work``; wait for it unless ``async_op``."""
    def complete() -> None:
        for step in steps:
            if step is not None:
                step()

    work = Work(mpi(), requests, pg.timeout, f"{pg.backend_class()}::{what}", complete, result,
                statuses)
    if async_op:
        return work
    work.wait()
    return None


def _check_like(pg: ProcessGroup, what: str, tensors: list, like, count: int, name: str) -> None:
    """``tensors`` must be ``count`` tensors of ``like``'s shape and dtype."""
    if len(tensors) != count:
        raise RuntimeError(f"{pg.backend_class()}::{what}: {name} has {len(tensors)} tensors, "
                           f"expected {count} (one per rank)")
    for index, tensor in enumerate(tensors):
        if tensor.shape != like.shape:
            raise RuntimeError(
                f"{pg.backend_class()}::{what}: invalid tensor size at index {index} (expected "
                f"({', '.join(map(str, like.shape))}), got ({', '.join(map(str, tensor.shape))}))")
        if tensor.dtype != like.dtype:
            raise RuntimeError(f"{pg.backend_class()}::{what}: invalid tensor type at index "
                               f"{index} (expected {like.dtype}, got {tensor.dtype})")


def _is_root(pg: ProcessGroup, root: int, what: str, tensors: list | None, like, name: str,
             role: str) -> bool:
    """Whether this rank is ``root``; ``tensors`` (``gather_list``, ``scatter_list``) must be
    given there, one per rank, and nowhere else."""
    if pg.rank() != root:
        if tensors:
            raise ValueError(f"Argument ``{name}`` must NOT be specified on non-{role} ranks.")
        return False
    if tensors is None:
        raise ValueError(f"Argument ``{name}`` must be specified on {role} rank.")
    _check_like(pg, what, tensors, like, pg.size(), name)
    return True


def _unstack_into(tensors: list, stacked: np.ndarray) -> Callable[[], None]:
    def copy() -> None:
        for tensor, part in zip(tensors, stacked):
            np.copyto(tensor._data, part.reshape(tensor._data.shape))
    return copy


def all_reduce(tensor, op=ReduceOp.SUM, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Combine ``tensor`` across ranks with ``op``; every rank receives the result in place.

    >>> import chainrule as torch, chainrule.distributed as dist
    >>> dist.init_process_group("gloo")  # a world of one process
    >>> t = torch.tensor([1.0, 2.0])
    >>> dist.all_reduce(t, op=dist.ReduceOp.MAX)
    >>> t
    tensor([1., 2.])
    >>> dist.destroy_process_group()
    """
    pg = resolve(group)
    if pg is None:
        return None
    MPI = mpi()
    array, copy_back = _buffer(tensor)
    mpi_reduction = mpi_op(MPI, op, tensor._data.dtype)
    request = pg.comm.Iallreduce(MPI.IN_PLACE, array, mpi_reduction)
    return _finish(pg, "allreduce", [request], [_average(array, op, pg.size()), copy_back],
                   async_op, [tensor])


def broadcast(tensor, src: int | None = None, group: ProcessGroup | None = None,
              async_op: bool = False, group_src: int | None = None) -> Work | None:
    """Copy rank ``src``'s ``tensor`` into every other rank's ``tensor``."""
    pg = resolve(group)
    if pg is None:
        return None
    root = pg.peer_rank(src or 0, group_src, "broadcast")
    array, copy_back = _buffer(tensor)
    return _finish(pg, "broadcast", [pg.comm.Ibcast(array, root=root)], [copy_back], async_op,
                   [tensor])


def reduce(tensor, dst: int | None = None, op=ReduceOp.SUM, group: ProcessGroup | None = None,
           async_op: bool = False, group_dst: int | None = None) -> Work | None:
    """Combine ``tensor`` across ranks with ``op`` into rank ``dst``'s ``tensor``."""
    pg = resolve(group)
    if pg is None:
        return None
    MPI = mpi()
    root = pg.peer_rank(dst or 0, group_dst, "reduce")
    array, copy_back = _buffer(tensor)
    mpi_reduction = mpi_op(MPI, op, tensor._data.dtype)
    if pg.rank() == root:
        request = pg.comm.Ireduce(MPI.IN_PLACE, array, mpi_reduction, root=root)
        steps = [_average(array, op, pg.size()), copy_back]
    else:
        request = pg.comm.Ireduce(array, None, mpi_reduction, root=root)
        steps = []
    return _finish(pg, "reduce", [request], steps, async_op, [tensor])


def all_gather(tensor_list: list, tensor, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Fill ``tensor_list[i]`` with rank ``i``'s ``tensor`` on every rank."""
    pg = resolve(group)
    if pg is None:
        return None
    _check_like(pg, "allgather", tensor_list, tensor, pg.size(), "tensor_list")
    array, _ = _buffer(tensor)
    stacked = np.empty((pg.size(), *array.shape), dtype=array.dtype)
    request = pg.comm.Iallgather(array, stacked)
    return _finish(pg, "allgather", [request], [_unstack_into(tensor_list, stacked)], async_op,
                   tensor_list)


def all_gather_into_tensor(output_tensor, input_tensor, group: ProcessGroup | None = None,
                           async_op: bool = False) -> Work | None:
    """Gather every rank's ``input_tensor`` into ``output_tensor``, concatenated (``(W*N, ...)``)
    or stacked (``(W, N, ...)``), straight into its memory."""
    pg = resolve(group)
    if pg is None:
        return None
    if output_tensor.numel() != pg.size() * input_tensor.numel() or \
            output_tensor.dtype != input_tensor.dtype:
        raise RuntimeError(
            f"{pg.backend_class()}::_allgather_base: output tensor size must be equal to "
            f"world_size times input tensor size (output {tuple(output_tensor.shape)} "
            f"{output_tensor.dtype}, input {tuple(input_tensor.shape)} {input_tensor.dtype}, "
            f"world_size {pg.size()})")
    source, _ = _buffer(input_tensor)
    target, copy_back = _buffer(output_tensor)
    request = pg.comm.Iallgather(source, target)
    return _finish(pg, "_allgather_base", [request], [copy_back], async_op, [output_tensor])


def gather(tensor, gather_list: list | None = None, dst: int | None = None,
           group: ProcessGroup | None = None, async_op: bool = False,
           group_dst: int | None = None) -> Work | None:
    """Collect every rank's ``tensor`` into rank ``dst``'s ``gather_list``."""
    pg = resolve(group)
    if pg is None:
        return None
    root = pg.peer_rank(dst or 0, group_dst, "gather")
    array, _ = _buffer(tensor)
    if not _is_root(pg, root, "gather", gather_list, tensor, "gather_list", "destination"):
        return _finish(pg, "gather", [pg.comm.Igather(array, None, root=root)], [], async_op, [])
    stacked = np.empty((pg.size(), *array.shape), dtype=array.dtype)
    request = pg.comm.Igather(array, stacked, root=root)
    return _finish(pg, "gather", [request], [_unstack_into(gather_list, stacked)], async_op,
                   gather_list)


def scatter(tensor, scatter_list: list | None = None, src: int | None = None,
            group: ProcessGroup | None = None, async_op: bool = False,
            group_src: int | None = None) -> Work | None:
    """Send ``scatter_list[i]`` of rank ``src`` into rank ``i``'s ``tensor``."""
    pg = resolve(group)
    if pg is None:
        return None
    root = pg.peer_rank(src or 0, group_src, "scatter")
    array, copy_back = _buffer(tensor)
    if _is_root(pg, root, "scatter", scatter_list, tensor, "scatter_list", "source"):
        request = pg.comm.Iscatter(np.stack([part._data for part in scatter_list]), array, root=root)
    else:
        request = pg.comm.Iscatter(None, array, root=root)
    return _finish(pg, "scatter", [request], [copy_back], async_op, [tensor])


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group: ProcessGroup | None = None,
                          async_op: bool = False) -> Work | None:
    """Reduce ``input`` (``W`` equal blocks along its first dimension) across ranks with ``op``;
    rank ``i`` receives block ``i`` in ``output``."""
    pg = resolve(group)
    if pg is None:
        return None
    if input.numel() != pg.size() * output.numel() or input.dtype != output.dtype:
        raise RuntimeError(
            f"{pg.backend_class()}::_reduce_scatter_base: input tensor must be the same size as "
            f"output size times world size (input {tuple(input.shape)} {input.dtype}, output "
            f"{tuple(output.shape)} {output.dtype}, world_size {pg.size()})")
    MPI = mpi()
    source, _ = _buffer(input)
    target, copy_back = _buffer(output)
    request = pg.comm.Ireduce_scatter_block(source, target, mpi_op(MPI, op, input._data.dtype))
    return _finish(pg, "_reduce_scatter_base", [request],
                   [_average(target, op, pg.size()), copy_back], async_op, [output])


def reduce_scatter(output, input_list: list, op=ReduceOp.SUM, group: ProcessGroup | None = None,
                   async_op: bool = False) -> Work | None:
    """Reduce ``input_list[i]`` across ranks with ``op`` into rank ``i``'s ``output``."""
    pg = resolve(group)
    if pg is None:
        return None
    _check_like(pg, "reduce_scatter", input_list, output, pg.size(), "input_list")
    MPI = mpi()
    target, copy_back = _buffer(output)
    stacked = np.stack([_buffer(part)[0] for part in input_list])
    request = pg.comm.Ireduce_scatter_block(stacked, target, mpi_op(MPI, op, output._data.dtype))
    return _finish(pg, "reduce_scatter", [request], [_average(target, op, pg.size()), copy_back],
                   async_op, [output])


def _split_counts(tensor, splits: list[int] | None, size: int, name: str) -> tuple[list, list]:
    """Element counts and offsets of ``tensor``'s blocks along dim 0 (equal blocks for None)."""
    rows = tensor.shape[0] if tensor.dim() else 1
    if splits is None:
        if rows % size:
            raise ValueError(f"all_to_all_single: {name} has {rows} rows, which {size} ranks "
                             f"cannot split equally: pass the split sizes")
        splits = [rows // size] * size
    if len(splits) != size or sum(splits) != rows:
        raise ValueError(f"all_to_all_single: {name} split sizes {list(splits)} must be {size} "
                         f"numbers adding up to its {rows} rows")
    row = tensor.numel() // rows if rows else 0
    counts = [split * row for split in splits]
    return counts, np.cumsum([0, *counts[:-1]]).tolist()


def all_to_all_single(output, input, output_split_sizes: list[int] | None = None,
                      input_split_sizes: list[int] | None = None,
                      group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Send block ``i`` of ``input`` (along dim 0) to rank ``i``; rank ``i``'s block arrives as
    block ``i`` of ``output``, straight in its memory."""
    pg = resolve(group)
    if pg is None:
        return None
    if output.dtype != input.dtype:
        raise RuntimeError(f"{pg.backend_class()}::alltoall_base: output is {output.dtype} but "
                           f"input is {input.dtype}")
    send_counts, send_offsets = _split_counts(input, input_split_sizes, pg.size(), "input")
    receive_counts, receive_offsets = _split_counts(output, output_split_sizes, pg.size(),
                                                    "output")
    source, _ = _buffer(input)
    target, copy_back = _buffer(output)
    request = pg.comm.Ialltoallv([source, (send_counts, send_offsets)],
                                 [target, (receive_counts, receive_offsets)])
    return _finish(pg, "alltoall_base", [request], [copy_back], async_op, [output])


def all_to_all(output_tensor_list: list, input_tensor_list: list,
               group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Send ``input_tensor_list[i]`` to rank ``i``; receive rank ``i``'s into
    ``output_tensor_list[i]``. Sizes may differ between pairs; the dtype may not."""
    pg = resolve(group)
    if pg is None:
        return None
    for name, tensors in (("output_tensor_list", output_tensor_list),
                          ("input_tensor_list", input_tensor_list)):
        if len(tensors) != pg.size():
            raise RuntimeError(f"{pg.backend_class()}::alltoall: {name} has {len(tensors)} "
                               f"tensors, expected {pg.size()} (one per rank)")
    dtypes = {t.dtype for t in [*output_tensor_list, *input_tensor_list]}
    if len(dtypes) != 1:
        raise RuntimeError(f"{pg.backend_class()}::alltoall: tensors must share one dtype, "
                           f"got {sorted(map(str, dtypes))}")
    send = np.concatenate([t._data.reshape(-1) for t in input_tensor_list])
    send_counts = [t.numel() for t in input_tensor_list]
    receive_counts = [t.numel() for t in output_tensor_list]
    received = np.empty(sum(receive_counts), dtype=send.dtype)
    request = pg.comm.Ialltoallv([send, send_counts], [received, receive_counts])
    offsets = np.cumsum([0, *receive_counts])

    def unpack() -> None:
        for tensor, start, stop in zip(output_tensor_list, offsets[:-1], offsets[1:]):
            np.copyto(tensor._data, received[start:stop].reshape(tensor._data.shape))

    return _finish(pg, "alltoall", [request], [unpack], async_op, output_tensor_list)


def barrier(group: ProcessGroup | None = None, async_op: bool = False,
            device_ids=None) -> Work | None:
    """Wait until every rank of ``group`` reached this call."""
    pg = resolve(group)
    if pg is None:
        return None
    return _finish(pg, "barrier", [pg.comm.Ibarrier()], [], async_op, [])


def isend(tensor, dst: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
          group_dst: int | None = None) -> Work | None:
    """Start sending ``tensor`` to rank ``dst``."""
    pg = resolve(group)
    if pg is None:
        return None
    peer = pg.peer_rank(dst, group_dst, "send", "destination")
    if peer == pg.rank():
        raise ValueError("Invalid destination rank: destination rank should not be the same as "
                         "the rank of the current process.")
    array, _ = _buffer(tensor)
    return _finish(pg, "send", [pg.comm.Isend(array, dest=peer, tag=tag)], [], True, [tensor])


def irecv(tensor, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
          group_src: int | None = None) -> Work | None:
    """Start receiving into ``tensor`` from rank ``src`` (any rank for None)."""
    return _receive(tensor, src, group, tag, group_src)[0]


def _receive(tensor, src, group, tag, group_src):
    pg = resolve(group)
    if pg is None:
        return None, None, None
    MPI = mpi()
    if group_src is not None:
        peer = group_src
    else:
        peer = MPI.ANY_SOURCE if src is None else pg.group_rank(src, "recv", "source")
    array, copy_back = _buffer(tensor)
    status = MPI.Status()
    request = pg.comm.Irecv(array, source=peer, tag=tag)
    work = _finish(pg, "recv", [request], [copy_back], True, [tensor], [status])
    return work, status, pg


def send(tensor, dst: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
         group_dst: int | None = None) -> None:
    """Send ``tensor`` to rank ``dst`` and wait until it is on its way."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(tensor, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
         group_src: int | None = None) -> int:
    """Receive into ``tensor`` from rank ``src`` (any rank for None); returns the sender's
    global rank, or -1 when this rank is not in ``group``."""
    work, status, pg = _receive(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    work.wait()
    return pg.ranks[status.Get_source()]
