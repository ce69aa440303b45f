"""Running reductions along a dimension: ``cumsum``, ``cumprod``, ``logcumsumexp``, ``cummax``
and ``cummin``."""

from __future__ import annotations

import numpy as np

from chainrule._dtype import is_floating_numpy
from chainrule._ops._util import Tensor, make_tensor, normalize_dim, tensor_method, type_label
from chainrule._ops.reduction import accumulated, return_type
from chainrule._ops.selection import where
from chainrule._ops.sorting import place_at_indices
from chainrule.autograd.function import Function

__all__ = ["cumsum", "cumprod", "logcumsumexp", "cummax", "cummin"]

cummax_return = return_type("cummax")
cummin_return = return_type("cummin")


class Cumsum(Function):
    node_name = "CumsumBackward0"

    @staticmethod
    def forward(ctx, a, dim=0, dtype=None):
        data = a._data
        ctx.dim = dim
        return accumulated(np.cumsum, data, dtype, axis=dim).reshape(data.shape)

    @staticmethod
    def backward(ctx, grad):
        # Each input element feeds every later output: the gradient is a reversed cumsum.
        return _reversed_cumsum(grad, ctx.dim)


class Cumprod(Function):
    node_name = "CumprodBackward0"

    @staticmethod
    def forward(ctx, a, dim=0, dtype=None):
        data = a._data
        result = accumulated(np.cumprod, data, dtype, axis=dim).reshape(data.shape)
        ctx.save_for_backward(a, result)
        ctx.dim = dim
        return result

    @staticmethod
    def backward(ctx, grad):
        a, result, dim = *ctx.saved_tensors, ctx.dim
        if (a._data != 0).all():
            return _reversed_cumsum(grad * result, dim) / a
        # Only elements up to the first zero of each line get a gradient; the first zero's
        # is computed from the running product with that zero replaced by one.
        zeros_so_far = make_tensor(np.cumsum(a._data == 0, axis=dim))
        before_zero = zeros_so_far == 0
        first_zero = (a == 0) & (zeros_so_far == 1)
        grad_before = _reversed_cumsum(grad * result, dim) / where(before_zero, a, 1.0)
        grad_first = _reversed_cumsum(grad * where(first_zero, 1.0, a).cumprod(dim), dim)
        return where(before_zero, grad_before, where(first_zero, grad_first, 0.0))


def _reversed_cumsum(grad: Tensor, dim: int) -> Tensor:
    """``flip(cumsum(flip(grad)))``: each element's sum with all later ones along ``dim``."""
    return grad.sum(dim, keepdim=True) - grad.cumsum(dim) + grad


@tensor_method()
def cumsum(input, dim, *, dtype=None) -> Tensor:
    """Running sum along ``dim``; integers accumulate in int64."""
    return Cumsum.apply(input, dim=normalize_dim(dim, input._data.ndim), dtype=dtype)


@tensor_method()
def cumprod(input, dim, *, dtype=None) -> Tensor:
    """Running product along ``dim``; integers accumulate in int64."""
    return Cumprod.apply(input, dim=normalize_dim(dim, input._data.ndim), dtype=dtype)


class LogCumSumExp(Function):
    node_name = "LogcumsumexpBackward0"

    @staticmethod
    def forward(ctx, a, dim=0):
        data = a._data
        if not is_floating_numpy(data.dtype):
            raise NotImplementedError(
                f"\"logcumsumexp_out_cpu\" not implemented for '{type_label(data.dtype)}'")
        result = np.logaddexp.accumulate(data, axis=dim) if data.ndim else data.copy()
        ctx.save_for_backward(a, result)
        ctx.dim = dim
        return result

    @staticmethod
    def backward(ctx, grad):
        # d out_j / d x_i = exp(x_i - out_j) for j >= i. Summing grad_j times that in log space,
        # separately for the positive and the negative gradients, never overflows. The log of a
        # missing part is the lowest finite number, not -inf, so the double backward sees no
        # inf - inf (PyTorch's formula).
        a, result = ctx.saved_tensors
        if not a.ndim:
            return grad
        dim = ctx.dim
        lowest = float(np.finfo(grad._data.dtype).min)
        positive = where(grad > 0, grad.abs().log(), lowest)
        negative = where(grad < 0, grad.abs().log(), lowest)
        return (_reversed(positive - result, dim) + a).exp() - (_reversed(negative - result, dim) + a).exp()


def _reversed(x: Tensor, dim: int) -> Tensor:
    """``logcumsumexp`` from the end of ``dim`` backwards."""
    return x.flip(dim).logcumsumexp(dim).flip(dim)


@tensor_method()
def logcumsumexp(input, dim) -> Tensor:
    """``log(cumsum(exp(x)))`` along ``dim``, computed without overflow.

    >>> import chainrule as torch
    >>> torch.logcumsumexp(torch.tensor([0.0, 0.0, 0.0]), 0)
    tensor([0.0000, 0.6931, 1.0986])
    """
    return LogCumSumExp.apply(input, dim=normalize_dim(dim, input._data.ndim))


class CumExtreme(Function):
    """The running maximum (or minimum) and where it was last reached; NaN, once met, stays.
    Each element's gradient is the sum of the gradients of the outputs that picked it."""

    node_name = "CummaxBackward0"

    @staticmethod
    def forward(ctx, a, dim=0, largest=True):
        data = a._data
        ctx.input_shape, ctx.dim = data.shape, dim
        if not data.ndim:
            ctx.indices = np.zeros((), np.int64)
            return data.copy(), ctx.indices
        values = (np.maximum if largest else np.minimum).accumulate(data, axis=dim)
        # An element is picked where it equals the running extreme (ties: the later one wins),
        # and every NaN is picked; each position then points at the last pick so far.
        picked = data == values
        if is_floating_numpy(data.dtype):
            picked |= np.isnan(data)
        positions = np.arange(data.shape[dim]).reshape((-1,) + (1,) * (data.ndim - dim - 1))
        indices = np.maximum.accumulate(np.where(picked, positions, 0), axis=dim)
        ctx.indices = indices
        ctx.mark_non_differentiable(indices)
        return values, indices.astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, grad, grad_indices):
        return place_at_indices(grad, ctx.indices, ctx.dim, ctx.input_shape)


class Cummin(CumExtreme):
    node_name = "CumminBackward0"


@tensor_method()
def cummax(input, dim):
    """``(values, indices)``: the running maximum along ``dim`` and the index it came from."""
    values, indices = CumExtreme.apply(input, dim=normalize_dim(dim, input._data.ndim), largest=True)
    return cummax_return(values, indices)


@tensor_method()
def cummin(input, dim):
    """``(values, indices)``: the running minimum along ``dim`` and the index it came from."""
    values, indices = Cummin.apply(input, dim=normalize_dim(dim, input._data.ndim), largest=False)
    return cummin_return(values, indices)
