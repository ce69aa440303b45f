"""What an image is to the transforms: a tensor (... x C x H x W), a PIL image, or a NumPy
array (H x W [x C]) standing in for a PIL image where Pillow is not installed."""

from __future__ import annotations

import numpy as np

from chainrule._optional import import_optional
from chainrule._tensor import Tensor, make_tensor


def is_pil(img) -> bool:
    """Whether ``img`` is a PIL image (checked without importing Pillow)."""
    return type(img).__module__.startswith("PIL.")


def pil_image_module():
    return import_optional("PIL.Image", "images", "PIL images")


def spatial_axes(img) -> tuple[int, int]:
    return (-2, -1) if isinstance(img, Tensor) else (0, 1)


def array_of(img) -> np.ndarray:
    return img._data if isinstance(img, Tensor) else np.asarray(img)


def like(img, array: np.ndarray):
    """``array`` as the same kind of image as ``img``."""
    if isinstance(img, Tensor):
        return make_tensor(array)
    if is_pil(img):
        return pil_image_module().fromarray(np.ascontiguousarray(array))
    return array


def channels_of(img) -> int:
    if isinstance(img, Tensor):
        return 1 if img.dim() == 2 else img.shape[-3]
    if is_pil(img):
        return len(img.getbands())
    return 1 if np.ndim(img) == 2 else np.shape(img)[2]
