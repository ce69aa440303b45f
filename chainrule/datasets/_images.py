"""Images handed to transforms as torchvision hands them: PIL images when Pillow is installed,
otherwise the NumPy arrays (H x W [x C]) that chainrule's transforms accept in their place."""

from __future__ import annotations

import importlib

import numpy as np


def pil_image_module():
    """``PIL.Image``, or None when Pillow is not installed."""
    try:
        return importlib.import_module("PIL.Image")
    except ImportError:
        return None


def as_image(pixels: np.ndarray):
    """A uint8 H x W (x C) array as a PIL image (mode L or RGB), or the array without Pillow."""
    image_module = pil_image_module()
    return pixels if image_module is None else image_module.fromarray(np.ascontiguousarray(pixels))


def transformed(dataset, sample, target: int):
    """``(sample, target)`` through the dataset's ``transform`` and ``target_transform``."""
    if dataset.transform is not None:
        sample = dataset.transform(sample)
    if dataset.target_transform is not None:
        target = dataset.target_transform(target)
    return sample, target
