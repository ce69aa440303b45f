"""Padding layers: ``ReflectionPad``, ``ReplicationPad``, ``CircularPad``, ``ConstantPad`` and
``ZeroPad`` in 1, 2 and 3 dims, each a module around ``F.pad`` with one mode.

``padding`` is an int (the same on every side) or a tuple ``(left, right[, top, bottom[,
front, back]])``, last dim first, as in ``F.pad``.

>>> import chainrule as torch
>>> torch.nn.ReflectionPad1d(2)(torch.tensor([[[1.0, 2.0, 3.0]]]))
tensor([[[3., 2., 1., 2., 3., 2., 1.]]])
"""

from __future__ import annotations

from chainrule._ops._util import Tensor
from chainrule.nn import functional as F
from chainrule.nn.modules.module import Module

__all__ = ["ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
           "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d",
           "CircularPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d",
           "ZeroPad2d", "ZeroPad3d"]


class _PadNd(Module):
    mode: str
    padded_dims: int

    def __init__(self, padding) -> None:
        super().__init__()
        if isinstance(padding, int):
            padding = (padding,) * (2 * self.padded_dims)
        self.padding = tuple(padding)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    mode = "constant"

    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Mirror the last dim of ``(C, W)`` or ``(N, C, W)`` about its edges."""

    mode, padded_dims = "reflect", 1


class ReflectionPad2d(_PadNd):
    """Mirror the last two dims about their edges."""

    mode, padded_dims = "reflect", 2


class ReflectionPad3d(_PadNd):
    """Mirror the last three dims about their edges."""

    mode, padded_dims = "reflect", 3


class ReplicationPad1d(_PadNd):
    """Repeat the edge values of the last dim."""

    mode, padded_dims = "replicate", 1


class ReplicationPad2d(_PadNd):
    """Repeat the edge values of the last two dims."""

    mode, padded_dims = "replicate", 2


class ReplicationPad3d(_PadNd):
    """Repeat the edge values of the last three dims."""

    mode, padded_dims = "replicate", 3


class CircularPad1d(_PadNd):
    """Wrap the last dim around."""

    mode, padded_dims = "circular", 1


class CircularPad2d(_PadNd):
    """Wrap the last two dims around."""

    mode, padded_dims = "circular", 2


class CircularPad3d(_PadNd):
    """Wrap the last three dims around."""

    mode, padded_dims = "circular", 3


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``."""

    padded_dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with ``value``."""

    padded_dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with ``value``."""

    padded_dims = 3


class ZeroPad1d(_ZeroPadNd):
    """Pad the last dim with zeros."""

    padded_dims = 1


class ZeroPad2d(_ZeroPadNd):
    """Pad the last two dims with zeros.

    >>> import chainrule as torch
    >>> torch.nn.ZeroPad2d((1, 1, 2, 0))
    ZeroPad2d((1, 1, 2, 0))
    """

    padded_dims = 2


class ZeroPad3d(_ZeroPadNd):
    """Pad the last three dims with zeros."""

    padded_dims = 3
