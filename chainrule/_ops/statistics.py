"""Reductions that skip NaN (``nansum``, ``nanmean``) or give two results in one pass
(``var_mean``, ``std_mean``, ``aminmax``)."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from chainrule._dtype import is_floating_numpy
from chainrule._ops._util import Tensor, normalize_dim, tensor_method, type_label
from chainrule._ops.reduction import (
    Std,
    Var,
    accumulate_dtype,
    apply_variance_node,
    as_kept,
    reduced_size,
    reduction_dims,
    share_among_ties,
    spread_back,
    variance_array,
)
from chainrule.autograd.function import Function

__all__ = ["nansum", "nanmean", "var_mean", "std_mean", "aminmax"]


class Nansum(Function):
    """The sum with NaN counted as zero, so NaN elements get no gradient."""

    node_name = "NansumBackward0"

    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False, dtype=None):
        data = a._data
        ctx.save_for_backward(a)
        ctx.input_shape, ctx.dims, ctx.keepdim = data.shape, dims, keepdim
        return np.asarray(np.nansum(data, axis=dims, keepdims=keepdim,
                                    dtype=accumulate_dtype(data, dtype)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        spread = spread_back(as_kept(grad, ctx), ctx)
        return spread * ~a.isnan()  # a product, not a choice: a NaN gradient stays NaN, as in torch


@tensor_method()
def nansum(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """``sum`` treating NaN as zero.

    >>> import chainrule as torch
    >>> torch.nansum(torch.tensor([1.0, float("nan"), 2.0]))
    tensor(3.)
    """
    return Nansum.apply(input, dims=reduction_dims(dim, input._data.ndim), keepdim=keepdim,
                        dtype=dtype)


@tensor_method()
def nanmean(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """``mean`` of the elements that are not NaN (NaN where every element is)."""
    if not is_floating_numpy(input._data.dtype) and dtype is None:
        raise RuntimeError("nanmean(): expected input to have floating point or complex dtype but "
                           f"got {type_label(input._data.dtype)}")
    counted = (~input.isnan()).sum(dim, keepdim)
    return nansum(input, dim, keepdim, dtype=dtype) / counted


class VarMean(Function):
    """``(var, mean)`` in one node; each output's gradient is that of ``var`` or ``mean``."""

    node_name = "VarMeanBackward0"
    spread = Var

    @classmethod
    def forward(cls, ctx, a, dims=None, correction=1, keepdim=False):
        data = a._data
        name = "var_mean" if cls.spread is Var else "std_mean"
        rooted = cls.spread is Std
        spread, ctx.divisor = variance_array(data, dims, correction, keepdim, name, root=rooted)
        if rooted:
            ctx.save_for_backward(a, spread)
        else:
            ctx.save_for_backward(a)
        ctx.input_shape, ctx.dims, ctx.keepdim = data.shape, dims, keepdim
        ctx.count = count = reduced_size(data.shape, dims)
        total = np.add.reduce(data, axis=dims, keepdims=keepdim)
        return spread, np.asarray(np.true_divide(total, count), dtype=data.dtype)

    @classmethod
    def backward(cls, ctx, grad_spread, grad_mean):
        grad = cls.spread.backward(ctx, grad_spread)
        return grad + as_kept(grad_mean, ctx) / ctx.count


class StdMean(VarMean):
    node_name = "StdMeanBackward0"
    spread = Std


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None) -> tuple:
    """``(var(input, ...), mean(input, ...))`` computed together."""
    return apply_variance_node(VarMean, input, dim, unbiased, keepdim, correction)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None) -> tuple:
    """``(std(input, ...), mean(input, ...))`` computed together."""
    return apply_variance_node(StdMean, input, dim, unbiased, keepdim, correction)


_aminmax_base = namedtuple("aminmax", ["min", "max"])


class aminmax_return(_aminmax_base):  # noqa: N801 - PyTorch's name
    """``(min, max)``, printed like ``torch.return_types.aminmax``."""

    __slots__ = ()
    __module__ = "torch.return_types"

    def __repr__(self) -> str:
        return f"torch.return_types.aminmax(\nmin={self.min!r},\nmax={self.max!r})"


aminmax_return.__name__ = aminmax_return.__qualname__ = "aminmax"


class Aminmax(Function):
    """``amin`` and ``amax`` in one node; ties share each gradient evenly."""

    node_name = "AminmaxBackward0"

    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False):
        data = a._data
        low = np.asarray(np.min(data, axis=dims, keepdims=keepdim))
        high = np.asarray(np.max(data, axis=dims, keepdims=keepdim))
        ctx.save_for_backward(a, low, high)
        ctx.input_shape, ctx.dims, ctx.keepdim = data.shape, dims, keepdim
        return low, high

    @staticmethod
    def backward(ctx, grad_min, grad_max):
        a, low, high = ctx.saved_tensors
        return share_among_ties(grad_min, a, low, ctx) + share_among_ties(grad_max, a, high, ctx)


@tensor_method()
def aminmax(input, *, dim=None, keepdim=False):
    """``(min, max)`` of all elements, or along the single ``dim``.

    >>> import chainrule as torch
    >>> torch.aminmax(torch.tensor([3, 1, 4]))
    torch.return_types.aminmax(
    min=tensor(1),
    max=tensor(4))
    """
    data = input._data
    if dim is None:
        if data.size == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                               "operation has no identity.")
        dims = None if not keepdim else tuple(range(data.ndim))
    else:
        if not isinstance(dim, (int, np.integer)):
            raise TypeError(f"aminmax(): argument 'dim' must be int, not {type(dim).__name__}")
        axis = normalize_dim(int(dim), data.ndim)
        if data.ndim and data.shape[axis] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {axis} to have non-zero size.")
        dims = (axis,) if data.ndim else None
    return aminmax_return(*Aminmax.apply(input, dims=dims, keepdim=keepdim))
