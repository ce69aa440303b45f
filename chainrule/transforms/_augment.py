"""Random augmentations with torchvision's names, parameters and draws: ``RandomResizedCrop``,
``ColorJitter``, ``RandomAffine``, ``RandomErasing``, and the ``Grayscale`` conversion. Random
numbers come from chainrule's default generator."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence

import numpy as np

from chainrule._random import rng_of
from chainrule._tensor import Tensor
from chainrule.transforms import functional as F
from chainrule.transforms.functional import InterpolationMode


def _uniform(low: float, high: float) -> float:
    return float(rng_of(None).uniform(low, high))


def _randint(low: int, high: int) -> int:
    return int(rng_of(None).integers(low, high))


def _crop_box(height: int, width: int, scale, ratio, accept) -> tuple[int, int, int, int] | None:
    """Up to ten draws of an area fraction in ``scale`` and a log-uniform aspect ratio in
    ``ratio``; the first (h, w) that ``accept`` takes, placed uniformly, as (top, left, h, w)."""
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        area = height * width * _uniform(scale[0], scale[1])
        aspect = math.exp(_uniform(*log_ratio))
        w, h = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
        if accept(h, w):
            return _randint(0, height - h + 1), _randint(0, width - w + 1), h, w
    return None


def _size_tuple(size) -> tuple[int, int]:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError("Please provide only two dimensions (h, w) for size.")
    return tuple(size)


class RandomResizedCrop:
    """Crop a random area (fraction ``scale`` of the image, aspect ratio in ``ratio``) and
    resize it to ``size``."""

    def __init__(self, size, scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True) -> None:
        self.size = _size_tuple(size)
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            warnings.warn("Scale and ratio should be of kind (min, max)")
        self.scale, self.ratio = scale, ratio
        self.interpolation = interpolation
        self.antialias = antialias

    @staticmethod
    def get_params(img, scale: Sequence[float], ratio: Sequence[float]):
        """``(top, left, height, width)`` of a random crop; the central crop clipped to
        ``ratio`` when ten draws do not fit."""
        width, height = F.get_image_size(img)
        box = _crop_box(height, width, scale, ratio,
                        lambda h, w: 0 < w <= width and 0 < h <= height)
        if box is not None:
            return box
        in_ratio = width / height
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img):
        top, left, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, top, left, h, w, self.size, self.interpolation,
                              antialias=self.antialias)

    def __repr__(self) -> str:
        interpolation = F._interpolation(self.interpolation).value
        return (f"{type(self).__name__}(size={self.size}, "
                f"scale={tuple(round(s, 4) for s in self.scale)}, "
                f"ratio={tuple(round(r, 4) for r in self.ratio)}, "
                f"interpolation={interpolation}, antialias={self.antialias})")


def _factor_range(value, name: str, center: float = 1.0, bound=(0, float("inf")),
                  clip_first_on_zero: bool = True):
    """A jitter amount as a [min, max] range (None when it leaves the image unchanged)."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be non negative.")
        value = [center - float(value), center + float(value)]
        if clip_first_on_zero:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
    else:
        raise TypeError(f"{name} should be a single number or a list/tuple with length 2.")
    if not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f"{name} values should be between {bound}, but got {value}.")
    return None if value[0] == value[1] == center else tuple(value)


class ColorJitter:
    """Randomly change brightness, contrast, saturation and hue, in a random order."""

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0) -> None:
        self.brightness = _factor_range(brightness, "brightness")
        self.contrast = _factor_range(contrast, "contrast")
        self.saturation = _factor_range(saturation, "saturation")
        self.hue = _factor_range(hue, "hue", center=0, bound=(-0.5, 0.5),
                                 clip_first_on_zero=False)

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """The order of the four adjustments and each one's factor (None: skipped)."""
        order = rng_of(None).permutation(4)
        factors = [None if r is None else _uniform(r[0], r[1])
                   for r in (brightness, contrast, saturation, hue)]
        return (order, *factors)

    def __call__(self, img):
        order, *factors = self.get_params(self.brightness, self.contrast, self.saturation,
                                          self.hue)
        adjust = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue)
        for index in order:
            if factors[index] is not None:
                img = adjust[index](img, factors[index])
        return img

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}, hue={self.hue})")


class Grayscale:
    """Convert to greyscale with ``num_output_channels`` (1 or 3) channels."""

    def __init__(self, num_output_channels: int = 1) -> None:
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        return F.rgb_to_grayscale(img, self.num_output_channels)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_output_channels={self.num_output_channels})"


def _symmetric_range(value, name: str, length: int = 2) -> list[float]:
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be positive.")
        return [-float(value), float(value)]
    if len(value) not in (2, length):
        raise ValueError(f"{name} should be a sequence of length 2" +
                         (f" or {length}." if length != 2 else "."))
    return [float(v) for v in value]


class RandomAffine:
    """Random rotation (``degrees``), translation (fractions ``translate`` of width and height),
    ``scale`` and ``shear`` (degrees), applied with ``functional.affine``."""

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation=InterpolationMode.NEAREST, fill=0, center=None) -> None:
        self.degrees = _symmetric_range(degrees, "degrees")
        if translate is not None:
            if len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError("translation values should be between 0 and 1")
        if scale is not None and (len(scale) != 2 or any(s <= 0 for s in scale)):
            raise ValueError("scale values should be positive")
        self.translate, self.scale = translate, scale
        self.shear = None if shear is None else _symmetric_range(shear, "shear", 4)
        self.interpolation, self.fill, self.center = interpolation, fill, center

    @staticmethod
    def get_params(degrees, translate, scale_ranges, shears, img_size):
        """``(angle, (tx, ty), scale, (shear_x, shear_y))``; ``img_size`` is (width, height)."""
        angle = _uniform(degrees[0], degrees[1])
        translations = (0, 0)
        if translate is not None:
            max_dx, max_dy = translate[0] * img_size[0], translate[1] * img_size[1]
            translations = (int(round(_uniform(-max_dx, max_dx))),
                            int(round(_uniform(-max_dy, max_dy))))
        scale = 1.0 if scale_ranges is None else _uniform(scale_ranges[0], scale_ranges[1])
        shear = [0.0, 0.0]
        if shears is not None:
            shear[0] = _uniform(shears[0], shears[1])
            if len(shears) == 4:
                shear[1] = _uniform(shears[2], shears[3])
        return angle, translations, scale, tuple(shear)

    def __call__(self, img):
        params = self.get_params(self.degrees, self.translate, self.scale, self.shear,
                                 F.get_image_size(img))
        return F.affine(img, *params, interpolation=self.interpolation, fill=self.fill,
                        center=self.center)

    def __repr__(self) -> str:
        parts = [f"degrees={self.degrees}"]
        for name in ("translate", "scale", "shear"):
            if getattr(self, name) is not None:
                parts.append(f"{name}={getattr(self, name)}")
        if F._interpolation(self.interpolation) != InterpolationMode.NEAREST:
            parts.append(f"interpolation={F._interpolation(self.interpolation).value}")
        if self.fill != 0:
            parts.append(f"fill={self.fill}")
        if self.center is not None:
            parts.append(f"center={self.center}")
        return f"{type(self).__name__}({', '.join(parts)})"


class RandomErasing:
    """With probability ``p``, set a random rectangle of a tensor image (area fraction
    ``scale``, aspect ratio ``ratio``) to ``value``: a number, one per channel, or
    ``"random"`` for standard-normal noise."""

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0,
                 inplace: bool = False) -> None:
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError("Argument value should be either a number or str or a sequence")
        if isinstance(value, str) and value != "random":
            raise ValueError("If value is str, it should be 'random'")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            warnings.warn("Scale and ratio should be of kind (min, max)")
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError("Scale should be between 0 and 1")
        if p < 0 or p > 1:
            raise ValueError("Random erasing probability should be between 0 and 1")
        self.p, self.scale, self.ratio, self.value, self.inplace = p, scale, ratio, value, inplace

    @staticmethod
    def get_params(img: Tensor, scale, ratio, value=None):
        """``(top, left, h, w, v)``; the whole image (and ``v`` the image) when ten draws do not
        fit strictly inside it."""
        channels, height, width = img.shape[-3], img.shape[-2], img.shape[-1]
        box = _crop_box(height, width, scale, ratio, lambda h, w: h < height and w < width)
        if box is None:
            return 0, 0, height, width, img
        top, left, h, w = box
        if value is None:
            v = rng_of(None).standard_normal((channels, h, w)).astype(np.float32)
        else:
            v = np.asarray(value, dtype=np.float32)[:, None, None]
        return top, left, h, w, v

    def __call__(self, img):
        if rng_of(None).random() >= self.p:
            return img
        value = self.value
        if isinstance(value, numbers.Number):
            value = [float(value)]
        elif isinstance(value, str):
            value = None
        elif isinstance(value, (tuple, list)):
            value = [float(v) for v in value]
        if value is not None and len(value) not in (1, img.shape[-3]):
            raise ValueError(f"If value is a sequence, it should have either a single value or "
                             f"{img.shape[-3]} (number of input channels)")
        top, left, h, w, v = self.get_params(img, self.scale, self.ratio, value)
        return F.erase(img, top, left, h, w, v, self.inplace)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(p={self.p}, scale={self.scale}, ratio={self.ratio}, "
                f"value={self.value}, inplace={self.inplace})")
