"""Building blocks shared by the models, with torchvision's names (``torchvision.ops.misc``)."""

from __future__ import annotations

from collections.abc import Callable

from chainrule import nn

__all__ = ["Conv2dNormActivation"]


class Conv2dNormActivation(nn.Sequential):
    """Conv2d, then a normalisation layer, then an activation (submodules ``0``, ``1``, ``2``).

    The convolution has a bias only without a normalisation layer; the padding keeps the size
    for stride 1 (``(kernel_size - 1) // 2 * dilation``).

    >>> Conv2dNormActivation(3, 8, stride=2)
    Conv2dNormActivation(
      (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)
      (1): BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
      (2): ReLU(inplace=True)
    )
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, padding: int | None = None, groups: int = 1,
                 norm_layer: Callable[..., nn.Module] | None = nn.BatchNorm2d,
                 activation_layer: Callable[..., nn.Module] | None = nn.ReLU,
                 dilation: int = 1, inplace: bool | None = True,
                 bias: bool | None = None) -> None:
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                                             padding, dilation=dilation, groups=groups,
                                             bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            extra = {} if inplace is None else {"inplace": inplace}
            layers.append(activation_layer(**extra))
        super().__init__(*layers)
        self.out_channels = out_channels
