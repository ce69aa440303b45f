"""``CosineSimilarity`` and ``PairwiseDistance``: the paired-vector measures as layers."""

from __future__ import annotations

from chainrule._ops._util import Tensor
from chainrule.nn import functional as F
from chainrule.nn.modules.module import Module

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """Cosine similarity of ``x1`` and ``x2`` along ``dim``.

    Input: ``x1`` ``(*, D, *)`` and ``x2`` broadcastable to it; output: ``(*, *)``.

    >>> import chainrule as torch
    >>> torch.nn.CosineSimilarity(dim=1)(torch.ones(2, 3), torch.ones(2, 3))
    tensor([1.0000, 1.0000])
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """The ``p``-norm distance of each row of ``x1`` to the same row of ``x2``.

    Input: ``(N, D)`` or ``(D,)``, broadcasting; output: ``(N)`` or ``()`` (``(N, 1)`` with
    ``keepdim``).
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
