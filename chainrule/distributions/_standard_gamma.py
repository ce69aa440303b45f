"""Differentiable gamma samples (PyTorch's ``_standard_gamma``): ``x ~ Gamma(alpha, 1)`` with
the implicit reparameterisation gradient ``dx/dalpha = -(dF/dalpha)(x) / f(x)``, where ``F`` is
the gamma CDF (the regularised incomplete gamma function ``P(alpha, x)``) and ``f`` its
density. NumPy draws ``x``; ``dF/dalpha`` is a central difference of ``P``, computed by its
power series below ``alpha + 1`` and by its continued fraction above (accurate to about 1e-8).

>>> import numpy as np
>>> from chainrule.distributions._standard_gamma import regularized_gamma_p
>>> round(float(regularized_gamma_p(np.array(1.0), np.array(1.0))), 12)  # 1 - exp(-1)
0.632120558829
"""

from __future__ import annotations

import numpy as np

from chainrule._ops._util import Tensor, make_tensor
from chainrule._random import rng_of
from chainrule.autograd.function import Function
from chainrule.distributions._special import _lgamma_elements

__all__ = ["standard_gamma", "regularized_gamma_p"]

_ITERATIONS = 1000
_TOLERANCE = 1e-16


def _series(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``P(a, x) = x**a e**-x / Gamma(a + 1) * sum_n x**n / ((a + 1) ... (a + n))``."""
    term = 1.0 / a
    total = term.copy()
    for n in range(1, _ITERATIONS):
        term = term * x / (a + n)
        total += term
        if np.all(np.abs(term) < np.abs(total) * _TOLERANCE):
            break
    return total * np.exp(a * np.log(x) - x - _lgamma_elements(a))


def _continued_fraction(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``Q(a, x) = 1 - P(a, x)`` by Lentz's method on its continued fraction."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = np.full_like(x, 1.0 / tiny)
    d = 1.0 / b
    h = d.copy()
    for i in range(1, _ITERATIONS):
        an = -i * (i - a)
        b = b + 2.0
        d = an * d + b
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        delta = d * c
        h = h * delta
        if np.all(np.abs(delta - 1.0) < _TOLERANCE * 10):
            break
    return np.exp(a * np.log(x) - x - _lgamma_elements(a)) * h


def regularized_gamma_p(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``P(a, x)``, the CDF at ``x`` of ``Gamma(a, 1)``, in float64."""
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    result = np.zeros(a.shape)
    low = (x > 0) & (x < a + 1)
    high = x >= a + 1
    result[low] = _series(a[low], x[low])
    result[high] = 1.0 - _continued_fraction(a[high], x[high])
    return result


def _cdf_slope(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``dP(a, x)/da`` by a central difference; above ``a + 1`` it differences ``Q = 1 - P``
    itself, which keeps its precision in the far tail where ``P`` rounds to 1."""
    step = 1e-4 * a
    slope = np.zeros(a.shape)
    low, high = x < a + 1, x >= a + 1
    a_low, x_low, h_low = a[low], x[low], step[low]
    slope[low] = (_series(a_low + h_low, x_low) - _series(a_low - h_low, x_low)) / (2 * h_low)
    a_high, x_high, h_high = a[high], x[high], step[high]
    slope[high] = -(_continued_fraction(a_high + h_high, x_high)
                    - _continued_fraction(a_high - h_high, x_high)) / (2 * h_high)
    return slope


def sample_derivative(alpha: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``dx/dalpha`` for gamma samples ``x`` (> 0) drawn with concentration ``alpha``."""
    a, x = np.broadcast_arrays(np.asarray(alpha, np.float64), np.asarray(x, np.float64))
    density = np.exp((a - 1) * np.log(x) - x - _lgamma_elements(a))
    return -_cdf_slope(a, x) / density


class StandardGamma(Function):
    node_name = "StandardGammaBackward0"

    @staticmethod
    def forward(ctx, alpha):
        a = alpha._data
        drawn = np.asarray(rng_of(None).standard_gamma(a), a.dtype)
        drawn = np.maximum(drawn, np.finfo(a.dtype).tiny)
        ctx.save_for_backward(alpha, drawn)
        return drawn

    @staticmethod
    def backward(ctx, grad):
        alpha, drawn = ctx.saved_tensors
        derivative = sample_derivative(alpha._data, drawn._data).astype(alpha._data.dtype)
        # Like PyTorch's, this gradient is a constant factor: no second derivative.
        return grad * make_tensor(derivative)


def standard_gamma(alpha: Tensor) -> Tensor:
    """One ``Gamma(alpha, 1)`` sample per element of ``alpha``, differentiable in ``alpha``."""
    return StandardGamma.apply(alpha)
