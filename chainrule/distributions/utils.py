"""Helpers shared by the distributions: broadcasting parameters, converting between
probabilities and logits, and ``lazy_property`` (computed on first access, then cached)."""

from __future__ import annotations

import numbers

import chainrule
from chainrule._ops._util import Tensor
from chainrule._size import Size
from chainrule.autograd.grad_mode import enable_grad

__all__ = ["broadcast_all", "broadcast_parameters", "clamp_probs", "lazy_property", "logits_to_probs", "probs_to_logits"]


def broadcast_all(*values) -> tuple[Tensor, ...]:
    """Numbers and tensors as tensors of one broadcast shape; numbers take the dtype of the
    tensors among ``values`` (the default dtype when there are none)."""
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number, "
                         "torch.Tensor or objects implementing __torch_function__.")
    tensors = [v for v in values if isinstance(v, Tensor)]
    dtype = tensors[0].dtype if tensors else chainrule.get_default_dtype()
    as_tensors = [v if isinstance(v, Tensor) else chainrule.tensor(v, dtype=dtype) for v in values]
    return tuple(chainrule.broadcast_tensors(*as_tensors))


def broadcast_parameters(*values) -> tuple[tuple[Tensor, ...], Size]:
    """``broadcast_all(*values)`` and the batch shape they define: ``()`` when every value is a
    plain number (the tensors then hold one element each), else the broadcast shape."""
    tensors = broadcast_all(*values)
    scalar = all(isinstance(v, numbers.Number) for v in values)
    return tensors, Size() if scalar else tensors[0].shape


def clamp_probs(probs: Tensor) -> Tensor:
    """``probs`` kept ``eps`` away from 0 and 1, so that their logs are finite."""
    eps = chainrule.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """Sigmoid (``is_binary``) or softmax over the last dim."""
    return logits.sigmoid() if is_binary else logits.softmax(-1)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Log-odds (``is_binary``) or log-probabilities, of clamped ``probs``."""
    clamped = clamp_probs(probs)
    return clamped.log() - (-clamped).log1p() if is_binary else clamped.log()


class lazy_property:
    """A property computed once per instance (with gradients recorded) and then stored."""

    def __init__(self, wrapped) -> None:
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value
