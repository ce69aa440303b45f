"""Similarity and distance of vectors: ``cosine_similarity`` and ``pairwise_distance`` of paired
vectors (also ``F.cosine_similarity``/``F.pairwise_distance``), and ``cdist`` of all pairs."""

from __future__ import annotations

import numpy as np

from chainrule._dtype import result_type
from chainrule._ops._util import Tensor, normalize_dim, type_label
from chainrule._ops.broadcasting import broadcast_tensors
from chainrule._ops.reduction import VectorNorm, norm
from chainrule._ops.selection import where
from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import no_grad

__all__ = ["cosine_similarity", "pairwise_distance", "cdist"]


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


class Cdist(Function):
    """The ``p``-norm distance between every row of ``x1`` and every row of ``x2``
    (``(..., P, M)`` and ``(..., R, M)`` give ``(..., P, R)``)."""

    node_name = "CdistBackward0"

    @staticmethod
    def forward(ctx, x1, x2, p=2.0):
        diff = x1._data[..., :, None, :] - x2._data[..., None, :, :]
        ctx.save_for_backward(x1, x2)
        ctx.p = p
        if p == 0:
            return (diff != 0).sum(-1).astype(diff.dtype)
        if p == np.inf:
            return np.abs(diff).max(-1, initial=0)
        return (np.abs(diff) ** p).sum(-1) ** (1 / p) if p != 2 else np.sqrt((diff * diff).sum(-1))

    @staticmethod
    def backward(ctx, grad):
        x1, x2 = ctx.saved_tensors
        p = ctx.p
        need_1, need_2 = ctx.needs_input_grad
        diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
        if p == 0:
            return (x1 * 0 if need_1 else None), (x2 * 0 if need_2 else None)
        dist = Cdist.apply(x1, x2, p=p).unsqueeze(-1)
        if p == 1:
            ratio = diff.sign()
        elif p == np.inf:
            ratio = diff.sign() * (diff.abs() == dist)
        else:
            ratio = where(dist == 0, 0.0, diff * diff.abs() ** (p - 2) / dist ** (p - 1))
        spread = grad.unsqueeze(-1) * ratio
        return (spread.sum(-2) if need_1 else None), (-spread.sum(-3) if need_2 else None)


class EuclideanDist(Function):
    """Euclidean ``cdist`` through one matrix product: ``|a|^2 - 2 a.b + |b|^2``, clamped
    at 1e-30 before the root. PyTorch takes this path for more than 25 rows."""

    node_name = "EuclideanDistBackward0"

    @staticmethod
    def forward(ctx, x1, x2):
        a, b = x1._data, x2._data
        squares = (a * a).sum(-1)[..., :, None] + (b * b).sum(-1)[..., None, :]
        result = np.sqrt(np.maximum(squares - 2 * (a @ np.swapaxes(b, -1, -2)), 1e-30))
        result = result.astype(a.dtype, copy=False)
        ctx.save_for_backward(x1, x2, result)
        return result

    @staticmethod
    def backward(ctx, grad):
        x1, x2, result = ctx.saved_tensors
        ratio = where(result == 0, 0.0, grad / result)
        return (x1 * ratio.sum(-1, keepdim=True) - ratio @ x2,
                x2 * ratio.sum(-2).unsqueeze(-1) - ratio.mT @ x1)


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """Pairwise ``p``-norm distances between the rows of ``x1`` and of ``x2`` (batched).

    >>> import chainrule as torch
    >>> torch.cdist(torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0], [0.0, 1.0]]))
    tensor([[5., 1.]])
    """
    a, b = x1._data, x2._data
    for name, data in (("X1", a), ("X2", b)):
        if data.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {data.ndim}D")
        if data.dtype.kind != "f":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{type_label(data.dtype)}")
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {a.shape[-1]} "
                           f"X2: {b.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    matrix_product = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or (
        compute_mode == _CDIST_MODES[0] and (a.shape[-2] > 25 or b.shape[-2] > 25)))
    if not matrix_product:
        return Cdist.apply(x1, x2, p=float(p))
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    result = EuclideanDist.apply(x1.expand(batch + a.shape[-2:]), x2.expand(batch + b.shape[-2:]))
    return result.view(batch + (a.shape[-2], b.shape[-2]))
