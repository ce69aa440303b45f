"""Rearranging elements: ``ravel``, ``repeat_interleave``, ``rot90``, ``atleast_1d/2d/3d``,
``dstack`` and ``column_stack``, composed from the shape ops (except ``rot90``, which
PyTorch records as one node)."""

from __future__ import annotations

import numpy as np

from chainrule._ops._util import Tensor, make_tensor, normalize_dim, tensor_method
from chainrule._ops.indexing import index_select
from chainrule._ops.shape import cat, hstack
from chainrule.autograd.function import Function

__all__ = ["ravel", "repeat_interleave", "rot90", "atleast_1d", "atleast_2d", "atleast_3d",
           "dstack", "column_stack"]


@tensor_method()
def ravel(input) -> Tensor:
    """The elements as a 1-D tensor (a view when ``input`` is contiguous, else a copy)."""
    return input.contiguous().view(-1)


@tensor_method()
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Repeat each element (or slice along ``dim``) ``repeats`` times in place, unlike
    ``repeat`` which tiles the whole tensor; ``repeats`` may give one count per element.
    With only a tensor of counts, the indices ``0, 1, ...`` each repeated that often.

    >>> import chainrule as torch
    >>> torch.tensor([1, 2]).repeat_interleave(2)
    tensor([1, 1, 2, 2])
    """
    if repeats is None:
        counts = _counts(input)
        return make_tensor(np.repeat(np.arange(counts.size), counts).astype(np.int64))
    if dim is None:
        input, dim = input.reshape(-1), 0
    else:
        dim = normalize_dim(dim, input._data.ndim)
    size = input._data.shape[dim] if input._data.ndim else 1
    if isinstance(repeats, Tensor):
        counts = _counts(repeats)
        if counts.size == 1:
            counts = np.full(size, counts[0])
        if counts.size != size:
            raise RuntimeError(
                "repeats must have the same size as input along dim, but got repeats.size(0) = "
                f"{counts.size} and input.size({dim}) = {size}")
        return index_select(input, dim, make_tensor(np.repeat(np.arange(size), counts)))
    if repeats < 0:
        raise RuntimeError("Repeats must be non-negative")
    shape = list(input._data.shape)
    spread = input.unsqueeze(dim + 1)
    spread = spread.expand(shape[:dim + 1] + [int(repeats)] + shape[dim + 1:])
    shape[dim] *= int(repeats)
    # PyTorch copies the expanded view and views the copy: the node is ViewBackward0.
    return spread.contiguous().view(shape)


def _counts(repeats: Tensor) -> np.ndarray:
    counts = repeats._data
    if counts.ndim > 1:
        raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    return counts.reshape(-1)


class Rot90(Function):
    node_name = "Rot90Backward0"

    @staticmethod
    def forward(ctx, a, k=1, dims=(0, 1)):
        ctx.k, ctx.dims = k, dims
        return np.rot90(a._data, k, dims).copy()

    @staticmethod
    def backward(ctx, grad):
        return Rot90.apply(grad, k=-ctx.k, dims=ctx.dims)


@tensor_method()
def rot90(input, k=1, dims=(0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first axis
    towards the second (a copy)."""
    dims = list(dims)
    ndim = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {ndim}")
    first, second = (normalize_dim(d, ndim) for d in dims)
    if first == second:
        raise RuntimeError(
            f"expected rotation dims to be different, but got dim0 = {first} and dim1 = {second}")
    return Rot90.apply(input, k=int(k) % 4, dims=(first, second))


def _at_least(ndim: int, tensors: tuple):
    """``atleast_{ndim}d`` of one tensor, or of each of several (given separately or as a
    sequence), as PyTorch: a vector becomes a row, a matrix gains a trailing dimension."""
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    if len(tensors) == 1 and not single:
        tensors = tuple(tensors[0])
    results = []
    for t in tensors:
        have = t._data.ndim
        if have >= ndim:
            results.append(t)
        elif have == 0:
            results.append(t.reshape((1,) * ndim))
        else:
            grown = t.unsqueeze(0) if have == 1 else t
            results.append(grown.unsqueeze(-1) if ndim == 3 else grown)
    return results[0] if single else tuple(results)


def atleast_1d(*tensors):
    """Each tensor with at least one dimension (0-d becomes shape ``(1,)``)."""
    return _at_least(1, tensors)


def atleast_2d(*tensors):
    """Each tensor with at least two dimensions (a vector becomes a row)."""
    return _at_least(2, tensors)


def atleast_3d(*tensors):
    """Each tensor with at least three dimensions (``(n,)`` -> ``(1, n, 1)``, ``(m, n)`` ->
    ``(m, n, 1)``)."""
    return _at_least(3, tensors)


def dstack(tensors) -> Tensor:
    """Join along the third dimension (depth), after ``atleast_3d``."""
    return cat(atleast_3d(tuple(tensors)), 2)


def column_stack(tensors) -> Tensor:
    """Join as columns: vectors (and 0-d tensors) become columns, matrices are joined as they are."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("column_stack expects a non-empty TensorList")
    return hstack([t.reshape(t._data.size, 1) if t._data.ndim <= 1 else t for t in tensors])
