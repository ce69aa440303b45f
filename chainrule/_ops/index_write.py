"""Writing into selected places: ``index_fill`` (a value at given indices along a dim) and
``masked_scatter`` (a source's elements, in order, where a mask is True)."""

from __future__ import annotations

import numpy as np

from chainrule._ops._util import Tensor, make_tensor, normalize_dim, tensor_method, type_label
from chainrule._ops.indexing import IndexPut
from chainrule._ops.inplace import apply_inplace
from chainrule._ops.shape import cat
from chainrule.autograd.function import Function

__all__ = ["index_fill", "masked_scatter"]


class IndexFill(IndexPut):
    """A copy with ``value`` written at the indices; the filled places get no gradient."""

    node_name = "IndexFillBackward0"


class IndexFillTensor(IndexPut):
    """``index_fill`` with a 0-d tensor value, which receives the filled places' gradient."""

    node_name = "IndexFillBackward1"


def _fill_key(shape: tuple, dim: int, index) -> tuple:
    """The key of the slices ``index`` (each once: a repeated index fills, and counts, once)."""
    if not isinstance(index, Tensor) or index._data.dtype != np.int64:
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    positions = index._data
    if positions.ndim > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    if not shape:
        return () if positions.size else (np.zeros(0, np.int64),)
    size = shape[dim]
    for i in positions.reshape(-1):
        if not -size <= i < size:
            raise IndexError(f"index {i} is out of bounds for dimension {dim} with size {size}")
    return (slice(None),) * dim + (np.unique(positions.reshape(-1) % size),)


@tensor_method()
def index_fill(input, dim, index, value) -> Tensor:
    """A copy of ``input`` with ``value`` (a number or 0-d tensor) in the slices ``index``
    along ``dim``.

    >>> import chainrule as torch
    >>> torch.zeros(2, 3).index_fill(1, torch.tensor([0, 2]), 1.0)
    tensor([[1., 0., 1.],
            [1., 0., 1.]])
    """
    ndim = input._data.ndim
    dim = normalize_dim(dim, ndim)
    key = _fill_key(input._data.shape, dim, index)
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(
                "index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                f"{value._data.ndim} dimension(s).")
        return IndexFillTensor.apply(input, value, key=key)
    return IndexFill.apply(input, value, key=key)


@tensor_method()
def index_fill_(self, dim, index, value) -> Tensor:
    """In-place ``index_fill``."""
    return apply_inplace(self, index_fill, (dim, index, value), None, "index_fill_")


class MaskedScatter(Function):
    """A copy of ``input`` whose places under ``mask`` take ``source``'s first elements, in
    row-major order; the gradient of ``source`` is the gradient at those places."""

    node_name = "MaskedScatterBackward0"

    @staticmethod
    def forward(ctx, a, source, mask=None):
        shape = np.broadcast_shapes(a._data.shape, mask.shape)
        mask = np.broadcast_to(mask, shape)
        count = int(mask.sum())
        if source._data.size < count:
            raise RuntimeError("Number of elements of source < number of ones in mask")
        out = np.broadcast_to(a._data, shape).copy()
        out[mask] = source._data.reshape(-1)[:count]
        ctx.mask, ctx.count, ctx.source_shape = mask, count, source._data.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        need_a, need_source = ctx.needs_input_grad
        mask = make_tensor(np.ascontiguousarray(ctx.mask))
        grad_a = grad.masked_fill(mask, 0) if need_a else None
        grad_source = None
        if need_source:
            picked = grad[mask]
            rest = int(np.prod(ctx.source_shape)) - ctx.count
            grad_source = cat([picked, make_tensor(np.zeros(rest, grad._data.dtype))])
            grad_source = grad_source.reshape(ctx.source_shape)
        return grad_a, grad_source


@tensor_method()
def masked_scatter(input, mask, source) -> Tensor:
    """A copy of ``input`` with ``source``'s elements, in order, where ``mask`` (broadcast) is True."""
    data = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if data.dtype != np.bool_:
        raise RuntimeError("masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{type_label(data.dtype)}")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError("masked_scatter: expected self and source to have same dtypes but got"
                           f"{type_label(input._data.dtype)} and {type_label(source._data.dtype)}")
    return MaskedScatter.apply(input, source, mask=data)


@tensor_method()
def masked_scatter_(self, mask, source) -> Tensor:
    """In-place ``masked_scatter`` (``mask`` broadcasts to ``self``'s shape)."""
    return apply_inplace(self, masked_scatter, (mask, source), None, "masked_scatter_")
