"""Elementwise functions of one tensor (``exp``, ``log``, ``tanh``, ``relu``, ...) with gradients.

Each backward is written with chainrule ops, so it can itself be differentiated.
Where the gradient is simplest in terms of the result (``exp``, ``tanh``,
``sigmoid``, ``sqrt``), forward saves its output.
"""

from __future__ import annotations

import numpy as np

from chainrule._dtype import get_default_dtype
from chainrule._ops._util import Tensor, tensor_method
from chainrule._ops.inplace import apply_inplace
from chainrule.autograd.function import Function


def float_array(t: Tensor) -> np.ndarray:
    """The tensor's data, as the default float dtype if it is an integer or bool tensor."""
    data = t._data
    return data if data.dtype.kind == "f" else data.astype(get_default_dtype().numpy)


class Exp(Function):
    node_name = "ExpBackward0"

    @staticmethod
    def forward(ctx, a):
        result = np.exp(float_array(a))
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad * result


class Log(Function):
    node_name = "LogBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(float_array(a))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / a


class Sqrt(Function):
    node_name = "SqrtBackward0"

    @staticmethod
    def forward(ctx, a):
        with np.errstate(invalid="ignore"):
            result = np.sqrt(float_array(a))
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad / (2 * result)


class Tanh(Function):
    node_name = "TanhBackward0"

    @staticmethod
    def forward(ctx, a):
        result = np.tanh(float_array(a))
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad * (1 - result * result)


class Sigmoid(Function):
    node_name = "SigmoidBackward0"

    @staticmethod
    def forward(ctx, a):
        x = float_array(a)
        # exp of a non-positive number never overflows: use the form that keeps it so.
        e = np.exp(-np.abs(x))
        result = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad * result * (1 - result)


class Relu(Function):
    node_name = "ReluBackward0"

    @staticmethod
    def forward(ctx, a):
        result = np.maximum(a._data, 0)
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad * (result > 0)


class Abs(Function):
    node_name = "AbsBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a._data)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * a.sign()


class Sign(Function):
    node_name = "SignBackward0"

    @staticmethod
    def forward(ctx, a):
        return np.sign(a._data)

    @staticmethod
    def backward(ctx, grad):
        return grad * 0


@tensor_method()
def exp(input) -> Tensor:
    """e to the power of each element."""
    return Exp.apply(input)


@tensor_method()
def log(input) -> Tensor:
    """Natural logarithm of each element."""
    return Log.apply(input)


@tensor_method()
def sqrt(input) -> Tensor:
    return Sqrt.apply(input)


@tensor_method()
def tanh(input) -> Tensor:
    return Tanh.apply(input)


@tensor_method()
def sigmoid(input) -> Tensor:
    return Sigmoid.apply(input)


@tensor_method()
def relu(input) -> Tensor:
    """max(x, 0) elementwise."""
    return Relu.apply(input)


@tensor_method("abs", "absolute")
def abs(input) -> Tensor:
    return Abs.apply(input)


@tensor_method()
def sign(input) -> Tensor:
    return Sign.apply(input)


Tensor.__abs__ = abs


@tensor_method()
def exp_(self) -> Tensor:
    return apply_inplace(self, exp, (), None, "exp_")


@tensor_method()
def relu_(self) -> Tensor:
    return apply_inplace(self, relu, (), None, "relu_")
