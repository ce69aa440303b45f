"""Broadcasting made explicit: ``broadcast_to``, ``broadcast_tensors``, ``broadcast_shapes``,
and the grids built from it, ``meshgrid`` and ``cartesian_prod``. Every result is an
``expand`` view, so its gradient is summed back over the broadcast dimensions."""

from __future__ import annotations

import warnings

import numpy as np

from chainrule._ops._util import Tensor, broadcast_error, shape_from_args, tensor_method
from chainrule._ops.shape import expand, stack
from chainrule._size import Size

__all__ = ["broadcast_to", "broadcast_tensors", "broadcast_shapes", "meshgrid", "cartesian_prod"]


@tensor_method()
def broadcast_to(input, size) -> Tensor:
    """``input.expand(size)``: a view with the broadcast shape (``-1`` keeps a size)."""
    return expand(input, shape_from_args((size,)))


def broadcast_shapes(*shapes) -> Size:
    """The shape that tensors of ``shapes`` (ints or sequences) broadcast to.

    >>> import chainrule as torch
    >>> torch.broadcast_shapes((2,), (3, 1), (1, 1, 1))
    torch.Size([1, 3, 2])
    """
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    common = [1] * max((len(s) for s in shapes), default=0)
    for position, shape in enumerate(shapes):
        for index in range(-1, -1 - len(shape), -1):
            if common[index] == 1:
                common[index] = shape[index]
            elif shape[index] not in (1, common[index]):
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {shape[index]} at {index}! "
                    f"Mismatching argument at index {position} had {shape}; but expected shape "
                    f"should be broadcastable to {common}")
    return Size(common)


def broadcast_tensors(*tensors) -> tuple:
    """The tensors expanded to their common shape (those already of that shape as they are)."""
    for position, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {position} in argument 0, but got "
                            f"{type(t).__name__}")
    try:
        shape = np.broadcast_shapes(*(t._data.shape for t in tensors))
    except ValueError as error:
        raise broadcast_error(error, *(t._data for t in tensors)) from None
    return tuple(t if t._data.shape == shape else expand(t, shape) for t in tensors)


_MESHGRID_WARNING = ("torch.meshgrid: in an upcoming release, it will be required to pass the "
                     "indexing argument.")


def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids from 1-D tensors: with ``indexing='ij'`` output ``i`` varies along
    dimension ``i``; ``'xy'`` swaps the first two (matrix vs Cartesian order). Without
    ``indexing``, ``'ij'`` and PyTorch's warning that the argument will become required.

    >>> import chainrule as torch
    >>> xs, ys = torch.meshgrid(torch.tensor([1, 2]), torch.tensor([3, 4, 5]), indexing="xy")
    >>> xs.shape, ys[:, 0]
    (torch.Size([3, 2]), tensor([3, 4, 5]))
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if indexing is None:
        warnings.warn(_MESHGRID_WARNING, UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(
            f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    for t in tensors:
        if t._data.ndim > 1:
            raise RuntimeError(
                "torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: "
                f"{t._data.ndim}-D tensor of shape {list(t._data.shape)}")
        if t._data.dtype != tensors[0]._data.dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    swap = indexing == "xy" and len(tensors) >= 2
    ordered = [tensors[1], tensors[0], *tensors[2:]] if swap else list(tensors)
    sizes = tuple(t._data.size for t in ordered)
    grids = []
    for i, t in enumerate(ordered):
        along = tuple(-1 if d == i else 1 for d in range(len(sizes)))
        grids.append(expand(t.reshape(along), sizes))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def cartesian_prod(*tensors) -> Tensor:
    """Every combination of one element from each 1-D tensor, as rows of an ``(N, k)`` tensor
    (``itertools.product``'s order); a single tensor is returned as it is."""
    for t in tensors:
        if t._data.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t._data.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([g.reshape(-1) for g in grids], dim=1)
