"""Similarity and distance of paired vectors: ``cosine_similarity`` and ``pairwise_distance``
(also ``F.cosine_similarity``/``F.pairwise_distance``; ``cdist`` compares all pairs)."""

from __future__ import annotations

from chainrule._dtype import result_type
from chainrule._ops._util import Tensor, normalize_dim, type_label
from chainrule._ops.broadcasting import broadcast_tensors
from chainrule._ops.reduction import VectorNorm, norm
from chainrule.autograd.grad_mode import no_grad

__all__ = ["cosine_similarity", "pairwise_distance"]


def cosine_similarity(x1, x2, dim=1, eps=1e-8) -> Tensor:
    """``<x1, x2> / (||x1|| ||x2||)`` along ``dim``, broadcasting.

    Each input is divided by its norm first (clamped at ``eps``), which keeps the result in
    [-1, 1]; as in PyTorch, the clamp does not take part in the gradient.

    >>> import chainrule as torch
    >>> torch.cosine_similarity(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]]))
    tensor([0.7071])
    """
    common = result_type(x1, x2)
    if not common.is_floating_point:
        raise RuntimeError("expected common dtype to be floating point, yet common dtype is "
                           f"{type_label(common.numpy)}")
    x1, x2 = broadcast_tensors(x1.to(common), x2.to(common))
    dim = normalize_dim(dim, x1._data.ndim)
    scales = []
    for x in (x1, x2):
        length = norm(x, 2, dim, keepdim=True).clone()
        with no_grad():
            length.clamp_min_(eps)
        scales.append(length)
    return ((x1 / scales[0]) * (x2 / scales[1])).sum(dim)


class NormDim(VectorNorm):
    """``at::norm`` over a dimension, the node PyTorch's ``pairwise_distance`` records."""

    node_name = "NormBackward1"


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False) -> Tensor:
    """The ``p``-norm of ``x1 - x2 + eps`` over the last dimension (rows paired, broadcasting)."""
    difference = x1 - x2 + eps
    last = max(x1._data.ndim, x2._data.ndim) - 1
    dims = (last,) if last >= 0 else None
    return NormDim.apply(difference, p=float(p), dims=dims, keepdim=keepdim)
