"""VGG-11/16 with and without batch norm (Simonyan & Zisserman, 2014), as torchvision builds them."""

from __future__ import annotations

from typing import Any

import chainrule
from chainrule import nn
from chainrule.vision.models._api import (
    WeightsEnum,
    imagenet_weights,
    register_model,
    resolve_weights,
)

__all__ = ["VGG", "VGG11_Weights", "VGG11_BN_Weights", "VGG16_Weights", "VGG16_BN_Weights",
           "vgg11", "vgg11_bn", "vgg16", "vgg16_bn"]


class VGG(nn.Module):
    """``features`` (convolutions and max-pools), a 7x7 average pool, a 3-layer ``classifier``.

    Input: ``(N, 3, H, W)`` with H, W >= 32. Output: ``(N, num_classes)``.
    """

    def __init__(self, features: nn.Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(chainrule.flatten(x, 1))


def make_layers(cfg: list[str | int], batch_norm: bool = False) -> nn.Sequential:
    """3x3 convolutions with the channel counts in ``cfg``, ``"M"`` for a 2x2 max-pool."""
    layers: list[nn.Module] = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, int(v), kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(int(v)))
        layers.append(nn.ReLU(inplace=True))
        in_channels = int(v)
    return nn.Sequential(*layers)


cfgs: dict[str, list[str | int]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def _vgg(cfg: str, batch_norm: bool, weights, enum: type[WeightsEnum], **kwargs: Any) -> VGG:
    resolve_weights(weights, enum)
    return VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), **kwargs)


_URL = "https://download.pytorch.org/models/"
_MIN = (32, 32)


class VGG11_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(_URL + "vgg11-8a719046.pth", 132863336, 69.020, 88.628, _MIN)
    DEFAULT = IMAGENET1K_V1


class VGG11_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(_URL + "vgg11_bn-6002323d.pth", 132868840, 70.370, 89.810,
                                     _MIN)
    DEFAULT = IMAGENET1K_V1


class VGG16_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(_URL + "vgg16-397923af.pth", 138357544, 71.592, 90.382, _MIN)
    IMAGENET1K_FEATURES = imagenet_weights(_URL + "vgg16_features-amdegroot-88682ab5.pth",
                                           138357544, float("nan"), float("nan"), _MIN)
    IMAGENET1K_FEATURES.meta["categories"] = None  # only ``features`` holds trained values
    DEFAULT = IMAGENET1K_V1


class VGG16_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(_URL + "vgg16_bn-6c64b313.pth", 138365992, 73.360, 91.516,
                                     _MIN)
    DEFAULT = IMAGENET1K_V1


@register_model(VGG11_Weights)
def vgg11(*, weights: VGG11_Weights | None = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-11 (configuration "A"). ``weights`` other than None raise (no downloads)."""
    return _vgg("A", False, weights, VGG11_Weights, **kwargs)


@register_model(VGG11_BN_Weights)
def vgg11_bn(*, weights: VGG11_BN_Weights | None = None, progress: bool = True,
             **kwargs: Any) -> VGG:
    """VGG-11 with batch norm. ``weights`` other than None raise (no downloads)."""
    return _vgg("A", True, weights, VGG11_BN_Weights, **kwargs)


@register_model(VGG16_Weights)
def vgg16(*, weights: VGG16_Weights | None = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-16 (configuration "D"). ``weights`` other than None raise (no downloads)."""
    return _vgg("D", False, weights, VGG16_Weights, **kwargs)


@register_model(VGG16_BN_Weights)
def vgg16_bn(*, weights: VGG16_BN_Weights | None = None, progress: bool = True,
             **kwargs: Any) -> VGG:
    """VGG-16 with batch norm. ``weights`` other than None raise (no downloads)."""
    return _vgg("D", True, weights, VGG16_BN_Weights, **kwargs)
