"""``Dropout2d``: drop whole channels (feature maps), as neighbouring pixels are correlated."""

from __future__ import annotations

from chainrule._ops._util import Tensor
from chainrule.nn import functional as F
from chainrule.nn.modules.dropout import _DropoutNd

__all__ = ["Dropout2d"]


class Dropout2d(_DropoutNd):
    """Zero each channel of ``(N, C, H, W)`` with probability ``p`` while training.

    >>> import chainrule as torch
    >>> torch.nn.Dropout2d(0.5).eval()(torch.ones(1, 2, 1, 1)).shape
    torch.Size([1, 2, 1, 1])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)
