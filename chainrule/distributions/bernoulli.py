"""``Bernoulli(probs=None, logits=None)``: 1 with probability ``probs``, else 0.

Either parametrisation may be given; the other is derived on first use
(``lazy_property``). Log-probabilities are computed from the logits, which is exact
where probabilities would round to 0 or 1."""

from __future__ import annotations

import math

import chainrule
import chainrule.nn.functional as F
from chainrule._ops._util import Tensor
from chainrule._size import Size
from chainrule.autograd.grad_mode import no_grad
from chainrule.distributions import constraints
from chainrule.distributions.distribution import EMPTY_SHAPE, Distribution
from chainrule.distributions.utils import (
    broadcast_all,
    broadcast_parameters,
    lazy_property,
    logits_to_probs,
    probs_to_logits,
)

__all__ = ["Bernoulli"]


def exactly_one(probs, logits) -> None:
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")


class Bernoulli(Distribution):
    """A coin with ``P(1) = probs`` (or ``sigmoid(logits)``).

    >>> import chainrule as torch
    >>> from chainrule.distributions import Bernoulli
    >>> Bernoulli(probs=torch.tensor(0.25)).log_prob(torch.tensor(1.0))
    tensor(-1.3863)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        exactly_one(probs, logits)
        given = probs if probs is not None else logits
        (param,), batch_shape = broadcast_parameters(given)
        if probs is not None:
            self.probs = param
        else:
            self.logits = param
        self._param = param
        super().__init__(batch_shape, validate_args=validate_args)

    def _expanding_attributes(self) -> dict[str, int]:
        return {"probs": 0, "logits": 0, "_param": 0}

    @lazy_property
    def logits(self) -> Tensor:
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self) -> Size:
        return self._param.shape

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        mode = (self.probs >= 0.5).to(self.probs.dtype)
        return mode.masked_fill(self.probs == 0.5, math.nan)

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=EMPTY_SHAPE) -> Tensor:
        with no_grad():
            return chainrule.bernoulli(self.probs.expand(tuple(self._extended_shape(sample_shape))))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -F.binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self) -> Tensor:
        return F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand: bool = True) -> Tensor:
        values = chainrule.arange(2, dtype=self._param.dtype).reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((2,) + tuple(self._batch_shape)) if expand else values
