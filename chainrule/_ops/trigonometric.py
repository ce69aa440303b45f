"""Trigonometric and hyperbolic functions and their inverses, angle conversion, ``atan2`` and
``hypot``.

Integer and bool inputs compute in the default float dtype, as in PyTorch.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from chainrule._ops._elementwise import _SavesInput, _SavesOperandsAndResult, _SavesResult
from chainrule._ops._util import (
    Tensor,
    broadcasting,
    float_array,
    float_result_arrays,
    tensor_method,
    type_label,
)
from chainrule._ops.inplace import inplace_form
from chainrule._ops.selection import check_tensor_operand
from chainrule.autograd.function import Function

__all__ = ["sin", "cos", "tan", "tanh", "sin_", "cos_", "tan_", "tanh_", "asin", "acos", "atan",
           "sinh", "cosh", "asinh", "acosh", "atanh", "arcsin", "arccos", "arctan", "arcsinh",
           "arccosh", "arctanh", "deg2rad", "rad2deg", "atan2", "arctan2", "hypot", "asin_",
           "acos_", "atan_", "sinh_", "cosh_", "asinh_", "acosh_", "atanh_", "arcsin_", "arccos_",
           "arctan_", "arcsinh_", "arccosh_", "arctanh_", "deg2rad_", "rad2deg_"]


class Sin(_SavesInput):
    node_name = "SinBackward0"
    ufunc = np.sin

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * a.cos()


class Cos(_SavesInput):
    node_name = "CosBackward0"
    ufunc = np.cos

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * -a.sin()


class Tan(_SavesResult):
    node_name = "TanBackward0"
    ufunc = np.tan

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad * (1 + result * result)


class Tanh(_SavesResult):
    node_name = "TanhBackward0"
    ufunc = np.tanh

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad * (1 - result * result)


class Asin(_SavesInput):
    node_name = "AsinBackward0"
    ufunc = np.arcsin

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * (1 - a * a).rsqrt()


class Acos(_SavesInput):
    node_name = "AcosBackward0"
    ufunc = np.arccos

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * -(1 - a * a).rsqrt()


class Atan(_SavesInput):
    node_name = "AtanBackward0"
    ufunc = np.arctan

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (1 + a * a)


class Sinh(_SavesInput):
    node_name = "SinhBackward0"
    ufunc = np.sinh

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * a.cosh()


class Cosh(_SavesInput):
    node_name = "CoshBackward0"
    ufunc = np.cosh

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * a.sinh()


class Asinh(_SavesInput):
    node_name = "AsinhBackward0"
    ufunc = np.arcsinh

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * (a * a + 1).rsqrt()


class Acosh(_SavesInput):
    node_name = "AcoshBackward0"
    ufunc = np.arccosh

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * (a * a - 1).rsqrt()


class Atanh(_SavesInput):
    node_name = "AtanhBackward0"
    ufunc = np.arctanh

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (1 - a * a)


class _Scale(Function):
    """Multiplication by a constant ``factor``: angle conversions."""

    factor = 1.0

    @classmethod
    def forward(cls, ctx, a):
        data = float_array(a)
        return data * data.dtype.type(cls.factor)

    @classmethod
    def backward(cls, ctx, grad):
        return grad * cls.factor


class Deg2Rad(_Scale):
    node_name = "Deg2RadBackward0"
    factor = math.pi / 180


class Rad2Deg(_Scale):
    node_name = "Rad2DegBackward0"
    factor = 180 / math.pi


@tensor_method()
def sin(input) -> Tensor:
    """Sine of each element (radians)."""
    return Sin.apply(input)


@tensor_method()
def cos(input) -> Tensor:
    """Cosine of each element (radians)."""
    return Cos.apply(input)


@tensor_method()
def tan(input) -> Tensor:
    """Tangent of each element (radians)."""
    return Tan.apply(input)


@tensor_method()
def tanh(input) -> Tensor:
    """Hyperbolic tangent of each element."""
    return Tanh.apply(input)


@tensor_method()
def asin(input) -> Tensor:
    """The arcsine of each element (NaN outside [-1, 1])."""
    return Asin.apply(input)


@tensor_method()
def acos(input) -> Tensor:
    """The arccosine of each element (NaN outside [-1, 1])."""
    return Acos.apply(input)


@tensor_method()
def atan(input) -> Tensor:
    """The arctangent of each element, in (-pi/2, pi/2)."""
    return Atan.apply(input)


@tensor_method()
def sinh(input) -> Tensor:
    """The hyperbolic sine of each element."""
    return Sinh.apply(input)


@tensor_method()
def cosh(input) -> Tensor:
    """The hyperbolic cosine of each element."""
    return Cosh.apply(input)


@tensor_method()
def asinh(input) -> Tensor:
    """The inverse hyperbolic sine of each element."""
    return Asinh.apply(input)


@tensor_method()
def acosh(input) -> Tensor:
    """The inverse hyperbolic cosine of each element (NaN below 1)."""
    return Acosh.apply(input)


@tensor_method()
def atanh(input) -> Tensor:
    """The inverse hyperbolic tangent of each element (NaN outside [-1, 1])."""
    return Atanh.apply(input)


@tensor_method()
def deg2rad(input) -> Tensor:
    """Each angle converted from degrees to radians."""
    return Deg2Rad.apply(input)


@tensor_method()
def rad2deg(input) -> Tensor:
    """Each angle converted from radians to degrees."""
    return Rad2Deg.apply(input)


arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh
for _alias, _op in (("arcsin", asin), ("arccos", acos), ("arctan", atan), ("arcsinh", asinh),
                    ("arccosh", acosh), ("arctanh", atanh)):
    setattr(Tensor, _alias, _op)

(sin_, cos_, tan_, tanh_, asin_, acos_, atan_, sinh_, cosh_, deg2rad_, rad2deg_) = (
    inplace_form(op) for op in (sin, cos, tan, tanh, asin, acos, atan, sinh, cosh, deg2rad, rad2deg))


class _InplaceWithoutDerivative(Function):
    """PyTorch records ``asinh_``, ``acosh_`` and ``atanh_`` under nodes of their own
    (``AcoshBackward1``) that have no derivative: backward through them fails, as there."""

    @staticmethod
    def backward(ctx, grad):
        op = ctx.name()[:-len("Backward1")].lower()
        raise NotImplementedError(f"the derivative for 'inplace version of {op}' is not implemented.")


class AsinhInplace(_InplaceWithoutDerivative):
    node_name = "AsinhBackward1"
    forward = Asinh.forward


class AcoshInplace(_InplaceWithoutDerivative):
    node_name = "AcoshBackward1"
    forward = Acosh.forward


class AtanhInplace(_InplaceWithoutDerivative):
    node_name = "AtanhBackward1"
    forward = Atanh.forward


asinh_ = inplace_form(AsinhInplace.apply, "asinh_")
acosh_ = inplace_form(AcoshInplace.apply, "acosh_")
atanh_ = inplace_form(AtanhInplace.apply, "atanh_")
arcsin_, arccos_, arctan_, arcsinh_, arccosh_, arctanh_ = asin_, acos_, atan_, asinh_, acosh_, atanh_
for _alias, _op in (("arcsin_", asin_), ("arccos_", acos_), ("arctan_", atan_),
                    ("arcsinh_", asinh_), ("arccosh_", acosh_), ("arctanh_", atanh_)):
    setattr(Tensor, _alias, _op)


# ---------------------------------------------------------------- binary
def float_operands(name: str, a, b, *, integers: bool = True) -> tuple:
    """The operands of a float-valued binary op, promoted (integers: the default float);
    ``integers=False``: PyTorch has no kernel for two integer tensors."""
    check_tensor_operand(name, b)
    x, y = float_result_arrays(a, b)
    if not integers and a._data.dtype.kind in "iub" and b._data.dtype.kind in "iub":
        raise NotImplementedError(
            f"\"{name}_cpu\" not implemented for '{type_label(np.result_type(a._data, b._data))}'")
    return x, y


class Atan2(Function):
    node_name = "Atan2Backward0"

    @staticmethod
    def forward(ctx, a, b):
        x, y = float_operands("atan2", a, b)
        ctx.save_for_backward(a, b)
        return broadcasting(np.arctan2, x, y)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        scale = grad / (a * a + b * b)
        return (scale * b if need_a else None), (scale * -a if need_b else None)


class Hypot(_SavesOperandsAndResult):
    node_name, ufunc = "HypotBackward0", np.hypot
    operands = staticmethod(functools.partial(float_operands, "hypot", integers=False))

    @staticmethod
    def backward(ctx, grad):
        a, b, result = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        scale = grad / result
        return (scale * a if need_a else None), (scale * b if need_b else None)


@tensor_method("atan2", "arctan2")
def atan2(input, other) -> Tensor:
    """The angle of the point ``(other, input)``, in (-pi, pi], elementwise and broadcasting.

    >>> import chainrule as torch
    >>> torch.atan2(torch.tensor([1.0]), torch.tensor([-1.0]))
    tensor([2.3562])
    """
    return Atan2.apply(input, other)


@tensor_method()
def hypot(input, other) -> Tensor:
    """``sqrt(input ** 2 + other ** 2)`` without overflow, elementwise and broadcasting."""
    return Hypot.apply(input, other)


arctan2 = atan2
Tensor.atan2_ = Tensor.arctan2_ = inplace_form(atan2)
inplace_form(hypot)
