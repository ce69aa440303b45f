"""``Gamma(concentration, rate)``: density ``rate**c * x**(c - 1) * exp(-rate * x) / Gamma(c)``
on ``x >= 0``.

``rsample`` is ``standard_gamma(concentration) / rate``, differentiable in both parameters
(the implicit reparameterisation of ``_standard_gamma``)."""

from __future__ import annotations

from chainrule._ops._util import Tensor
from chainrule.distributions import constraints
from chainrule.distributions._special import digamma, lgamma, xlogy
from chainrule.distributions._standard_gamma import standard_gamma
from chainrule.distributions.distribution import EMPTY_SHAPE, Distribution
from chainrule.distributions.utils import broadcast_parameters

__all__ = ["Gamma"]


class Gamma(Distribution):
    """A gamma distribution with shape ``concentration`` and inverse scale ``rate``.

    >>> import chainrule as torch
    >>> from chainrule.distributions import Gamma
    >>> Gamma(2.0, 1.0).log_prob(torch.tensor(1.0))
    tensor(-1.)
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args: bool | None = None) -> None:
        (self.concentration, self.rate), batch_shape = broadcast_parameters(concentration, rate)
        super().__init__(batch_shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.rate

    @property
    def mode(self) -> Tensor:
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self) -> Tensor:
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=EMPTY_SHAPE) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        return standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        c, rate = self.concentration, self.rate
        return xlogy(c, rate) + xlogy(c - 1, value) - rate * value - lgamma(c)

    def entropy(self) -> Tensor:
        c = self.concentration
        return c - self.rate.log() + lgamma(c) + (1.0 - c) * digamma(c)
