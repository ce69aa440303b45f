"""Elementwise functions of one tensor (``exp``, ``log``, ``sigmoid``, ``relu``, ...) with gradients.

Each backward is written with chainrule ops, so it can itself be differentiated.
Where the gradient is simplest in terms of the result (``exp``, ``sigmoid``,
``sqrt``), forward saves its output. The trigonometric and hyperbolic functions are in
``trigonometric.py``.
"""

from __future__ import annotations

import numpy as np

from chainrule._dtype import is_floating_numpy
from chainrule._ops._elementwise import _PiecewiseConstant, _SavesInput, _SavesResult, quietly
from chainrule._ops._linear_map import LinearMap
from chainrule._ops._util import Tensor, float_array, tensor_method, type_label
from chainrule._ops.inplace import apply_inplace, inplace_form
from chainrule.autograd.function import Function
from chainrule.backends.cpu import relu as relu_arrays
from chainrule.backends.native import MIN_SIZE as NATIVE_MIN_SIZE  # noqa: F401 (read by F.gelu)


class Exp(_SavesResult):
    node_name = "ExpBackward0"
    ufunc = np.exp

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad * result


class Log(_SavesInput):
    node_name = "LogBackward0"
    ufunc = quietly(np.log)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / a


class Sqrt(_SavesResult):
    node_name = "SqrtBackward0"
    ufunc = quietly(np.sqrt)

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad / (2 * result)


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
        result = relu_arrays.relu(a._data)  # max(a, 0), NaN kept
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return ActiveUnitsGrad.apply(grad, result._data)


class ActiveUnitsGrad(LinearMap):
    """ReLU's backward: the gradient where the unit was active (``result > 0``), 0 elsewhere.
    It is linear in the gradient, so its own backward is itself."""

    node_name, array_map = "ThresholdBackwardBackward0", staticmethod(relu_arrays.relu_grad)


ActiveUnitsGrad.adjoint = ActiveUnitsGrad


class Abs(Function):
    node_name = "AbsBackward0"

    @staticmethod
    def forward(ctx, a):
        if a._data.dtype == np.bool_:
            raise NotImplementedError("\"abs_cpu\" not implemented for 'Bool'")
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
        data = a._data
        if data.dtype == np.bool_:
            return data.copy()
        result = np.asarray(np.sign(data))
        # PyTorch's sign(nan) is 0.
        return np.nan_to_num(result, copy=False) if is_floating_numpy(data.dtype) else result

    @staticmethod
    def backward(ctx, grad):
        return grad * 0


class Log1p(_SavesInput):
    node_name = "Log1PBackward0"
    ufunc = quietly(np.log1p)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a + 1)


class Expm1(_SavesResult):
    node_name = "Expm1Backward0"
    ufunc = np.expm1

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad * (result + 1)


class Log2(_SavesInput):
    node_name = "Log2Backward0"
    ufunc = quietly(np.log2)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a * _LN2)


class Log10(_SavesInput):
    node_name = "Log10Backward0"
    ufunc = quietly(np.log10)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a * _LN10)


_LN2 = float(np.log(2.0))
_LN10 = float(np.log(10.0))


def _reciprocal_sqrt(x: np.ndarray) -> np.ndarray:
    return 1 / np.sqrt(x)


class Rsqrt(_SavesResult):
    node_name = "RsqrtBackward0"
    ufunc = quietly(_reciprocal_sqrt)

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad * -0.5 * result ** 3


class Reciprocal(_SavesResult):
    node_name = "ReciprocalBackward0"
    ufunc = quietly(np.reciprocal)

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return -grad * result * result




_TWO_OVER_SQRT_PI = float(2 / np.sqrt(np.pi))

# Cephes' rational approximations (S. L. Moshier): erf on |x| <= 1, erfc beyond,
# accurate to double precision. NumPy has no erf, and a per-element math.erf loop is slow.
_ERF_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
          7.00332514112805075473e3, 5.55923013010394962768e4)
_ERF_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
          2.26290000613890934246e4, 4.92673942608635921086e4)
_ERFC_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
           4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
           9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_ERFC_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
           9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
           1.65666309194161350182e3, 5.57535340817727675546e2)
_ERFC_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
           6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)
_ERFC_S = (1.0, 2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
           1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)


def erf_array(x: np.ndarray) -> np.ndarray:
    """The error function of a float array, in its dtype."""
    z = np.abs(x).astype(np.float64)
    with np.errstate(all="ignore"):
        small = z * np.polyval(_ERF_T, z * z) / np.polyval(_ERF_U, z * z)
        tail = np.exp(-z * z) * np.where(
            z < 8, np.polyval(_ERFC_P, z) / np.polyval(_ERFC_Q, z),
            np.polyval(_ERFC_R, z) / np.polyval(_ERFC_S, z))
        tail = np.where(np.isinf(z), 0.0, tail)
    result = np.where(z <= 1, small, 1 - tail)
    return np.copysign(result, x).astype(x.dtype, copy=False)


class Erf(_SavesInput):
    node_name = "ErfBackward0"
    ufunc = staticmethod(erf_array)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * _TWO_OVER_SQRT_PI * (-a * a).exp()


class Floor(_PiecewiseConstant):
    node_name = "FloorBackward0"
    ufunc = np.floor


class Ceil(_PiecewiseConstant):
    node_name = "CeilBackward0"
    ufunc = np.ceil


class Trunc(_PiecewiseConstant):
    node_name = "TruncBackward0"
    ufunc = np.trunc


class Round(_PiecewiseConstant):
    """Round half to even, as PyTorch does."""

    node_name = "RoundBackward0"
    ufunc = np.rint


class RoundDecimals(_PiecewiseConstant):
    node_name = "RoundBackward1"

    @staticmethod
    def forward(ctx, a, decimals=0):
        data = a._data
        return data.copy() if data.dtype.kind in "iub" else np.round(data, decimals)


class Frac(Function):
    node_name = "FracBackward0"

    @staticmethod
    def forward(ctx, a):
        data = a._data
        if not is_floating_numpy(data.dtype):
            raise NotImplementedError(f"\"frac_cpu\" not implemented for '{type_label(data.dtype)}'")
        return data - np.trunc(data)

    @staticmethod
    def backward(ctx, grad):
        return grad


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
    """Square root of each element (nan for negatives)."""
    return Sqrt.apply(input)


@tensor_method()
def sigmoid(input) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow."""
    return Sigmoid.apply(input)


@tensor_method()
def relu(input) -> Tensor:
    """max(x, 0) elementwise."""
    return Relu.apply(input)


@tensor_method("abs", "absolute")
def abs(input) -> Tensor:
    """Absolute value of each element."""
    return Abs.apply(input)


@tensor_method()
def sign(input) -> Tensor:
    """-1, 0 or 1 by the sign of each element (0 for nan)."""
    return Sign.apply(input)


Tensor.__abs__ = abs



@tensor_method()
def log1p(input) -> Tensor:
    """log(1 + x), accurate for small x."""
    return Log1p.apply(input)


@tensor_method()
def expm1(input) -> Tensor:
    """exp(x) - 1, accurate for small x."""
    return Expm1.apply(input)


@tensor_method()
def log2(input) -> Tensor:
    """Base-2 logarithm of each element."""
    return Log2.apply(input)


@tensor_method()
def log10(input) -> Tensor:
    """Base-10 logarithm of each element."""
    return Log10.apply(input)


@tensor_method()
def rsqrt(input) -> Tensor:
    """1 / sqrt(x)."""
    return Rsqrt.apply(input)


@tensor_method()
def reciprocal(input) -> Tensor:
    """1 / x (integers give the default float dtype)."""
    return Reciprocal.apply(input)


@tensor_method()
def erf(input) -> Tensor:
    """The Gauss error function.

    >>> import chainrule as torch
    >>> torch.erf(torch.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8427])
    """
    return Erf.apply(input)


@tensor_method()
def floor(input) -> Tensor:
    """The largest integer <= each element (integers are kept)."""
    return Floor.apply(input)


@tensor_method()
def ceil(input) -> Tensor:
    """The smallest integer >= each element (integers are kept)."""
    return Ceil.apply(input)


@tensor_method()
def trunc(input) -> Tensor:
    """Each element rounded toward zero."""
    return Trunc.apply(input)


Tensor.fix = trunc


@tensor_method()
def round(input, *, decimals: int = 0) -> Tensor:  # noqa: A001 - PyTorch's name
    """Round to ``decimals`` places, halves to even."""
    if decimals:
        return RoundDecimals.apply(input, decimals=decimals)
    return Round.apply(input)


@tensor_method()
def frac(input) -> Tensor:
    """x - trunc(x) (float tensors only)."""
    return Frac.apply(input)


@tensor_method()
def relu_(self) -> Tensor:
    """In-place ``relu``."""
    return apply_inplace(self, relu, (), None, "relu_")


for _op in (exp, log, log1p, expm1, log2, log10, sqrt, rsqrt, reciprocal,
            sigmoid, abs, sign, erf, floor, ceil, trunc, round, frac):
    inplace_form(_op)
Tensor.absolute_ = Tensor.abs_

__all__ = ["abs", "absolute", "sign", "exp", "log", "log1p", "expm1", "log2", "log10", "sqrt",
           "rsqrt", "reciprocal", "sigmoid", "relu", "erf", "floor", "ceil", "trunc", "fix",
           "round", "frac", "exp_", "relu_", "sqrt_", "sigmoid_"]
absolute = abs
fix = trunc
exp_ = Tensor.exp_
sqrt_ = Tensor.sqrt_
sigmoid_ = Tensor.sigmoid_

