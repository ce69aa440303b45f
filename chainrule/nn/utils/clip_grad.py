"""Gradient clipping: rescale (``clip_grad_norm_``) or clamp (``clip_grad_value_``) ``.grad`` in place."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from chainrule._tensor import Tensor, make_tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(parameters) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _grads(parameters) -> list[np.ndarray]:
    return [p._grad._data for p in _as_list(parameters) if p._grad is not None]


def get_total_norm(tensors: Iterable[Tensor] | Tensor, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` together, as a 0-d tensor."""
    arrays = [t._data for t in _as_list(tensors)]
    return _total_norm(arrays, float(norm_type), error_if_nonfinite)


def _total_norm(arrays: list[np.ndarray], norm_type: float, error_if_nonfinite: bool) -> Tensor:
    if not arrays:
        return make_tensor(np.zeros((), np.float32))
    dtype = np.result_type(*arrays)
    if norm_type == math.inf:
        total = max(float(np.abs(a).max()) if a.size else 0.0 for a in arrays)
    elif norm_type == -math.inf:
        total = min(float(np.abs(a).min()) if a.size else math.inf for a in arrays)
    elif norm_type == 2.0:
        total = math.sqrt(sum(float(np.vdot(a.ravel(), a.ravel())) for a in arrays))
    elif norm_type == 0:
        total = float(sum(np.count_nonzero(a) for a in arrays))
    else:
        total = sum(float(np.sum(np.abs(a) ** norm_type)) for a in arrays) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
            "it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`")
    return make_tensor(np.asarray(total, dtype=dtype))


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor, foreach=None) -> None:
    """Scale every ``.grad`` by ``max_norm / (total_norm + 1e-6)`` when that is below 1."""
    scale = min(float(max_norm) / (float(total_norm) + 1e-6), 1.0)
    for grad in _grads(parameters):
        grad *= grad.dtype.type(scale)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Rescale gradients in place so that their joint norm is at most ``max_norm``.

    Returns the total norm before clipping.

    >>> import chainrule as torch
    >>> w = torch.nn.Parameter(torch.zeros(2)); w.grad = torch.tensor([3.0, 4.0])
    >>> torch.nn.utils.clip_grad_norm_([w], max_norm=1.0)
    tensor(5.)
    """
    parameters = _as_list(parameters)
    total = _total_norm(_grads(parameters), float(norm_type), error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    for p in parameters:
        if p._grad is not None:
            p._grad._bump_version()
    return total


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p._grad is not None:
            grad = p._grad._data
            np.clip(grad, -clip_value, clip_value, out=grad)
            p._grad._bump_version()
