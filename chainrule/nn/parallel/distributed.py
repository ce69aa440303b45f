"""``DistributedDataParallel``: one model replica per rank, gradients averaged during backward.

Each rank runs the wrapped module on its own share of the batch; ``backward()`` returns with the
gradients averaged over all ranks (see ``chainrule.distributed.reducer``), so identical
optimizer steps keep the replicas identical. The state dict's keys carry the ``module.`` prefix,
as in torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from chainrule.autograd.grad_mode import is_grad_enabled
from chainrule.nn.modules.module import Module

__all__ = ["DistributedDataParallel"]


def broadcast_coalesced(tensors: list, group, src: int = 0) -> None:
    """Broadcast ``tensors`` from group rank ``src`` in one message per dtype."""
    from chainrule.distributed._mpi import mpi
    from chainrule.distributed.work import wait_all

    by_dtype: dict = {}
    for tensor in tensors:
        by_dtype.setdefault(tensor._data.dtype, []).append(tensor)
    for same in by_dtype.values():
        flat = np.concatenate([t._data.reshape(-1) for t in same])
        wait_all(mpi(), [group.comm.Ibcast(flat, root=src)], group.timeout, "broadcast")
        offset = 0
        for tensor in same:
            tensor._data[...] = flat[offset:offset + tensor._data.size].reshape(tensor._data.shape)
            offset += tensor._data.size


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the ranks of ``process_group``.

    At construction the parameters and buffers of rank 0 are copied to every rank; each
    ``forward`` re-broadcasts the buffers (``broadcast_buffers``, when the module has any).
    Gradients are averaged during backward in buckets of ``bucket_cap_mb`` MB; inside
    ``no_sync()`` they only accumulate locally. With ``find_unused_parameters``, parameters that
    did not take part in the forward pass do not stall the reduction. With
    ``gradient_as_bucket_view`` each ``.grad`` is a view into its bucket's flat array, which
    saves the copy of the averages back into ``.grad`` (and the copy in, when gradients
    accumulate in place). ``device_ids``, ``output_device`` and ``static_graph`` are accepted
    and change nothing (CPUs only).
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, init_sync: bool = True, process_group=None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False, delay_all_reduce_named_params=None,
                 param_to_hook_all_reduce=None, mixed_precision=None, device_mesh=None,
                 skip_all_reduce_unused_params: bool = False) -> None:
        from chainrule.distributed.process_group import resolve
        from chainrule.distributed.reducer import Reducer

        super().__init__()
        parameters = [p for p in module.parameters() if p.requires_grad]
        if not parameters:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have "
                               "any parameter that requires a gradient.")
        self.module = module
        self.process_group = resolve(process_group)
        self.device_ids = None
        self.output_device = None
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        self._check_same_model(parameters)
        self.modules_buffers = list(module.buffers())
        self._world_size = self.process_group.size()
        if init_sync:
            broadcast_coalesced([*module.parameters(), *self.modules_buffers], self.process_group)
        self.reducer = Reducer(parameters, self.process_group, self.bucket_bytes_cap,
                               find_unused_parameters, gradient_as_bucket_view)

    def _check_same_model(self, parameters: list) -> None:
        from chainrule.distributed.object_collectives import all_gather_object

        shapes = [[list(p.shape), str(p.dtype)] for p in parameters]
        everyone = [None] * self.process_group.size()
        all_gather_object(everyone, shapes, group=self.process_group)
        for rank, theirs in enumerate(everyone):
            if theirs != shapes:
                raise RuntimeError(
                    f"DDP expects same model across all ranks, but Rank {self.process_group.rank()}"
                    f" has {len(shapes)} params of shapes and dtypes {shapes}, while rank {rank} "
                    f"has {len(theirs)}: {theirs}")

    def forward(self, *inputs, **kwargs):
        self.reducer.prepare_for_forward()
        if self.broadcast_buffers and self.modules_buffers and self._world_size > 1:
            self.modules_buffers = list(self.module.buffers())  # torch's refresh: reassigned ones
            broadcast_coalesced(self.modules_buffers, self.process_group)
        output = self.module(*inputs, **kwargs)
        if self.require_backward_grad_sync and is_grad_enabled():
            self.reducer.prepare_for_backward(output)
        return output

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Within this context, backward only accumulates gradients locally; the first backward
        after it averages the accumulated sums.

        >>> # with ddp.no_sync():
        >>> #     ddp(x1).sum().backward()   # local accumulation
        >>> # ddp(x2).sum().backward()       # all-reduces the sum of both
        """
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous
