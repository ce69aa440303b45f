"""``lgamma``, ``digamma``, ``xlogy`` and ``erfinv``, with their gradients: what the Gamma and
Beta densities and the normal quantile function need and NumPy does not provide.

``digamma`` and ``trigamma`` (its derivative) use the recurrence ``psi(x) = psi(x + 1) - 1/x``
to reach ``x >= 10``, then the asymptotic (Bernoulli-number) series, accurate there to about
1e-14; below 1/2 the reflection formula applies. ``erfinv`` starts from Giles' polynomial
approximation (2010) and takes two Newton steps on ``erf`` (about 1e-14 relative, 1e-8 within
1e-10 of +-1, where ``erf``'s own rounding limits it).

>>> import chainrule as torch
>>> from chainrule.distributions._special import digamma, lgamma
>>> lgamma(torch.tensor([1.0, 5.0], dtype=torch.float64))
tensor([0.0000, 3.1781], dtype=torch.float64)
>>> digamma(torch.tensor([1.0], dtype=torch.float64))
tensor([-0.5772], dtype=torch.float64)
"""

from __future__ import annotations

import math

import numpy as np

from chainrule._ops._elementwise import _SavesInput
from chainrule._ops._util import Tensor
from chainrule._ops.broadcasting import broadcast_tensors
from chainrule._ops.unary import erf_array
from chainrule.autograd.function import Function

__all__ = ["lgamma", "digamma", "xlogy", "erfinv"]

_ASYMPTOTIC_FROM = 10.0


def _safe_lgamma(x: float) -> float:
    try:
        return math.lgamma(x)
    except ValueError:  # a pole: 0, -1, -2, ...
        return math.inf


_lgamma_elements = np.vectorize(_safe_lgamma, otypes=[np.float64])


def _shifted_up(x: np.ndarray, term) -> tuple[np.ndarray, np.ndarray]:
    """``(y, total)``: ``y = x + k >= _ASYMPTOTIC_FROM`` and the sum of ``term(x + i)`` for
    ``i < k``, elementwise."""
    y, total = x.copy(), np.zeros_like(x)
    small = y < _ASYMPTOTIC_FROM
    while small.any():
        total[small] += term(y[small])
        y[small] += 1.0
        small = y < _ASYMPTOTIC_FROM
    return y, total


def digamma_array(x: np.ndarray) -> np.ndarray:
    x64 = np.asarray(x, np.float64)
    reflect = x64 < 0.5
    y, total = _shifted_up(np.where(reflect, 1.0 - x64, x64), lambda v: -1.0 / v)
    r = 1.0 / (y * y)
    psi = total + np.log(y) - 0.5 / y - r * (1 / 12 - r * (1 / 120 - r * (1 / 252 - r * (
        1 / 240 - r / 132))))
    psi = np.where(reflect, psi - np.pi / np.tan(np.pi * x64), psi)
    poles = (x64 <= 0) & (x64 == np.floor(x64))
    psi = np.where(poles, np.where(x64 == 0, -np.inf, np.nan), psi)
    return psi.astype(np.asarray(x).dtype)


def trigamma_array(x: np.ndarray) -> np.ndarray:
    x64 = np.asarray(x, np.float64)
    reflect = x64 < 0.5
    y, total = _shifted_up(np.where(reflect, 1.0 - x64, x64), lambda v: 1.0 / (v * v))
    r = 1.0 / (y * y)
    series = 1 / y + r / 2 + r / y * (1 / 6 - r * (1 / 30 - r * (1 / 42 - r * (1 / 30 - r * 5 / 66))))
    psi1 = total + series
    psi1 = np.where(reflect, (np.pi / np.sin(np.pi * x64)) ** 2 - psi1, psi1)
    return psi1.astype(np.asarray(x).dtype)


def lgamma_array(x: np.ndarray) -> np.ndarray:
    return _lgamma_elements(x).astype(x.dtype)


class _DifferentiatesToNext(_SavesInput):
    """A function whose derivative is the next op of the family: lgamma' = digamma,
    digamma' = trigamma (``polygamma(1, x)``)."""

    derivative: type[Function]

    @classmethod
    def backward(cls, ctx, grad):
        return grad * cls.derivative.apply(*ctx.saved_tensors)


class Lgamma(_DifferentiatesToNext):
    node_name, ufunc = "LgammaBackward0", staticmethod(lgamma_array)


class Digamma(_DifferentiatesToNext):
    node_name, ufunc = "DigammaBackward0", staticmethod(digamma_array)


class Trigamma(Function):
    node_name = "PolygammaBackward0"

    @staticmethod
    def forward(ctx, a):
        return trigamma_array(a._data)

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("the derivative of polygamma(1, x) (a third derivative of "
                                  "lgamma) is not implemented")


Lgamma.derivative, Digamma.derivative = Digamma, Trigamma


def _float_input(input: Tensor, name: str) -> Tensor:
    if not input.is_floating_point():
        raise RuntimeError(f"{name}: expected a floating point tensor, got {input.dtype}")
    return input


def lgamma(input: Tensor) -> Tensor:
    """``log |Gamma(x)|`` (``inf`` at the poles)."""
    return Lgamma.apply(_float_input(input, "lgamma"))


def digamma(input: Tensor) -> Tensor:
    """``d/dx lgamma(x)``."""
    return Digamma.apply(_float_input(input, "digamma"))


class Xlogy(Function):
    node_name = "XlogyBackward0"

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            product = x._data * np.log(y._data)
        return np.where(x._data == 0, np.zeros((), product.dtype), product)

    @staticmethod
    def backward(ctx, grad):
        # As PyTorch: d/dx is log(y) also where x == 0, where the value itself is pinned to 0.
        x, y = ctx.saved_tensors
        return grad * y.log(), grad * x / y


def xlogy(x: Tensor, y: Tensor) -> Tensor:
    """``x * log(y)``, taken as 0 where ``x == 0`` (even where ``y == 0``)."""
    return Xlogy.apply(*broadcast_tensors(x, y))


_GILES_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                  -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_GILES_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
               -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def erfinv_array(y: np.ndarray) -> np.ndarray:
    y64 = np.asarray(y, np.float64)
    with np.errstate(all="ignore"):
        w = -np.log((1.0 - y64) * (1.0 + y64))
        x = y64 * np.where(w < 5.0, np.polyval(_GILES_CENTRAL, w - 2.5),
                           np.polyval(_GILES_TAIL, np.sqrt(w) - 3.0))
        for _ in range(2):
            x = x - (erf_array(x) - y64) / (2 / math.sqrt(math.pi) * np.exp(-x * x))
    x = np.where(np.abs(y64) == 1, np.copysign(np.inf, y64), x)
    return np.where(np.abs(y64) > 1, np.nan, x).astype(np.asarray(y).dtype)


class Erfinv(Function):
    node_name = "ErfinvBackward0"

    @staticmethod
    def forward(ctx, a):
        result = erfinv_array(a._data)
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        return grad * (math.sqrt(math.pi) / 2) * (result * result).exp()


def erfinv(input: Tensor) -> Tensor:
    """The inverse of ``erf`` on ``(-1, 1)`` (``+-inf`` at ``+-1``, nan outside)."""
    return Erfinv.apply(_float_input(input, "erfinv"))
