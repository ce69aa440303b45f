"""The gradient reducer behind ``DistributedDataParallel``: bucketed all-reduce during backward.

Parameters are grouped, in reverse registration order (roughly the order backward produces
their gradients), into flat buckets of at most ``bucket_bytes`` bytes. A post-accumulate-grad
hook marks a parameter ready once its ``.grad`` is final for this backward; when a bucket's
parameters are all ready its gradients are copied into the bucket's flat array and a
non-blocking ``Iallreduce`` starts on it, while backward goes on computing the other gradients.
Buckets start strictly in order, so every rank issues the same sequence of collectives. The
hook that completes the last bucket waits for all of them and writes the averages back into
each ``.grad``: when ``backward()`` returns, every rank holds the same averaged gradients.
"""

from __future__ import annotations

import numpy as np

from chainrule.distributed._mpi import mpi
from chainrule.distributed.process_group import ProcessGroup
from chainrule.distributed.work import wait_all

__all__ = ["Reducer", "reachable_leaves"]

FIRST_BUCKET_BYTES = 1024 * 1024  # torch's first bucket is small too: it starts communicating early

_UNFINISHED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. "
    "This error indicates that your module has parameters that were not used in producing "
    "loss. You can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and by "
    "making sure all `forward` function outputs participate in calculating loss. "
    "Parameter indices which did not receive grad for rank {rank}: {missing}")


class _Bucket:
    def __init__(self, indices: list[int], params: list) -> None:
        self.indices = indices
        sizes = [params[i].numel() for i in indices]
        self.offsets = np.cumsum([0, *sizes]).tolist()
        self.flat = np.empty(self.offsets[-1], dtype=params[indices[0]]._data.dtype)
        self.waiting = len(indices)


def _bucket_indices(params: list, bucket_bytes: int) -> list[list[int]]:
    """Indices of ``params``, last first, cut into buckets of one dtype and at most ``cap`` bytes
    (a parameter larger than that gets a bucket of its own)."""
    buckets: list[list[int]] = [[]]
    size, cap = 0, FIRST_BUCKET_BYTES
    for index in reversed(range(len(params))):
        array = params[index]._data
        current = buckets[-1]
        if current and (size + array.nbytes > cap or params[current[0]]._data.dtype != array.dtype):
            buckets.append([])
            size, cap = 0, bucket_bytes
        buckets[-1].append(index)
        size += array.nbytes
    return buckets


def reachable_leaves(outputs) -> set[int]:
    """The ``id`` of every leaf tensor that the autograd graph of ``outputs`` reaches."""
    from chainrule._tensor import Tensor
    from chainrule.autograd.engine import topological_order

    roots, leaves = [], set()

    def collect(value) -> None:
        if isinstance(value, Tensor):
            if value.grad_fn is not None:
                roots.append(value.grad_fn)
            elif value.requires_grad:
                leaves.add(id(value))
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                collect(item)

    collect(outputs)
    for node in topological_order(roots):
        variable = getattr(node, "variable", None)
        if variable is not None:
            leaves.add(id(variable))
    return leaves


class Reducer:
    """Averages the gradients of ``params`` over ``group`` during each armed backward."""

    def __init__(self, params: list, group: ProcessGroup, bucket_bytes: int,
                 find_unused_parameters: bool = False) -> None:
        self.params = params
        self.group = group
        self.find_unused_parameters = find_unused_parameters
        self.buckets = [_Bucket(indices, params) for indices in _bucket_indices(params, bucket_bytes)]
        self.bucket_of = {}
        for number, bucket in enumerate(self.buckets):
            for index in bucket.indices:
                self.bucket_of[index] = number
        self.armed = self.started = False
        self.handles = [param.register_post_accumulate_grad_hook(self._hook_for(index))
                        for index, param in enumerate(params)]

    def _hook_for(self, index: int):
        def hook(param) -> None:
            if self.armed:
                self.started = True
                self._mark_ready(index)
        return hook

    def prepare_for_forward(self) -> None:
        """Refuse to go on after a backward that left some gradients unreduced; disarm."""
        if self.armed and self.started:
            missing = " ".join(str(i) for i, waiting in enumerate(self.pending_ready) if waiting)
            raise RuntimeError(_UNFINISHED.format(rank=self.group.rank(), missing=missing))
        self.armed = False

    def prepare_for_backward(self, outputs) -> None:
        """Arm the hooks for the backward of ``outputs``; with ``find_unused_parameters``, the
        parameters its graph does not reach are ready (contributing zeros) from the start."""
        self.armed = True
        self.pending_ready = [True] * len(self.params)
        self.used = np.ones(len(self.params))
        self.requests: list = []
        self.next_bucket = 0
        for bucket in self.buckets:
            bucket.waiting = len(bucket.indices)
        if self.find_unused_parameters:
            reached = reachable_leaves(outputs)
            for index, param in enumerate(self.params):
                if id(param) not in reached:
                    self.used[index] = 0
                    self._mark_ready(index)

    def _mark_ready(self, index: int) -> None:
        if not self.pending_ready[index]:
            return
        self.pending_ready[index] = False
        bucket = self.buckets[self.bucket_of[index]]
        bucket.waiting -= 1
        if bucket.waiting == 0:
            self._launch_ready_buckets()
        elif self.requests:
            mpi().Request.Testall(self.requests)  # MPI progresses only when called: nudge it

    def _launch_ready_buckets(self) -> None:
        MPI = mpi()
        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].waiting == 0:
            bucket = self.buckets[self.next_bucket]
            for position, index in enumerate(bucket.indices):
                target = bucket.flat[bucket.offsets[position]:bucket.offsets[position + 1]]
                grad = self.params[index].grad
                if grad is None:
                    target.fill(0)
                else:
                    target[...] = grad._data.reshape(-1)
            self.requests.append(self.group.comm.Iallreduce(MPI.IN_PLACE, bucket.flat, MPI.SUM))
            self.next_bucket += 1
        if self.next_bucket == len(self.buckets):
            self._finish()

    def _finish(self) -> None:
        """Wait for every bucket and write the averaged gradients back (end of backward)."""
        from chainrule._tensor import make_tensor

        MPI = mpi()
        if self.find_unused_parameters:
            self.requests.append(self.group.comm.Iallreduce(MPI.IN_PLACE, self.used, MPI.SUM))
        wait_all(MPI, self.requests, self.group.timeout, "DistributedDataParallel's all-reduce")
        self.armed = self.started = False
        scale = 1.0 / self.group.size()
        for bucket in self.buckets:
            for position, index in enumerate(bucket.indices):
                param = self.params[index]
                total = bucket.flat[bucket.offsets[position]:bucket.offsets[position + 1]]
                if param.grad is not None:  # the average written straight into .grad: one pass
                    np.multiply(total.reshape(param.grad._data.shape), scale,
                                out=param.grad._data, casting="unsafe")
                elif self.used[index] > 0:
                    param.grad = make_tensor(
                        (total * scale).astype(total.dtype, copy=False).reshape(param._data.shape))

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
