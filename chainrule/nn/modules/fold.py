"""``Unfold`` (image to sliding-window columns) and ``Fold`` (columns back, summing overlaps)."""

from __future__ import annotations

from chainrule._ops._util import Tensor
from chainrule.nn import functional as F
from chainrule.nn.modules.module import Module

__all__ = ["Unfold", "Fold"]


class Unfold(Module):
    """Extract sliding ``kernel_size`` blocks: ``(N, C, H, W) -> (N, C * kh * kw, L)``, L blocks.

    >>> import chainrule as torch
    >>> torch.nn.Unfold(kernel_size=2)(torch.ones(1, 3, 4, 5)).shape
    torch.Size([1, 12, 12])
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Sum sliding blocks back into an image: ``(N, C * kh * kw, L) -> (N, C, *output_size)``.

    >>> import chainrule as torch
    >>> torch.nn.Fold(output_size=(4, 5), kernel_size=2)(torch.ones(1, 12, 12)).shape
    torch.Size([1, 3, 4, 5])
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")
