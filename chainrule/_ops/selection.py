"""Choosing between values elementwise: ``where``, ``maximum``/``minimum`` and ``clamp``.

Each gradient flows to the operand whose value was chosen; where ``maximum``
and ``minimum`` tie, it is split evenly between both, as in PyTorch.
"""

from __future__ import annotations

import operator

import numpy as np

from chainrule._dtype import result_type
from chainrule._ops._elementwise import _SavesOperands
from chainrule._ops._util import (
    CPP_TYPE_NAMES,
    Tensor,
    binary_arrays,
    broadcast_error,
    make_tensor,
    tensor_method,
    type_label,
)
from chainrule._ops.inplace import apply_inplace
from chainrule.autograd.function import Function

__all__ = ["where", "maximum", "minimum", "clamp", "clip", "clamp_min", "clamp_max", "clamp_",
           "clip_", "clamp_min_", "clamp_max_", "lerp"]


class Where(Function):
    node_name = "WhereBackward0"

    @staticmethod
    def forward(ctx, condition, a, b):
        x, y = binary_arrays(a, b)
        ctx.condition = condition
        try:
            result = np.where(condition, x, y)
        except ValueError as error:
            raise broadcast_error(error, condition, x, y) from None
        if type(x) is not np.ndarray and type(y) is not np.ndarray:
            result = result.astype(result_type(a, b).numpy, copy=False)
        return result

    @staticmethod
    def backward(ctx, grad):
        need_a, need_b = ctx.needs_input_grad[1:]
        chosen = make_tensor(ctx.condition)
        grad_a = where(chosen, grad, 0.0) if need_a else None
        grad_b = where(chosen, 0.0, grad) if need_b else None
        return None, grad_a, grad_b


@tensor_method("where")
def _where_method(self, condition, other) -> Tensor:
    return where(condition, self, other)


def where(condition, input=None, other=None) -> Tensor | tuple:
    """``input`` where ``condition`` is true, else ``other`` (either may be a number).

    With only ``condition``, the indices of its true elements (like ``nonzero(as_tuple=True)``).

    >>> import chainrule as torch
    >>> torch.where(torch.tensor([True, False]), torch.tensor([1.0, 2.0]), 0.0)
    tensor([1., 0.])
    """
    mask = condition._data
    if mask.dtype != np.bool_:
        raise RuntimeError(
            "where expected condition to be a boolean tensor, but got a tensor with dtype "
            f"{type_label(mask.dtype)}")
    if input is None and other is None:
        return tuple(make_tensor(i.astype(np.int64, copy=False)) for i in np.nonzero(mask))
    return Where.apply(mask, input, other)


class _Extremum(_SavesOperands):
    """The larger (or smaller) of two operands: the gradient goes to the one chosen, split
    evenly on ties. ``a_chosen(a, b)`` says where ``a`` wins outright."""

    a_chosen: staticmethod

    @classmethod
    def backward(cls, ctx, grad):
        a, b = ctx.saved_tensors
        return _split_by_choice(grad, cls.a_chosen(a, b), a == b, ctx.needs_input_grad)


class Maximum(_Extremum):
    node_name, ufunc, a_chosen = "MaximumBackward0", np.maximum, staticmethod(operator.gt)


class Minimum(_Extremum):
    node_name, ufunc, a_chosen = "MinimumBackward0", np.minimum, staticmethod(operator.lt)


def _split_by_choice(grad, a_chosen, tie, needs) -> tuple:
    half = grad / 2
    grad_a = where(a_chosen, grad, where(tie, half, 0.0)) if needs[0] else None
    grad_b = where(a_chosen, 0.0, where(tie, half, grad)) if needs[1] else None
    return grad_a, grad_b


def check_tensor_operand(op: str, other) -> None:
    """PyTorch's TypeError where a binary op's ``other`` must be a tensor."""
    if not isinstance(other, Tensor):
        raise TypeError(
            f"{op}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}")


@tensor_method()
def maximum(input, other) -> Tensor:
    """Elementwise maximum of two tensors, broadcasting (NaN propagates)."""
    check_tensor_operand("maximum", other)
    return Maximum.apply(input, other)


@tensor_method()
def minimum(input, other) -> Tensor:
    """Elementwise minimum of two tensors, broadcasting (NaN propagates)."""
    check_tensor_operand("minimum", other)
    return Minimum.apply(input, other)


def _clamp_array(a: Tensor, low, high) -> np.ndarray:
    target = result_type(*(v for v in (a, low, high) if v is not None)).numpy
    data = a._data if a._data.dtype == target else a._data.astype(target)
    low = low._data if isinstance(low, Tensor) else low
    high = high._data if isinstance(high, Tensor) else high
    # np.clip gives ``high`` wherever low > high, which is PyTorch's rule too.
    try:
        return np.clip(data, low, high).astype(target, copy=False)  # bfloat16 with a float
    except ValueError as error:
        raise broadcast_error(error, data, low, high) from None


class ClampNumbers(Function):
    """``clamp`` with number bounds: the gradient passes where ``min <= x <= max``."""

    node_name = "ClampBackward1"

    @staticmethod
    def forward(ctx, a, low=None, high=None):
        ctx.save_for_backward(a)
        ctx.bounds = (low, high)
        return _clamp_array(a, low, high)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        low, high = ctx.bounds
        inside = _inside(a, low, high)
        return where(inside, grad, 0.0)


def _inside(a: Tensor, low, high) -> Tensor:
    if low is None:
        return a <= high
    if high is None:
        return a >= low
    return (a >= low) & (a <= high)


class ClampMin(ClampNumbers):
    node_name = "ClampMinBackward0"


class ClampMax(ClampNumbers):
    node_name = "ClampMaxBackward0"


class ClampTensors(Function):
    """``clamp`` with tensor bounds, which receive the gradient where they were chosen."""

    node_name = "ClampBackward0"

    @staticmethod
    def forward(ctx, a, low, high):
        ctx.save_for_backward(a, low, high)
        return _clamp_array(a, low, high)

    @staticmethod
    def backward(ctx, grad):
        a, low, high = ctx.saved_tensors
        need_a, need_low, need_high = ctx.needs_input_grad
        grad_a = where(_inside(a, low, high), grad, 0.0) if need_a else None
        grad_low = grad_high = None
        if need_low:
            chosen = a < low if high is None else (a < low) & (low < high)
            grad_low = where(chosen, grad, 0.0)
        if need_high:
            chosen = a > high if low is None else (a > high) | (high < low)
            grad_high = where(chosen, grad, 0.0)
        return grad_a, grad_low, grad_high


class ClampMinTensor(ClampTensors):
    node_name = "ClampMinBackward1"


class ClampMaxTensor(ClampTensors):
    node_name = "ClampMaxBackward1"


@tensor_method("clamp", "clip")
def clamp(input, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Limit each element to ``[min, max]`` (numbers, or tensors that broadcast).

    >>> import chainrule as torch
    >>> torch.clamp(torch.tensor([-2.0, 0.5, 3.0]), min=0.0, max=1.0)
    tensor([0.0000, 0.5000, 1.0000])
    """
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    tensors = [isinstance(v, Tensor) for v in (min, max) if v is not None]
    if any(tensors):
        if not all(tensors):
            kinds = ", ".join("Tensor" if isinstance(v, Tensor) else type(v).__name__
                              for v in (input, min, max))
            raise TypeError(f"clamp() received an invalid combination of arguments - got ({kinds})")
        return ClampTensors.apply(input, min, max)
    return ClampNumbers.apply(input, low=min, high=max)


clip = clamp


@tensor_method()
def clamp_min(input, min) -> Tensor:  # noqa: A002
    """``clamp(input, min=min)``."""
    if isinstance(min, Tensor):
        return ClampMinTensor.apply(input, min, None)
    return ClampMin.apply(input, low=min)


@tensor_method()
def clamp_max(input, max) -> Tensor:  # noqa: A002
    """``clamp(input, max=max)``."""
    if isinstance(max, Tensor):
        return ClampMaxTensor.apply(input, None, max)
    return ClampMax.apply(input, high=max)


@tensor_method("clamp_", "clip_")
def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002
    """In-place ``clamp``."""
    return apply_inplace(self, clamp, (min, max), None, "clamp_")


clip_ = clamp_


@tensor_method()
def clamp_min_(self, min) -> Tensor:  # noqa: A002
    """In-place ``clamp_min``."""
    return apply_inplace(self, clamp_min, (min,), None, "clamp_min_")


@tensor_method()
def clamp_max_(self, max) -> Tensor:  # noqa: A002
    """In-place ``clamp_max``."""
    return apply_inplace(self, clamp_max, (max,), None, "clamp_max_")


class Lerp(Function):
    """``input + weight * (end - input)`` with a number ``weight``."""

    node_name = "LerpBackward0"

    @staticmethod
    def forward(ctx, a, end, weight=0.5):
        ctx.weight = weight
        x, y = a._data, end._data
        return x + weight * (y - x)

    @staticmethod
    def backward(ctx, grad):
        weight = ctx.weight
        return grad * (1 - weight), grad * weight


class LerpTensor(Function):
    node_name = "LerpBackward1"

    @staticmethod
    def forward(ctx, a, end, weight):
        ctx.save_for_backward(a, end, weight)
        x, y = a._data, end._data
        return x + weight._data * (y - x)

    @staticmethod
    def backward(ctx, grad):
        a, end, weight = ctx.saved_tensors
        need_a, need_end, need_weight = ctx.needs_input_grad
        return (grad * (1 - weight) if need_a else None, grad * weight if need_end else None,
                grad * (end - a) if need_weight else None)




@tensor_method()
def lerp(input, end, weight) -> Tensor:
    """Linear interpolation ``input + weight * (end - input)``; ``weight`` is a number or tensor."""
    for label, other in (("end", end), ("weight", weight)):
        if isinstance(other, Tensor) and other._data.dtype != input._data.dtype:
            raise RuntimeError(
                f"expected dtype {CPP_TYPE_NAMES[input._data.dtype.name]} for `{label}` but got "
                f"dtype {CPP_TYPE_NAMES[other._data.dtype.name]}")
    if isinstance(weight, Tensor):
        return LerpTensor.apply(input, end, weight)
    return Lerp.apply(input, end, weight=weight)


@tensor_method()
def lerp_(self, end, weight) -> Tensor:
    """In-place ``lerp``."""
    return apply_inplace(self, lerp, (end, weight), None, "lerp_")
