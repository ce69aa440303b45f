"""Reductions (``sum``, ``mean``, ...) and ``sum_to_size``, the engine's broadcasting reduction."""

from __future__ import annotations

import numpy as np

from chainrule._dtype import to_dtype
from chainrule._ops._util import Tensor, normalize_dims, shape_from_args, tensor_method
from chainrule.autograd.function import Function


def _kept_shape(shape: tuple, dims: tuple | None) -> tuple:
    """``shape`` with the reduced ``dims`` set to 1 (all of them when ``dims`` is None)."""
    if dims is None:
        return (1,) * len(shape)
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _accumulate_dtype(data: np.ndarray, dtype):
    if dtype is not None:
        return to_dtype(dtype).numpy
    return np.int64 if data.dtype.kind in "iub" else None


class Sum(Function):
    node_name = "SumBackward0"

    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False, dtype=None):
        data = a._data
        ctx.input_shape = data.shape
        ctx.dims = dims
        ctx.keepdim = keepdim
        return np.sum(data, axis=dims, keepdims=keepdim, dtype=_accumulate_dtype(data, dtype))

    @staticmethod
    def backward(ctx, grad):
        if not ctx.keepdim:
            grad = grad.reshape(_kept_shape(ctx.input_shape, ctx.dims))
        return grad.expand(ctx.input_shape)


class SumDim(Sum):
    node_name = "SumBackward1"


class Mean(Function):
    node_name = "MeanBackward0"

    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False, dtype=None):
        data = a._data
        if dtype is None and data.dtype.kind != "f":
            raise RuntimeError(
                "mean(): could not infer output dtype. Input dtype must be either a floating point "
                f"or complex dtype. Got: {_label(data)}")
        ctx.input_shape = data.shape
        ctx.dims = dims
        ctx.keepdim = keepdim
        ctx.count = data.size if dims is None else int(np.prod([data.shape[d] for d in dims]))
        out_dtype = to_dtype(dtype).numpy if dtype is not None else data.dtype
        return np.mean(data, axis=dims, keepdims=keepdim, dtype=out_dtype)

    @staticmethod
    def backward(ctx, grad):
        if not ctx.keepdim:
            grad = grad.reshape(_kept_shape(ctx.input_shape, ctx.dims))
        return grad.expand(ctx.input_shape) / ctx.count if ctx.count else grad.expand(ctx.input_shape) * 0


class MeanDim(Mean):
    node_name = "MeanBackward1"


def _label(data) -> str:
    from chainrule._ops._util import _type_label

    return _type_label(data.dtype)


class SumToSize(Function):
    """Sum the broadcast dimensions of a tensor away, leaving ``shape`` (the adjoint of ``expand``)."""

    node_name = "SumBackward1"

    @staticmethod
    def forward(ctx, a, shape=()):
        data = a._data
        ctx.input_shape = data.shape
        lead = data.ndim - len(shape)
        dims = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(shape) if s == 1 and data.shape[lead + i] != 1)
        return np.sum(data, axis=dims, keepdims=True).reshape(shape) if dims else data.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.expand(ctx.input_shape)


@tensor_method()
def sum(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Sum of all elements, or over ``dim`` (an int or a tuple of ints).

    >>> import chainrule as torch
    >>> torch.tensor([[1, 2], [3, 4]]).sum(dim=0)
    tensor([4, 6])
    """
    dims = normalize_dims(dim, input._data.ndim)
    if dim is None:
        return Sum.apply(input, dtype=dtype)
    return SumDim.apply(input, dims=dims, keepdim=keepdim, dtype=dtype)


@tensor_method()
def mean(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Mean of all elements, or over ``dim``."""
    dims = normalize_dims(dim, input._data.ndim)
    if dim is None:
        return Mean.apply(input, dtype=dtype)
    return MeanDim.apply(input, dims=dims, keepdim=keepdim, dtype=dtype)


@tensor_method()
def sum_to_size(self, *size) -> Tensor:
    """Sum dimensions so the result has shape ``size`` (which must broadcast to this shape)."""
    shape = shape_from_args(size)
    data_shape = self._data.shape
    if shape == data_shape:
        return self
    lead = len(data_shape) - len(shape)
    if lead < 0 or any(s != 1 and s != data_shape[lead + i] for i, s in enumerate(shape)):
        raise RuntimeError(f"size {{{list(shape)}}} is not expandable to size {{{list(data_shape)}}}.")
    return SumToSize.apply(self, shape=shape)
