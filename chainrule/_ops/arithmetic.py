"""Arithmetic: ``+ - * / // % **`` and unary minus, each with its gradient.

Operands broadcast as in NumPy/PyTorch; the engine sums each gradient back to
its operand's shape, so the formulas below are written for same-shaped operands.
"""

from __future__ import annotations

import numpy as np

from chainrule._ops._elementwise import _SavesOperands, _SavesOperandsAndResult
from chainrule._ops._util import (
    Tensor,
    binary_arrays,
    broadcast_error,
    broadcasting,
    float_result_arrays,
    tensor_method,
)
from chainrule._ops.inplace import add_in_place, apply_inplace, maybe_out
from chainrule._ops.unary import floor, reciprocal, trunc
from chainrule.autograd.function import Function

__all__ = ["add", "sub", "mul", "div", "floor_divide", "remainder", "fmod", "neg", "pow", "square", "subtract", "multiply", "divide", "true_divide", "negative"]


class Add(Function):
    node_name = "AddBackward0"

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        x, y = binary_arrays(a, b)
        ctx.alpha = alpha
        try:
            return x + y if alpha == 1 else x + alpha * y
        except ValueError as error:
            raise broadcast_error(error, x, y) from None

    @staticmethod
    def backward(ctx, grad):
        return grad, grad if ctx.alpha == 1 else grad * ctx.alpha


class Sub(Function):
    node_name = "SubBackward0"

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        x, y = binary_arrays(a, b)
        if (x if type(x) is np.ndarray else y).dtype.kind == "b":
            raise RuntimeError(
                "Subtraction, the `-` operator, with two bool tensors is not supported. Use the "
                "`^` or `logical_xor()` operator instead.")
        ctx.alpha = alpha
        try:
            return x - y if alpha == 1 else x - alpha * y
        except ValueError as error:
            raise broadcast_error(error, x, y) from None

    @staticmethod
    def backward(ctx, grad):
        return grad, -grad if ctx.alpha == 1 else grad * -ctx.alpha


class RSub(Sub):
    """``number - tensor``; PyTorch names this node RsubBackward1."""

    node_name = "RsubBackward1"


class Mul(_SavesOperands):
    node_name = "MulBackward0"
    ufunc = np.multiply

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (grad * b if need_a else None), (grad * a if need_b else None)


class Div(Function):
    node_name = "DivBackward0"

    @staticmethod
    def forward(ctx, a, b):
        x, y = float_result_arrays(a, b)
        ctx.save_for_backward(a, b)
        return broadcasting(np.true_divide, x, y)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        grad_a = grad / b if need_a else None
        grad_b = -grad * a / (b * b) if need_b else None
        return grad_a, grad_b


class RoundedDiv(Function):
    """``div(a, b, rounding_mode='floor' | 'trunc')``: piecewise constant, so zero gradients."""

    node_name = "DivBackward2"

    @staticmethod
    def forward(ctx, a, b, rounding_mode):
        x, y = binary_arrays(a, b)
        if rounding_mode == "floor":
            return _floor_divide(x, y)
        if rounding_mode == "trunc":
            try:
                quotient = np.true_divide(x, y)
            except ValueError as error:
                raise broadcast_error(error, x, y) from None
            return np.trunc(quotient).astype(quotient.dtype if np.result_type(x, y).kind == "f"
                                             else np.result_type(x, y), copy=False)
        raise RuntimeError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")

    @staticmethod
    def backward(ctx, grad):
        need_a, need_b = ctx.needs_input_grad[:2]
        return (grad * 0 if need_a else None), (grad * 0 if need_b else None), None


def _floor_divide(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.result_type(x, y).kind in "iub" and np.any(np.asarray(y) == 0):
            raise RuntimeError("ZeroDivisionError")
        return broadcasting(np.floor_divide, x, y)


class FloorDivide(Function):
    """``a // b``: piecewise constant, so its gradient is zero (PyTorch does not differentiate it)."""

    node_name = "FloorDivideBackward0"

    @staticmethod
    def forward(ctx, a, b):
        x, y = binary_arrays(a, b)
        return _floor_divide(x, y)

    @staticmethod
    def backward(ctx, grad):
        return grad * 0, None


class _RoundedQuotientRemainder(_SavesOperands):
    """``a - b * q`` with ``q`` the quotient rounded by ``round_quotient``: its gradient is
    ``grad`` for ``a`` and ``-grad * q`` for ``b`` (``q`` is piecewise constant)."""

    round_quotient: staticmethod

    @classmethod
    def backward(cls, ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        grad_b = -grad * cls.round_quotient(a / b) if need_b else None
        return (grad if need_a else None), grad_b


class Remainder(_RoundedQuotientRemainder):
    """``a % b`` with the sign of ``b`` (Python's and PyTorch's convention)."""

    node_name, ufunc, round_quotient = "RemainderBackward0", np.remainder, staticmethod(floor)


class RemainderTensor(Remainder):
    """``a % b`` with a tensor ``b``: PyTorch names this node RemainderBackward1."""

    node_name = "RemainderBackward1"


class Fmod(_RoundedQuotientRemainder):
    """C-style remainder: the sign of ``a``."""

    node_name, ufunc, round_quotient = "FmodBackward0", np.fmod, staticmethod(trunc)


class FmodTensor(Fmod):
    node_name = "FmodBackward1"


class Neg(Function):
    node_name = "NegBackward0"

    @staticmethod
    def forward(ctx, a):
        if a._data.dtype == np.bool_:
            raise RuntimeError(
                "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                "to invert a mask, use the `~` or `logical_not()` operator instead.")
        return -a._data

    @staticmethod
    def backward(ctx, grad):
        return -grad


class PowScalar(Function):
    """``tensor ** number``."""

    node_name = "PowBackward0"

    @staticmethod
    def forward(ctx, a, exponent=1):
        x = a._data
        if x.dtype.kind in "iub" and isinstance(exponent, int) and exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        if x.dtype.kind in "iub" and isinstance(exponent, float):
            from chainrule._dtype import get_default_dtype

            x = x.astype(get_default_dtype().numpy)
        ctx.save_for_backward(a)
        ctx.exponent = exponent
        return x ** exponent

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        exponent = ctx.exponent
        if exponent == 0:
            return grad * 0
        return grad * exponent * a ** (exponent - 1)


class Pow(_SavesOperandsAndResult):
    """``tensor ** tensor``."""

    node_name, ufunc = "PowBackward1", np.power

    @staticmethod
    def backward(ctx, grad):
        a, b, result = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        grad_a = grad * b * a ** (b - 1) if need_a else None
        grad_b = None
        if need_b:
            grad_b = (grad * result * a.log()).masked_fill((a == 0) & (b >= 0), 0)
        return grad_a, grad_b


class RPow(Function):
    """``number ** tensor``."""

    node_name = "PowBackward2"

    @staticmethod
    def forward(ctx, base, b):
        x, y = binary_arrays(base, b)
        if type(y) is np.ndarray and y.dtype.kind != "f" and isinstance(base, float):
            y = y.astype(np.result_type(x, np.float32))
        result = np.power(x, y)
        ctx.base = base
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        base = ctx.base
        if base == 0:
            return None, grad * 0
        return None, grad * result * float(np.log(base))


# ----------------------------------------------------------------- public forms
@tensor_method()
def add(input, other, *, alpha=1, out=None) -> Tensor:
    """``input + alpha * other``, broadcasting.

    >>> import chainrule as torch
    >>> torch.add(torch.tensor([1.0, 2.0]), 10)
    tensor([11., 12.])
    """
    return maybe_out(Add.apply(input, other, alpha=alpha), out, "add")


@tensor_method()
def sub(input, other, *, alpha=1, out=None) -> Tensor:
    """``input - alpha * other``, broadcasting."""
    if not isinstance(input, Tensor):
        return maybe_out(RSub.apply(input, other, alpha=alpha), out, "sub")
    return maybe_out(Sub.apply(input, other, alpha=alpha), out, "sub")


@tensor_method("mul", "multiply")
def mul(input, other, *, out=None) -> Tensor:
    """Elementwise product, broadcasting."""
    return maybe_out(Mul.apply(input, other), out, "mul")


@tensor_method("div", "divide", "true_divide")
def div(input, other, *, rounding_mode=None, out=None) -> Tensor:
    """Elementwise quotient; integers give the default float dtype unless ``rounding_mode`` is set."""
    if rounding_mode is not None:
        return maybe_out(RoundedDiv.apply(input, other, rounding_mode), out, "div")
    return maybe_out(Div.apply(input, other), out, "div")


@tensor_method()
def floor_divide(input, other) -> Tensor:
    return FloorDivide.apply(input, other)


@tensor_method()
def remainder(input, other) -> Tensor:
    return (RemainderTensor if isinstance(other, Tensor) else Remainder).apply(input, other)


@tensor_method()
def fmod(input, other) -> Tensor:
    return (FmodTensor if isinstance(other, Tensor) else Fmod).apply(input, other)


@tensor_method("neg", "negative")
def neg(input) -> Tensor:
    return Neg.apply(input)


@tensor_method()
def pow(input, exponent) -> Tensor:
    """``input ** exponent``; either may be a number."""
    if not isinstance(input, Tensor):
        return RPow.apply(input, exponent)
    if isinstance(exponent, Tensor):
        return Pow.apply(input, exponent)
    return PowScalar.apply(input, exponent=exponent)


@tensor_method()
def square(input) -> Tensor:
    return PowScalar.apply(input, exponent=2)


def _reflected(op):
    return lambda self, other: op(other, self)



Tensor.__add__ = add
Tensor.__radd__ = _reflected(add)
Tensor.__sub__ = sub
Tensor.__rsub__ = lambda self, other: RSub.apply(other, self)
Tensor.__mul__ = mul
Tensor.__rmul__ = _reflected(mul)
Tensor.__truediv__ = div
# PyTorch computes ``number / tensor`` as ``tensor.reciprocal() * number`` (a MulBackward0 node).
Tensor.__rtruediv__ = lambda self, other: mul(reciprocal(self), other)
Tensor.__floordiv__ = floor_divide
Tensor.__rfloordiv__ = _reflected(floor_divide)
Tensor.__mod__ = remainder
Tensor.__rmod__ = _reflected(remainder)
Tensor.__pow__ = pow
Tensor.__rpow__ = lambda self, base: RPow.apply(base, self)
Tensor.__neg__ = neg
Tensor.__pos__ = lambda self: self


# ------------------------------------------------------------------- in place
@tensor_method()
def add_(self, other, *, alpha=1) -> Tensor:
    """In-place ``self += alpha * other``."""
    if add_in_place(self, other, alpha):
        return self
    return apply_inplace(self, add, (other,), {"alpha": alpha}, "add_")


@tensor_method()
def sub_(self, other, *, alpha=1) -> Tensor:
    return apply_inplace(self, sub, (other,), {"alpha": alpha}, "sub_")


@tensor_method("mul_", "multiply_")
def mul_(self, other) -> Tensor:
    return apply_inplace(self, mul, (other,), None, "mul_")


@tensor_method("div_", "divide_", "true_divide_")
def div_(self, other, *, rounding_mode=None) -> Tensor:
    return apply_inplace(self, div, (other,), {"rounding_mode": rounding_mode}, "div_")


@tensor_method()
def pow_(self, exponent) -> Tensor:
    return apply_inplace(self, pow, (exponent,), None, "pow_")


@tensor_method()
def neg_(self) -> Tensor:
    return apply_inplace(self, neg, (), None, "neg_")


@tensor_method()
def remainder_(self, other) -> Tensor:
    return apply_inplace(self, remainder, (other,), None, "remainder_")


@tensor_method()
def floor_divide_(self, other) -> Tensor:
    return apply_inplace(self, floor_divide, (other,), None, "floor_divide_")


Tensor.__iadd__ = add_
Tensor.__isub__ = sub_
Tensor.__imul__ = mul_
Tensor.__itruediv__ = div_
Tensor.__ipow__ = pow_
Tensor.__ifloordiv__ = floor_divide_
Tensor.__imod__ = remainder_

subtract, multiply, divide, true_divide, negative = sub, mul, div, div, neg
