"""``MultivariateNormal(loc, covariance_matrix | precision_matrix | scale_tril)``: the Gaussian
over vectors, held through the lower-triangular ``scale_tril`` ``L`` with ``L @ L.mT`` the
covariance; samples are ``loc + L @ eps``, differentiable in both."""

from __future__ import annotations

import math

import chainrule
from chainrule._ops._util import Tensor
from chainrule.distributions import constraints
from chainrule.distributions.distribution import EMPTY_SHAPE, Distribution
from chainrule.distributions.utils import lazy_property
from chainrule.linalg import cholesky, inv, solve

__all__ = ["MultivariateNormal"]


def batch_mahalanobis(scale_tril: Tensor, x: Tensor) -> Tensor:
    """``x^T (L L^T)^-1 x`` for each vector ``x``, broadcasting ``L`` over ``x``'s batch."""
    batch = chainrule.broadcast_shapes(tuple(scale_tril.shape[:-2]), tuple(x.shape[:-1]))
    n = x.shape[-1]
    whitened = solve(scale_tril.expand(tuple(batch) + (n, n)), x.expand(tuple(batch) + (n,)))
    return whitened.pow(2).sum(-1)


def half_log_det(scale_tril: Tensor) -> Tensor:
    """``log sqrt(det(L L^T))`` = the sum of the logs of ``L``'s diagonal."""
    return scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)


def _check_matrix(name: str, matrix: Tensor) -> None:
    if matrix.ndim < 2:
        # PyTorch's wording, which says "matrix" only after scale_tril.
        shown = "scale_tril matrix" if name == "scale_tril" else name
        raise ValueError(f"{shown} must be at least two-dimensional, with optional leading "
                         "batch dimensions")


class MultivariateNormal(Distribution):
    """A normal distribution over vectors of ``loc.shape[-1]`` elements.

    >>> import chainrule as torch
    >>> from chainrule.distributions import MultivariateNormal
    >>> d = MultivariateNormal(torch.zeros(2), scale_tril=torch.eye(2))
    >>> d.log_prob(torch.zeros(2))
    tensor(-1.8379)
    """

    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc: Tensor, covariance_matrix: Tensor | None = None,
                 precision_matrix: Tensor | None = None, scale_tril: Tensor | None = None,
                 validate_args: bool | None = None) -> None:
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril "
                             "may be specified.")
        (matrix,) = given
        name = ("scale_tril" if scale_tril is not None else "covariance_matrix"
                if covariance_matrix is not None else "precision_matrix")
        _check_matrix(name, matrix)
        batch_shape = chainrule.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1]))
        n = loc.shape[-1]
        setattr(self, name, matrix.expand(tuple(batch_shape) + (n, n)))
        self.loc = loc.expand(tuple(batch_shape) + (n,))
        super().__init__(batch_shape, self.loc.shape[-1:], validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = cholesky(inv(precision_matrix))

    def _expanding_attributes(self) -> dict[str, int]:
        return {"loc": 1, "scale_tril": 2, "covariance_matrix": 2, "precision_matrix": 2}

    @lazy_property
    def scale_tril(self) -> Tensor:
        return self._unbroadcasted_scale_tril.expand(tuple(self._batch_shape + self._event_shape * 2))

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        lower = self._unbroadcasted_scale_tril
        return (lower @ lower.mT).expand(tuple(self._batch_shape + self._event_shape * 2))

    @lazy_property
    def precision_matrix(self) -> Tensor:
        lower_inverse = inv(self._unbroadcasted_scale_tril)
        return (lower_inverse.mT @ lower_inverse).expand(tuple(self._batch_shape + self._event_shape * 2))

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return self._unbroadcasted_scale_tril.pow(2).sum(-1).expand(
            tuple(self._batch_shape + self._event_shape))

    def rsample(self, sample_shape=EMPTY_SHAPE) -> Tensor:
        eps = chainrule.randn(tuple(self._extended_shape(sample_shape)), dtype=self.loc.dtype)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        mahalanobis = batch_mahalanobis(self._unbroadcasted_scale_tril, value - self.loc)
        n = self._event_shape[0]
        return -0.5 * (n * math.log(2 * math.pi) + mahalanobis) - half_log_det(
            self._unbroadcasted_scale_tril)

    def entropy(self) -> Tensor:
        n = self._event_shape[0]
        entropy = 0.5 * n * (1.0 + math.log(2 * math.pi)) + half_log_det(self._unbroadcasted_scale_tril)
        return entropy.expand(tuple(self._batch_shape))
