"""The gradient reducer behind ``DistributedDataParallel``: bucketed all-reduce during backward.

Parameters are grouped, in reverse registration order (roughly the order backward produces
their gradients), into buckets of at most ``bucket_bytes`` bytes; each bucket is one flat array
with a view per parameter. A post-accumulate-grad hook marks a parameter ready once its
``.grad`` is final for this backward; when a bucket's parameters are all ready, their gradients
are divided by the world size on their way into the flat array (one pass, as torch's
``mul_out``) and a non-blocking ``Iallreduce`` sums it in place, while backward goes on
computing the other gradients. Buckets start strictly in order, so every rank issues the same
sequence of collectives. The hook that completes the last bucket waits once for all of them:
when ``backward()`` returns, every rank holds the same averaged gradients.

With ``gradient_as_bucket_view`` each ``.grad`` *is* its view into the flat array, so the
average needs no copy back, and a gradient accumulated in place (no ``zero_grad`` or
``set_to_none=False``) needs no copy in. Without it, the averages are copied into each
``.grad``, which never shares memory with the bucket (torch's semantics).
"""

from __future__ import annotations

import numpy as np

from chainrule._tensor import make_tensor, make_view
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
    """One flat array holding the gradients of ``params`` back to back, and their views."""

    def __init__(self, indices: list[int], params: list) -> None:
        self.indices = indices
        self.params = [params[i] for i in indices]
        sizes = [param.numel() for param in self.params]
        offsets = np.cumsum([0, *sizes]).tolist()
        self.flat = np.empty(offsets[-1], dtype=self.params[0]._data.dtype)
        whole = make_tensor(self.flat)  # the views' ``_base``, as a bucket view's in torch
        self.views = [make_view(whole, self.flat[start:stop].reshape(param._data.shape))
                      for param, start, stop in zip(self.params, offsets, offsets[1:])]
        self.waiting = len(indices)

    def fill(self, scale: float) -> None:
        """Write each gradient times ``scale`` into its view (zeros for a missing gradient)."""
        for param, view in zip(self.params, self.views):
            grad = param._grad
            if grad is None:
                view._data.fill(0)
            else:  # in place when the gradient is the view itself (accumulated into the bucket)
                np.multiply(grad._data, scale, out=view._data, casting="unsafe")

    def write_back(self, as_view: bool, used) -> None:
        """Hand the reduced averages to the ``.grad`` of each parameter used on some rank."""
        for param, view, index in zip(self.params, self.views, self.indices):
            grad = param._grad
            if grad is view:
                continue
            if grad is None:
                if used is None or used[index] > 0:
                    param._grad = view if as_view else make_tensor(view._data.copy())
            elif as_view:
                param._grad = view
            else:
                np.copyto(grad._data, view._data, casting="unsafe")


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
                 find_unused_parameters: bool = False,
                 gradient_as_bucket_view: bool = False) -> None:
        self.MPI = mpi()
        self.params = params
        self.group = group
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.buckets = [_Bucket(indices, params) for indices in _bucket_indices(params, bucket_bytes)]
        self.bucket_of = [None] * len(params)
        for bucket in self.buckets:
            for index in bucket.indices:
                self.bucket_of[index] = bucket
        self.armed = self.started = False
        self.pending_ready: list[bool] = []
        self.used = None
        if gradient_as_bucket_view:  # gradients that exist already move into the buckets now
            for bucket in self.buckets:
                bucket.fill(1.0)
                bucket.write_back(True, [0] * len(params))
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
        self.requests: list = []
        self.next_bucket = 0
        for bucket in self.buckets:
            bucket.waiting = len(bucket.indices)
        if self.find_unused_parameters:
            reached = reachable_leaves(outputs)
            self.used = np.ones(len(self.params))
            for index, param in enumerate(self.params):
                if id(param) not in reached:
                    self.used[index] = 0
                    self._mark_ready(index)

    def _mark_ready(self, index: int) -> None:
        if not self.pending_ready[index]:
            return
        self.pending_ready[index] = False
        bucket = self.bucket_of[index]
        bucket.waiting -= 1
        if bucket.waiting == 0:
            self._launch_ready_buckets()
        elif self.requests:
            self.MPI.Request.Testall(self.requests)  # MPI progresses only when called: nudge it

    def _launch_ready_buckets(self) -> None:
        scale = 1.0 / self.group.size()
        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].waiting == 0:
            bucket = self.buckets[self.next_bucket]
            bucket.fill(scale)
            self.requests.append(
                self.group.comm.Iallreduce(self.MPI.IN_PLACE, bucket.flat, self.MPI.SUM))
            self.next_bucket += 1
        if self.next_bucket == len(self.buckets):
            self._finish()

    def _finish(self) -> None:
        """Wait once for every bucket and hand out the averages (end of backward)."""
        MPI = self.MPI
        if self.find_unused_parameters:
            self.requests.append(self.group.comm.Iallreduce(MPI.IN_PLACE, self.used, MPI.SUM))
        wait_all(MPI, self.requests, self.group.timeout, "DistributedDataParallel's all-reduce")
        self.armed = self.started = False
        for bucket in self.buckets:
            bucket.write_back(self.gradient_as_bucket_view, self.used)

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
