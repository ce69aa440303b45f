"""``softmax`` and ``log_softmax`` along a dimension (``torch.softmax``, ``Tensor.softmax``; the
``F.softmax`` family in ``nn.functional`` calls these ops)."""

from __future__ import annotations

import numpy as np

from chainrule._ops._util import Tensor, check_float_or_raise, normalize_dim, tensor_method
from chainrule.autograd.function import Function
from chainrule.backends.cpu import softmax as cpu_softmax

__all__ = ["softmax", "log_softmax"]


def softmax_operand(input: Tensor, dim: int, dtype, name: str) -> tuple[Tensor, int]:
    """The tensor a softmax runs on (cast to ``dtype`` first) and its normalised ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    check_float_or_raise(input, name if name != "softmax" else "softmax_lastdim_kernel_impl")
    return input, normalize_dim(dim, input.ndim)


def _shifted(x: np.ndarray, dim: int) -> np.ndarray:
    # Subtracting the max makes every exponent <= 0, so exp never overflows.
    if x.ndim == 0:
        return x - x
    return x - x.max(axis=dim, keepdims=True)


def _sum_along(x: np.ndarray, dim: int) -> np.ndarray:
    # A 0-dim tensor takes dim 0 (as in PyTorch); NumPy's sum has no axis there (and the
    # arithmetic on its result gives NumPy scalars, hence the callers' np.asarray). The ufunc's
    # own reduce: ndarray.sum's Python wrapper costs a fifth of a small row's sum.
    return np.add.reduce(x, axis=dim if x.ndim else None, keepdims=True)


class Softmax(Function):
    node_name = "SoftmaxBackward0"

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        exps = np.exp(_shifted(a._data, dim))
        result = exps / exps.sum(axis=dim, keepdims=True) if exps.ndim else exps
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        weighted = grad * result
        return weighted - result * weighted.sum(ctx.dim, keepdim=True), None

    @staticmethod
    def backward_arrays(ctx, grad):
        result = ctx.saved_tensors[0]._data
        weighted = grad * result
        return np.asarray(weighted - result * _sum_along(weighted, ctx.dim)), None


class LogSoftmax(Function):
    node_name = "LogSoftmaxBackward0"

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        # One matrix along its rows: the compiled kernel, at any size.
        result = cpu_softmax.log_softmax(a._data) if dim == 1 else None
        if result is None:
            shifted = _shifted(a._data, dim)
            result = shifted if shifted.ndim == 0 else (
                shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True)))
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad - result.exp() * grad.sum(ctx.dim, keepdim=True), None

    @staticmethod
    def backward_arrays(ctx, grad):
        result = ctx.saved_tensors[0]._data
        return np.asarray(grad - np.exp(result) * _sum_along(grad, ctx.dim)), None


@tensor_method()
def softmax(input, dim: int, dtype=None) -> Tensor:
    """``exp(x) / exp(x).sum(dim)``, computed stably (the max is subtracted first).

    >>> import chainrule as torch
    >>> torch.tensor([1.0, 1.0]).softmax(0)
    tensor([0.5000, 0.5000])
    """
    return Softmax.apply(*softmax_operand(input, dim, dtype, "softmax"))


@tensor_method()
def log_softmax(input, dim: int, dtype=None) -> Tensor:
    """``log(softmax(x))`` in one stable step (never ``log(0)`` for large logits)."""
    return LogSoftmax.apply(*softmax_operand(input, dim, dtype, "log_softmax"))
