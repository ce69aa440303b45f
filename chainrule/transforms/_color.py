"""Colour adjustments as torchvision computes them: PIL images through PIL (ImageEnhance, HSV),
tensors (float in [0, 1] or uint8) through blends with a grey image."""

from __future__ import annotations

import numpy as np

from chainrule._optional import import_optional
from chainrule._tensor import Tensor, make_tensor
from chainrule.transforms._image import array_of, channels_of, is_pil, like


def _enhance(img, name: str, factor: float):
    enhancer = getattr(import_optional("PIL.ImageEnhance", "images", "PIL images"), name)
    return enhancer(img).enhance(factor)


def _check_factor(name: str, factor: float) -> None:
    if factor < 0:
        raise ValueError(f"{name} ({factor}) is not non-negative.")


def _tensor_image(img) -> np.ndarray:
    if not isinstance(img, Tensor) and not isinstance(img, np.ndarray):
        raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")
    array = array_of(img)
    # A NumPy stand-in for a PIL image is H x W (x C); the blends work on (..., C, H, W).
    return array if isinstance(img, Tensor) else np.moveaxis(array.reshape(
        array.shape[:2] + (-1,)), -1, 0)


def _as_input(img, chw: np.ndarray):
    if isinstance(img, Tensor):
        return make_tensor(chw)
    out = np.moveaxis(chw, 0, -1)
    return like(img, out[:, :, 0] if np.ndim(img) == 2 else out)


def _grey(chw: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma, in the image's dtype (integers truncated), one channel kept."""
    r, g, b = chw[..., 0, :, :], chw[..., 1, :, :], chw[..., 2, :, :]
    luma = np.float32(0.2989) * r + np.float32(0.587) * g + np.float32(0.114) * b
    return luma.astype(chw.dtype)[..., None, :, :]


def _blend(image: np.ndarray, other, ratio: float) -> np.ndarray:
    bound = 1.0 if np.issubdtype(image.dtype, np.floating) else 255.0
    work = np.float32 if image.dtype != np.float64 else np.float64
    mixed = work(ratio) * image.astype(work) + work(1.0 - ratio) * np.asarray(other, dtype=work)
    mixed = np.clip(mixed, 0, bound)
    return mixed.astype(image.dtype)


def rgb_to_grayscale(img, num_output_channels: int = 1):
    """The luma (0.2989 R + 0.587 G + 0.114 B), repeated to ``num_output_channels`` (1 or 3)."""
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if is_pil(img):
        grey = img.convert("L")
        if num_output_channels == 1:
            return grey
        return like(img, np.dstack([np.asarray(grey)] * 3))
    chw = _tensor_image(img)
    grey = _grey(chw) if chw.shape[-3] == 3 else chw.copy()
    return _as_input(img, np.repeat(grey, num_output_channels, axis=-3))


to_grayscale = rgb_to_grayscale


def adjust_brightness(img, brightness_factor: float):
    """Multiply by ``brightness_factor`` (0 gives black, 1 the original)."""
    _check_factor("brightness_factor", brightness_factor)
    if is_pil(img):
        return _enhance(img, "Brightness", brightness_factor)
    chw = _tensor_image(img)
    return _as_input(img, _blend(chw, 0, brightness_factor))


def adjust_contrast(img, contrast_factor: float):
    """Blend with the image's mean grey level (0 gives solid grey, 1 the original)."""
    _check_factor("contrast_factor", contrast_factor)
    if is_pil(img):
        return _enhance(img, "Contrast", contrast_factor)
    chw = _tensor_image(img)
    grey = _grey(chw) if chw.shape[-3] == 3 else chw
    work = chw.dtype if np.issubdtype(chw.dtype, np.floating) else np.float32
    mean = grey.astype(work).mean(axis=(-3, -2, -1), keepdims=True)
    return _as_input(img, _blend(chw, mean, contrast_factor))


def adjust_saturation(img, saturation_factor: float):
    """Blend with the grey image (0 gives greyscale, 1 the original)."""
    _check_factor("saturation_factor", saturation_factor)
    if is_pil(img):
        return _enhance(img, "Color", saturation_factor)
    chw = _tensor_image(img)
    if chw.shape[-3] == 1:
        return img
    return _as_input(img, _blend(chw, _grey(chw), saturation_factor))


def adjust_hue(img, hue_factor: float):
    """Rotate the hue by ``hue_factor`` turns (in [-0.5, 0.5])."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    if channels_of(img) == 1:
        return img
    if is_pil(img):
        image_module = import_optional("PIL.Image", "images", "PIL images")
        h, s, v = img.convert("HSV").split()
        shifted = np.asarray(h, dtype=np.uint8) + np.array(hue_factor * 255).astype(np.uint8)
        return image_module.merge("HSV", (image_module.fromarray(shifted.astype(np.uint8), "L"),
                                          s, v)).convert(img.mode)
    chw = _tensor_image(img)
    floats = chw if np.issubdtype(chw.dtype, np.floating) else chw.astype(np.float32) / 255
    h, s, v = _rgb_to_hsv(floats)
    rgb = _hsv_to_rgb((h + hue_factor) % 1.0, s, v)
    if not np.issubdtype(chw.dtype, np.floating):
        rgb = (rgb * np.float32(255 + 1.0 - 1e-3)).astype(chw.dtype)
    return _as_input(img, rgb.astype(chw.dtype))


def _rgb_to_hsv(chw: np.ndarray):
    r, g, b = chw[..., 0, :, :], chw[..., 1, :, :], chw[..., 2, :, :]
    maxc, minc = chw.max(axis=-3), chw.min(axis=-3)
    equal = maxc == minc
    spread = maxc - minc
    s = spread / np.where(equal, np.ones_like(maxc), maxc)
    safe = np.where(equal, np.ones_like(spread), spread)
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    h = np.where(maxc == r, bc - gc, 0)
    h = h + np.where((maxc == g) & (maxc != r), 2.0 + rc - bc, 0)
    h = h + np.where((maxc != g) & (maxc != r), 4.0 + gc - rc, 0)
    h = np.fmod(h / 6.0 + 1.0, 1.0).astype(chw.dtype)
    return h, s, maxc


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int64) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    channels = [np.select([i == k for k in range(6)], [row[c] for row in table])
                for c in range(3)]
    return np.stack(channels, axis=-3).astype(v.dtype)
