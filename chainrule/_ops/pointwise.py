"""More elementwise ops: ``exp2``, ``logaddexp``, ``sgn``/``signbit``/``copysign``,
``float_power``, ``nan_to_num``, the NaN-ignoring ``fmax``/``fmin``, and the fused
``addcmul``/``addcdiv`` of optimizers."""

from __future__ import annotations

import math
import operator

import numpy as np

from chainrule._dtype import is_floating_numpy, result_type
from chainrule._ops._elementwise import _SavesOperands, _SavesResult
from chainrule._ops._util import (
    Tensor,
    broadcast_error,
    broadcasting,
    float_result_arrays,
    make_tensor,
    tensor_method,
    type_label,
)
from chainrule._ops.arithmetic import pow
from chainrule._ops.inplace import apply_inplace, inplace_form
from chainrule._ops.selection import check_tensor_operand, where
from chainrule._ops.trigonometric import float_operands
from chainrule._ops.unary import Sign
from chainrule.autograd.function import Function

__all__ = ["exp2", "exp2_", "logaddexp", "logaddexp2", "sgn", "signbit", "copysign",
           "float_power", "nan_to_num", "nan_to_num_", "fmax", "fmin", "addcmul", "addcdiv"]

_LN2 = math.log(2.0)


class Exp2(_SavesResult):
    node_name = "Exp2Backward0"
    ufunc = np.exp2

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad * result * _LN2


@tensor_method()
def exp2(input) -> Tensor:
    """2 to the power of each element."""
    return Exp2.apply(input)


exp2_ = inplace_form(exp2)


class LogAddExp(Function):
    """``log(exp(a) + exp(b))`` (base 2 with ``base=2``) without overflow."""

    node_name = "LogaddexpBackward0"

    @staticmethod
    def forward(ctx, a, b, base=math.e):
        name = "logaddexp" if base == math.e else "logaddexp2"
        x, y = float_operands(name, a, b, integers=False)
        ctx.save_for_backward(a, b)
        ctx.base = base
        try:
            return (np.logaddexp if base == math.e else np.logaddexp2)(x, y)
        except ValueError as error:
            raise broadcast_error(error, x, y) from None

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        # d/da = base^a / (base^a + base^b) = 1 / (1 + base^(b - a))
        power = (lambda t: t.exp()) if ctx.base == math.e else exp2
        grad_a = grad / (1 + power(b - a)) if need_a else None
        grad_b = grad / (1 + power(a - b)) if need_b else None
        return grad_a, grad_b


class LogAddExp2(LogAddExp):
    node_name = "Logaddexp2Backward0"


@tensor_method()
def logaddexp(input, other) -> Tensor:
    """``log(exp(input) + exp(other))``, computed without overflow.

    >>> import chainrule as torch
    >>> torch.logaddexp(torch.tensor([1000.0]), torch.tensor([1000.0]))
    tensor([1000.6932])
    """
    return LogAddExp.apply(input, other)


@tensor_method()
def logaddexp2(input, other) -> Tensor:
    """``log2(2 ** input + 2 ** other)``, computed without overflow."""
    return LogAddExp2.apply(input, other, base=2)


# ---------------------------------------------------------------- signs
class Sgn(Sign):
    """``sgn``: ``sign`` extended to complex numbers; for real tensors the two agree."""

    node_name = "SgnBackward0"


@tensor_method()
def sgn(input) -> Tensor:
    """The sign of each element (``sign`` for real tensors)."""
    return Sgn.apply(input)


inplace_form(sgn)


@tensor_method()
def signbit(input) -> Tensor:
    """Whether each element's sign bit is set (True for -0.0 and -nan); a bool tensor."""
    return make_tensor(np.signbit(input._data))


class Copysign(Function):
    """``|input|`` with the sign of ``other``: the gradient flows to ``input`` only."""

    node_name = "CopysignBackward0"

    @staticmethod
    def forward(ctx, a, b):
        x, y = float_result_arrays(a, b)
        result = broadcasting(np.copysign, x, y)
        ctx.save_for_backward(a, result)
        return result

    @staticmethod
    def backward(ctx, grad):
        a, result = ctx.saved_tensors
        need_a = ctx.needs_input_grad[0]
        grad_a = where(a == 0, 0.0, grad * result / a) if need_a else None
        grad_b = grad * 0 if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class CopysignScalar(Copysign):
    node_name = "CopysignBackward1"


@tensor_method()
def copysign(input, other) -> Tensor:
    """The magnitude of ``input`` with the sign of ``other`` (a tensor or a number)."""
    return (Copysign if isinstance(other, Tensor) else CopysignScalar).apply(input, other)


inplace_form(copysign)


# ------------------------------------------------------------ powers
def _as_double(value):
    return value.double() if isinstance(value, Tensor) else float(value)


@tensor_method()
def float_power(input, exponent) -> Tensor:
    """``input ** exponent`` computed in double precision (the result is float64)."""
    return pow(_as_double(input), _as_double(exponent))


@tensor_method()
def float_power_(self, exponent) -> Tensor:
    """In-place ``float_power``; ``self`` must already be float64."""
    if self._data.dtype != np.float64:
        raise RuntimeError(
            f"the base given to float_power_ has dtype {type_label(self._data.dtype)} but the "
            "operation's result requires dtype Double")
    return apply_inplace(self, float_power, (exponent,), None, "float_power_")


# ------------------------------------------------------------ nan_to_num
class NanToNum(Function):
    """NaN, +inf and -inf replaced by numbers; only the finite elements get a gradient."""

    node_name = "NanToNumBackward0"

    @staticmethod
    def forward(ctx, a, nan=0.0, posinf=None, neginf=None):
        data = a._data
        if not is_floating_numpy(data.dtype):
            return data.copy()
        ctx.save_for_backward(a)
        big = np.finfo(data.dtype)
        return np.nan_to_num(data, nan=nan, posinf=big.max if posinf is None else posinf,
                             neginf=big.min if neginf is None else neginf)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return where(a.isfinite(), grad, 0.0)


@tensor_method()
def nan_to_num(input, nan=0.0, posinf=None, neginf=None) -> Tensor:
    """NaN replaced by ``nan``, infinities by ``posinf``/``neginf`` (the dtype's largest and
    smallest finite values by default)."""
    return NanToNum.apply(input, nan=nan, posinf=posinf, neginf=neginf)


nan_to_num_ = inplace_form(nan_to_num)


# ------------------------------------------------------------ fmax, fmin
class _NanIgnoringExtremum(_SavesOperands):
    """``maximum``/``minimum`` that ignore NaN (NaN only where both are NaN): the gradient goes
    to the operand kept, ``a`` on ties; ``a_kept(a, b)`` says where ``a`` is kept."""

    a_kept: staticmethod

    @classmethod
    def backward(cls, ctx, grad):
        a, b = ctx.saved_tensors
        return _to_chosen(grad, cls.a_kept(a, b) | b.isnan(), ctx.needs_input_grad)


class Fmax(_NanIgnoringExtremum):
    node_name, ufunc, a_kept = "FmaxBackward0", np.fmax, staticmethod(operator.ge)


class Fmin(_NanIgnoringExtremum):
    node_name, ufunc, a_kept = "FminBackward0", np.fmin, staticmethod(operator.le)


def _to_chosen(grad: Tensor, a_chosen: Tensor, needs) -> tuple:
    return (where(a_chosen, grad, 0.0) if needs[0] else None,
            where(a_chosen, 0.0, grad) if needs[1] else None)


@tensor_method()
def fmax(input, other) -> Tensor:
    """The elementwise maximum, ignoring NaN when the other value is a number."""
    check_tensor_operand("fmax", other)
    return Fmax.apply(input, other)


@tensor_method()
def fmin(input, other) -> Tensor:
    """The elementwise minimum, ignoring NaN when the other value is a number."""
    check_tensor_operand("fmin", other)
    return Fmin.apply(input, other)


# ------------------------------------------------------- addcmul, addcdiv
def _three_operands(a, t1, t2, value) -> tuple:
    """The three operands as arrays of their promoted dtype, and ``value`` in it too."""
    target = result_type(a, t1, t2).numpy
    arrays = tuple(np.asarray(t._data if isinstance(t, Tensor) else t, dtype=target)
                   for t in (a, t1, t2))
    return (*arrays, target.type(value))


class _ScaledCombination(Function):
    """``input + value * combine(tensor1, tensor2)`` in one node, all three broadcasting;
    ``partials(scaled, t1, t2)`` are the gradients of ``t1`` and ``t2`` given
    ``scaled = grad * value``."""

    combine: staticmethod

    @classmethod
    def forward(cls, ctx, a, t1, t2, value=1):
        base, x, y, scale = _three_operands(a, t1, t2, value)
        ctx.save_for_backward(t1, t2)
        ctx.value = value
        try:
            return base + scale * cls.combine(x, y)
        except ValueError as error:
            raise broadcast_error(error, a, t1, t2) from None

    @classmethod
    def backward(cls, ctx, grad):
        t1, t2 = ctx.saved_tensors
        need_a, need_1, need_2 = ctx.needs_input_grad
        scaled = grad if ctx.value == 1 else grad * ctx.value
        grad_1, grad_2 = cls.partials(scaled, t1, t2, need_1, need_2)
        return grad if need_a else None, grad_1, grad_2


class Addcmul(_ScaledCombination):
    node_name, combine = "AddcmulBackward0", staticmethod(np.multiply)

    @staticmethod
    def partials(scaled, t1, t2, need_1, need_2):
        return scaled * t2 if need_1 else None, scaled * t1 if need_2 else None


class Addcdiv(_ScaledCombination):
    node_name, combine = "AddcdivBackward0", staticmethod(np.true_divide)

    @classmethod
    def forward(cls, ctx, a, t1, t2, value=1):
        if t1._data.dtype.kind in "iub" and t2._data.dtype.kind in "iub":
            raise RuntimeError(
                "Integer division with addcdiv is no longer supported, and in a future  release "
                "addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv "
                "behavior can be implemented as (input + value * torch.trunc(tensor1 / tensor2))"
                ".to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) "
                "for float inputs. The future addcdiv behavior is just the latter implementation: "
                "(input + value * tensor1 / tensor2), for all dtypes.")
        return super().forward(ctx, a, t1, t2, value)

    @staticmethod
    def partials(scaled, t1, t2, need_1, need_2):
        return scaled / t2 if need_1 else None, -scaled * t1 / (t2 * t2) if need_2 else None


@tensor_method()
def addcmul(input, tensor1, tensor2, *, value=1) -> Tensor:
    """``input + value * tensor1 * tensor2`` (Adam's moment updates), broadcasting."""
    return Addcmul.apply(input, tensor1, tensor2, value=value)


@tensor_method()
def addcdiv(input, tensor1, tensor2, *, value=1) -> Tensor:
    """``input + value * tensor1 / tensor2`` (Adam's step), broadcasting; float tensors only."""
    return Addcdiv.apply(input, tensor1, tensor2, value=value)


inplace_form(addcmul)
inplace_form(addcdiv)
