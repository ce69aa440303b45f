"""``Beta(concentration1, concentration0)``: density ``x**(a - 1) * (1 - x)**(b - 1) / B(a, b)``
on ``[0, 1]``, with ``a = concentration1`` and ``b = concentration0``.

PyTorch builds Beta on a two-class Dirichlet; here the formulas are written directly (the
same values). ``rsample`` is ``G1 / (G1 + G0)`` for differentiable gamma samples ``G1``, ``G0``
of the two concentrations (an unbiased gradient, though not PyTorch's per-sample one)."""

from __future__ import annotations

import chainrule
from chainrule._ops._util import Tensor
from chainrule._ops.selection import where
from chainrule.distributions import constraints
from chainrule.distributions._special import digamma, lgamma, xlogy
from chainrule.distributions._standard_gamma import standard_gamma
from chainrule.distributions.distribution import EMPTY_SHAPE, Distribution
from chainrule.distributions.utils import broadcast_parameters

__all__ = ["Beta"]


def log_beta(a: Tensor, b: Tensor) -> Tensor:
    """``log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b)``."""
    return lgamma(a) + lgamma(b) - lgamma(a + b)


class Beta(Distribution):
    """A beta distribution on ``[0, 1]``.

    >>> import chainrule as torch
    >>> from chainrule.distributions import Beta
    >>> Beta(2.0, 2.0).mean
    tensor(0.5000)
    """

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args: bool | None = None) -> None:
        # Kept under private names, as PyTorch keeps them inside its Dirichlet: the repr is
        # "Beta()" there too.
        (self._concentration1, self._concentration0), batch_shape = broadcast_parameters(
            concentration1, concentration0)
        super().__init__(batch_shape, validate_args=validate_args)

    def _expanding_attributes(self) -> dict[str, int]:
        return {"_concentration1": 0, "_concentration0": 0}

    @property
    def concentration1(self) -> Tensor:
        return self._concentration1

    @property
    def concentration0(self) -> Tensor:
        return self._concentration0

    @property
    def mean(self) -> Tensor:
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self) -> Tensor:
        # PyTorch's value (from its Dirichlet): 1 where both concentrations are below 1, nan
        # where both are 1.
        a, b = (self.concentration1 - 1).clamp(min=0), (self.concentration0 - 1).clamp(min=0)
        bimodal = (self.concentration1 < 1) & (self.concentration0 < 1)
        return where(bimodal, 1.0, a / (a + b))

    @property
    def variance(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        total = a + b
        return a * b / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=EMPTY_SHAPE) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        first = standard_gamma(self.concentration1.expand(shape))
        second = standard_gamma(self.concentration0.expand(shape))
        finfo = chainrule.finfo(first.dtype)
        return (first / (first + second)).clamp(min=finfo.tiny, max=1 - finfo.eps)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration1, self.concentration0
        return xlogy(a - 1, value) + xlogy(b - 1, 1 - value) - log_beta(a, b)

    def entropy(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        return (log_beta(a, b) - (a - 1) * digamma(a) - (b - 1) * digamma(b)
                + (a + b - 2) * digamma(a + b))
