"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose1d`` and ``ConvTranspose2d``.

The layer holds ``weight`` (and ``bias``) and calls ``F.conv*d``. A
``padding_mode`` other than ``'zeros'`` pads explicitly with ``F.pad`` first
and then convolves without padding, as PyTorch does.
"""

from __future__ import annotations

import math

from chainrule._creation import empty
from chainrule._ops._util import Tensor
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.functional.conv import pair
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    spatial_dims: int
    transposed: bool = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 output_padding=0, device=None, dtype=None) -> None:
        super().__init__()
        n = self.spatial_dims
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {list(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in pair(stride, n)):
                raise ValueError("padding='same' is not supported for strided convolutions")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = pair(kernel_size, n, "kernel_size")
        self.stride = pair(stride, n, "stride")
        self.padding = padding if isinstance(padding, str) else pair(padding, n, "padding")
        self.dilation = pair(dilation, n, "dilation")
        self.output_padding = pair(output_padding, n, "output_padding")
        self.groups = groups
        self.padding_mode = padding_mode
        if self.transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(empty(shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # kaiming_uniform_(a=sqrt(5)) gives bound 1/sqrt(fan_in): PyTorch's historical default.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _explicit_padding(self) -> tuple:
        """``F.pad`` amounts (last dim first) for a non-zero ``padding_mode``."""
        if self.padding == "valid":
            return (0, 0) * self.spatial_dims
        if self.padding == "same":
            amounts = []
            for k, d in reversed(list(zip(self.kernel_size, self.dilation))):
                total = d * (k - 1)
                amounts += [total // 2, total - total // 2]
            return tuple(amounts)
        return tuple(p for p in reversed(self.padding) for _ in range(2))

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * self.spatial_dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self.spatial_dims:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self.spatial_dims:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class _Conv(_ConvNd):
    _functional = staticmethod(F.conv2d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, 0, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode != "zeros":
            input = F.pad(input, self._explicit_padding(), mode=self.padding_mode)
            return self._functional(input, self.weight, self.bias, self.stride, 0, self.dilation,
                                    self.groups)
        return self._functional(input, self.weight, self.bias, self.stride, self.padding,
                                self.dilation, self.groups)


class Conv1d(_Conv):
    """1-d convolution over ``(N, C_in, L)``; weight ``(C_out, C_in/groups, k)``."""

    spatial_dims = 1
    _functional = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-d convolution over ``(N, C_in, H, W)``; weight ``(C_out, C_in/groups, kh, kw)``.

    ``padding`` is an int, a pair, ``'valid'`` or ``'same'``; ``padding_mode`` is
    ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.

    >>> import chainrule as torch
    >>> conv = torch.nn.Conv2d(3, 8, kernel_size=3, padding=1)
    >>> conv(torch.randn(2, 3, 16, 16)).shape
    torch.Size([2, 8, 16, 16])
    """

    spatial_dims = 2
    _functional = staticmethod(F.conv2d)


class _ConvTranspose(_ConvNd):
    transposed = True
    _functional = staticmethod(F.conv_transpose2d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, output_padding, device, dtype)

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        if output_size is None:
            return self.output_padding
        n = self.spatial_dims
        wanted = tuple(output_size)[-n:]
        smallest = tuple((i - 1) * s - 2 * p + d * (k - 1) + 1 for i, s, p, d, k in zip(
            input.shape[-n:], self.stride, self.padding, self.dilation, self.kernel_size))
        extra = tuple(w - m for w, m in zip(wanted, smallest))
        if any(e < 0 or e >= s for e, s in zip(extra, self.stride)):
            raise ValueError(f"requested an output size of {list(wanted)}, but valid sizes range "
                             f"from {list(smallest)} to "
                             f"{[m + s - 1 for m, s in zip(smallest, self.stride)]} "
                             f"(for an input of {list(input.shape[-n:])})")
        return extra

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        return self._functional(input, self.weight, self.bias, self.stride, self.padding,
                                self._output_padding(input, output_size), self.groups,
                                self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """1-d transposed convolution; weight ``(C_in, C_out/groups, k)``."""

    spatial_dims = 1
    _functional = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """2-d transposed convolution (upsampling), the adjoint of ``Conv2d``;
    weight ``(C_in, C_out/groups, kh, kw)``.

    >>> import chainrule as torch
    >>> up = torch.nn.ConvTranspose2d(8, 4, kernel_size=2, stride=2)
    >>> up(torch.randn(1, 8, 5, 5)).shape
    torch.Size([1, 4, 10, 10])
    """

    spatial_dims = 2
    _functional = staticmethod(F.conv_transpose2d)
