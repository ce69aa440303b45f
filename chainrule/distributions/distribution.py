"""``Distribution``: the interface every distribution implements (PyTorch's
``torch.distributions.Distribution``).

A distribution has a ``batch_shape`` (independent distributions evaluated at once) and an
``event_shape`` (the shape of one sample). ``sample`` draws without gradients; ``rsample``,
where a distribution has it (``has_rsample``), draws as a differentiable function of the
parameters (the reparameterisation trick). With ``validate_args`` (the default, as in
PyTorch), parameters are checked against ``arg_constraints`` when the distribution is built
and values against ``support`` in ``log_prob``.
"""

from __future__ import annotations

import warnings

import chainrule
from chainrule._ops._util import Tensor
from chainrule._size import Size
from chainrule.autograd.grad_mode import no_grad
from chainrule.distributions import constraints
from chainrule.distributions.utils import lazy_property

__all__ = ["Distribution"]

EMPTY_SHAPE = Size()


class Distribution:
    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Switch argument validation on or off for every distribution built afterwards."""
        if value not in (True, False):
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape=EMPTY_SHAPE, event_shape=EMPTY_SHAPE, validate_args: bool | None = None) -> None:
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._check_parameters()

    def _check_parameters(self) -> None:
        for param, constraint in self.arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue
            if param not in self.__dict__ and isinstance(getattr(type(self), param), lazy_property):
                continue  # the other parametrisation was given
            value = getattr(self, param)
            if not constraint.check(value).all():
                raise ValueError(
                    f"Expected parameter {param} ({type(value).__name__} of shape "
                    f"{tuple(value.shape)}) of distribution {self!r} to satisfy the constraint "
                    f"{constraint!r}, but found invalid values:\n{value}")

    @property
    def batch_shape(self) -> Size:
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        return self._event_shape

    @property
    def arg_constraints(self) -> dict:
        raise NotImplementedError

    @property
    def support(self):
        raise NotImplementedError

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"{type(self)} does not implement mode")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    def _expanding_attributes(self) -> dict[str, int]:
        """The tensors ``expand`` broadcasts, each with its count of trailing dims that are
        not batch dims (the parameters, by default, each one value per batch element)."""
        return dict.fromkeys(self.arg_constraints, 0)

    def expand(self, batch_shape, _instance=None) -> Distribution:
        """The same distribution with its parameters expanded (not copied) to ``batch_shape``.

        >>> import chainrule as torch
        >>> from chainrule.distributions import Normal
        >>> Normal(torch.zeros(2), 1.0).expand((3, 2)).batch_shape
        torch.Size([3, 2])
        """
        batch_shape = Size(batch_shape)
        new = _instance if _instance is not None else object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        for name, trailing in self._expanding_attributes().items():
            value = self.__dict__.get(name)
            if value is not None:
                kept = tuple(value.shape[value.ndim - trailing:]) if trailing else ()
                new.__dict__[name] = value.expand(tuple(batch_shape) + kept)
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=EMPTY_SHAPE) -> Tensor:
        """A sample (or ``sample_shape`` of them) without gradients."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=EMPTY_SHAPE) -> Tensor:
        raise NotImplementedError

    def sample_n(self, n: int) -> Tensor:
        warnings.warn("sample_n will be deprecated. Use .sample((n,)) instead", UserWarning,
                      stacklevel=2)
        return self.sample(Size((n,)))

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def cdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def icdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def entropy(self) -> Tensor:
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        return self.entropy().exp()

    def _extended_shape(self, sample_shape=EMPTY_SHAPE) -> Size:
        return Size(sample_shape) + self._batch_shape + self._event_shape

    def _validate_sample(self, value) -> None:
        """``value``'s shape must broadcast with the distribution's, and lie in ``support``."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        start = value.ndim - len(self._event_shape)
        if value.shape[start:] != self._event_shape:
            raise ValueError(f"The right-most size of value must match event_shape: "
                             f"{value.shape} vs {self._event_shape}.")
        actual, expected = value.shape, self._batch_shape + self._event_shape
        for i, j in zip(reversed(actual), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: "
                                 f"{actual} vs {expected}.")
        support = self.support
        if not support.check(value).all():
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape {tuple(value.shape)}) "
                f"to be within the support ({support!r}) of the distribution {self!r}, but found "
                f"invalid values:\n{value}")

    def __repr__(self) -> str:
        names = [name for name in self.arg_constraints if name in self.__dict__]
        shown = ", ".join(f"{name}: {_shown(self.__dict__[name])}" for name in names)
        return f"{type(self).__name__}({shown})"


def _shown(value: Tensor):
    return value if value.numel() == 1 else value.shape


def full_of_nan(shape, like: Tensor) -> Tensor:
    """An undefined statistic (a categorical's mean): nan of the parameters' dtype."""
    return chainrule.full(tuple(shape), float("nan"), dtype=like.dtype)
