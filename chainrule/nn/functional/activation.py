"""Activation functions (``F.relu``, ``F.gelu``, ``F.softmax``, ...), each with its gradient.

Forward runs in NumPy; backward is written with chainrule ops so it can be
differentiated again. Where a derivative is piecewise constant (``hardtanh``,
``leaky_relu``) the mask is a constant tensor: its own derivative is zero.
``relu``, ``tanh`` and ``sigmoid`` are the ops of ``chainrule`` itself.

>>> import chainrule as torch
>>> import chainrule.nn.functional as F
>>> F.softmax(torch.tensor([1.0, 1.0]), dim=0)
tensor([0.5000, 0.5000])
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from chainrule._ops import unary
from chainrule._ops._util import Tensor, check_float_or_raise, make_tensor, normalize_dim
from chainrule._ops.inplace import apply_inplace
from chainrule._ops.softmax_family import LogSoftmax, Softmax, softmax_operand
from chainrule._ops.trigonometric import tanh
from chainrule._ops.unary import erf_array, relu_, sigmoid
from chainrule.autograd.function import Function
from chainrule.backends.cpu import activation as cpu_activation

__all__ = ["relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "celu",
           "gelu", "silu", "mish", "softplus", "softsign", "softmax", "softmin", "log_softmax",
           "tanh", "sigmoid", "hardtanh", "hardtanh_", "hardsigmoid", "hardswish", "logsigmoid",
           "tanhshrink", "threshold", "glu", "prelu"]

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_COEF = 0.044715
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _activation(input: Tensor, inplace: bool, op, args: tuple, name: str) -> Tensor:
    """``op(input, *args)``, or written back into ``input`` when ``inplace``."""
    if inplace:
        return apply_inplace(input, op, args, None, name + "_")
    return op(input, *args)


def _mask(condition: np.ndarray, dtype) -> Tensor:
    return make_tensor(condition.astype(dtype))


# ---------------------------------------------------------------- piecewise linear
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(0, x)`` (``chainrule.relu``, with PyTorch's ``inplace`` switch)."""
    return relu_(input) if inplace else unary.relu(input)


class Hardtanh(Function):
    node_name = "HardtanhBackward0"

    @staticmethod
    def forward(ctx, a, min_val, max_val):
        ctx.save_for_backward(a)
        ctx.bounds = (min_val, max_val)
        return np.clip(a._data, min_val, max_val)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        low, high = ctx.bounds
        return grad * _mask((a._data > low) & (a._data < high), grad._data.dtype), None, None


def _hardtanh(input: Tensor, min_val: float, max_val: float) -> Tensor:
    check_float_or_raise(input, "hardtanh")
    return Hardtanh.apply(input, float(min_val), float(max_val))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """Clamp to ``[min_val, max_val]``; the gradient is 1 strictly inside, 0 outside."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _activation(input, inplace, _hardtanh, (min_val, max_val), "hardtanh")


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(0, x), 6)``."""
    return hardtanh(input, 0.0, 6.0, inplace)


class LeakyRelu(Function):
    node_name = "LeakyReluBackward0"

    @staticmethod
    def forward(ctx, a, slope):
        ctx.save_for_backward(a)
        ctx.slope = slope
        x = a._data
        return np.where(x > 0, x, x * slope)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        x = a._data
        scale = np.where(x > 0, np.ones((), x.dtype), np.asarray(ctx.slope, x.dtype))
        return grad * make_tensor(scale), None


def _leaky_relu(input: Tensor, negative_slope: float) -> Tensor:
    check_float_or_raise(input, "leaky_relu")
    return LeakyRelu.apply(input, float(negative_slope))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` where positive, ``negative_slope * x`` elsewhere."""
    return _activation(input, inplace, _leaky_relu, (negative_slope,), "leaky_relu")


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


class Threshold(Function):
    node_name = "ThresholdBackward0"

    @staticmethod
    def forward(ctx, a, threshold, value):
        ctx.save_for_backward(a)
        ctx.threshold = threshold
        x = a._data
        return np.where(x > threshold, x, np.asarray(value, x.dtype))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * _mask(a._data > ctx.threshold, grad._data.dtype), None, None


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``."""
    return _activation(input, inplace, Threshold.apply, (threshold, value), "threshold")


# ---------------------------------------------------------------- exponential family
class Elu(Function):
    node_name = "EluBackward0"

    @staticmethod
    def forward(ctx, a, alpha, scale, input_scale):
        ctx.save_for_backward(a)
        ctx.coefs = (alpha, scale, input_scale)
        x = a._data
        negative = np.expm1(np.minimum(x, 0) * input_scale) * (alpha * scale)
        return np.where(x > 0, x * scale, negative)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        alpha, scale, input_scale = ctx.coefs
        positive = a._data > 0
        # d/dx alpha*scale*(exp(input_scale*x) - 1) = alpha*scale*input_scale*exp(input_scale*x)
        negative = (a * input_scale).clamp(max=0).exp() * (alpha * scale * input_scale)
        slope = negative * _mask(~positive, grad._data.dtype) + _mask(positive, grad._data.dtype) * scale
        return grad * slope, None, None, None


class Celu(Elu):
    node_name = "CeluBackward0"


def _elu(input: Tensor, alpha: float, scale: float = 1.0, input_scale: float = 1.0) -> Tensor:
    check_float_or_raise(input, "elu")
    function = Elu if input_scale == 1.0 else Celu
    return function.apply(input, float(alpha), float(scale), float(input_scale))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    return _activation(input, inplace, _elu, (alpha,), "elu")


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants."""
    return _activation(input, inplace, _elu, (_SELU_ALPHA, _SELU_SCALE), "selu")


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    return _activation(input, inplace, _elu, (alpha, 1.0, 1.0 / alpha), "celu")


class Softplus(Function):
    node_name = "SoftplusBackward0"

    @staticmethod
    def forward(ctx, a, beta, threshold):
        ctx.save_for_backward(a)
        ctx.coefs = (beta, threshold)
        x = a._data
        scaled = x * beta
        # logaddexp(0, z) = log(1 + exp(z)) without overflow for large z.
        return np.where(scaled > threshold, x, np.logaddexp(0, scaled) / beta)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        beta, threshold = ctx.coefs
        linear = a._data * beta > threshold
        slope = sigmoid(a * beta) * _mask(~linear, grad._data.dtype) + _mask(linear, grad._data.dtype)
        return grad * slope, None, None


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``."""
    check_float_or_raise(input, "softplus")
    return Softplus.apply(input, float(beta), float(threshold))


# ---------------------------------------------------------------- smooth gates
def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """``Phi(x) = (1 + erf(x / sqrt(2))) / 2``."""
    return 0.5 * (1 + _erf_and_gauss(x * _SQRT_HALF, False)[0])


def _erf_and_gauss(z: np.ndarray, gauss: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """``erf(z)`` and, if ``gauss``, ``exp(-z**2)``. In float32 erf is Abramowitz and Stegun's
    7.1.26 (absolute error below 1.5e-7, what PyTorch's vectorised CPU erf and the compiled
    kernel compute), which evaluates ``exp(-z**2)`` on the way: a few float32 passes, where
    ``erf_array``'s double-precision polynomials take about 7 times as long (13 vs 93 ms over
    393,216 values, measured 2026-12-04)."""
    if z.dtype != np.float32:
        return erf_array(z), np.exp(-np.square(z)) if gauss else None
    magnitude = np.abs(z)
    t = 1 / (1 + 0.3275911 * magnitude)
    poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t
            + 0.254829592) * t
    np.square(magnitude, out=magnitude)
    exp = np.exp(-magnitude)
    return np.copysign(1 - poly * exp, z), exp


def _tanh_inner(x):
    """The tanh approximation's argument, ``sqrt(2/pi) * (x + 0.044715 x^3)``, and its
    derivative (of arrays or tensors alike)."""
    return ((x + x * x * x * _GELU_TANH_COEF) * _SQRT_2_OVER_PI,
            (1 + x * x * (3 * _GELU_TANH_COEF)) * _SQRT_2_OVER_PI)


def _gelu_slope(x: np.ndarray, approximate: str) -> np.ndarray:
    """GELU's derivative at ``x``, in NumPy."""
    if approximate == "tanh":
        inner, d_inner = _tanh_inner(x)
        inner_tanh = np.tanh(inner)
        return 0.5 * (1 + inner_tanh) + x * 0.5 * (1 - inner_tanh * inner_tanh) * d_inner
    erf, gauss = _erf_and_gauss(x * _SQRT_HALF, True)  # exp(-z**2) = exp(-x**2 / 2)
    return 0.5 * (1 + erf) + x * gauss * _INV_SQRT_2PI


def _gelu_curvature(x: Tensor, approximate: str) -> Tensor:
    """GELU's second derivative at ``x``, in chainrule ops (so it can be differentiated again)."""
    if approximate == "tanh":
        inner, d_inner = _tanh_inner(x)
        inner_tanh = tanh(inner)
        return (1 - inner_tanh * inner_tanh) * (
            d_inner - x * inner_tanh * d_inner * d_inner + x * x * (3 * _GELU_TANH_COEF * _SQRT_2_OVER_PI))
    pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
    return pdf * (2 - x * x)


class Gelu(Function):
    node_name = "GeluBackward0"

    @staticmethod
    def forward(ctx, a, approximate):
        ctx.save_for_backward(a)
        ctx.approximate = approximate
        x = a._data
        compiled = cpu_activation.gelu(x, approximate)
        if compiled is not None:
            return compiled
        if approximate == "tanh":
            return x * 0.5 * (1 + np.tanh(_tanh_inner(x)[0]))
        return x * _normal_cdf(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return GeluGrad.apply(grad, x, ctx.approximate), None

    @staticmethod
    def backward_arrays(ctx, grad):
        (x,) = ctx.saved_tensors
        return _gelu_grad_of_arrays(grad, x._data, ctx.approximate), None


def _gelu_grad_of_arrays(grad: np.ndarray, x: np.ndarray, approximate: str) -> np.ndarray:
    """``grad * gelu'(x)`` on arrays."""
    compiled = cpu_activation.gelu_grad(grad, x, approximate)
    return compiled if compiled is not None else grad * _gelu_slope(x, approximate)


class GeluGrad(Function):
    """GELU's backward, ``grad * gelu'(x)``, as an op of its own so that it can be differentiated
    again: with respect to ``grad`` it is itself, with respect to ``x`` ``grad * gelu''(x)``."""

    node_name = "GeluBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, x, approximate):
        ctx.save_for_backward(grad, x)
        ctx.approximate = approximate
        return _gelu_grad_of_arrays(grad._data, x._data, approximate)

    @staticmethod
    def backward(ctx, gg):
        grad, x = ctx.saved_tensors
        return (GeluGrad.apply(gg, x, ctx.approximate),
                gg * grad * _gelu_curvature(x, ctx.approximate), None)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Phi(x)`` (``approximate='tanh'``: the tanh approximation)."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, but got {approximate}")
    check_float_or_raise(input, "GeluKernelImpl")
    return Gelu.apply(input, approximate)


class Silu(Function):
    node_name = "SiluBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        x = a._data
        return x / (1 + np.exp(-x))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        gate = sigmoid(x)
        return grad * (gate * (1 + x * (1 - gate)))


def _silu(input: Tensor) -> Tensor:
    check_float_or_raise(input, "silu")
    with np.errstate(over="ignore"):
        return Silu.apply(input)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (swish)."""
    return _activation(input, inplace, _silu, (), "silu")


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``."""
    return _activation(input, inplace, lambda x: x * tanh(softplus(x)), (), "mish")


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``."""
    return input - tanh(input)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, computed as ``-softplus(-x)`` to stay finite."""
    return -softplus(-input)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``."""
    return _activation(input, inplace, lambda x: _hardtanh(x + 3.0, 0.0, 6.0) / 6.0, (), "hardsigmoid")


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``."""
    return _activation(input, inplace, lambda x: x * _hardtanh(x + 3.0, 0.0, 6.0) / 6.0, (),
                       "hardswish")


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Split ``input`` in two halves along ``dim``: ``a * sigmoid(b)``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    size = input.shape[normalize_dim(dim, input.ndim)]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {normalize_dim(dim, input.ndim)} "
                           f"is size {size}")
    a, b = input.chunk(2, dim)
    return a * sigmoid(b)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` where positive, ``weight * x`` elsewhere; ``weight`` has 1 or C (dim 1) entries."""
    if weight.numel() != 1:
        channels = input.shape[1] if input.ndim > 1 else input.shape[0]
        if weight.numel() != channels:
            raise RuntimeError(
                f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                f"{weight.numel()} and channel size = {channels}.")
        if input.ndim > 1:
            weight = weight.reshape((-1,) + (1,) * (input.ndim - 2))
    positive = _mask(input._data > 0, input._data.dtype)
    return input * positive + input * (1 - positive) * weight


# ---------------------------------------------------------------- softmax family
def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  "include dim=X as an argument.", UserWarning, stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_input(input: Tensor, dim, dtype, name: str, stacklevel: int) -> tuple[Tensor, int]:
    if dim is None:
        dim = _softmax_dim(name, input.ndim, stacklevel + 1)
    return softmax_operand(input, dim, dtype, name)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``exp(x) / exp(x).sum(dim)``, computed stably (the max is subtracted first)."""
    input, dim = _softmax_input(input, dim, dtype, "softmax", _stacklevel)
    return Softmax.apply(input, dim)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``softmax(-x)``."""
    input, dim = _softmax_input(input, dim, dtype, "softmin", _stacklevel)
    return Softmax.apply(-input, dim)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``log(softmax(x))`` in one stable step (never ``log(0)`` for large logits)."""
    input, dim = _softmax_input(input, dim, dtype, "log_softmax", _stacklevel)
    return LogSoftmax.apply(input, dim)
