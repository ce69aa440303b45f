"""``pixel_shuffle`` and ``pixel_unshuffle``: trade channels for spatial resolution.

Both are one reshape, one transposition and one reshape of the array; each is the other's
inverse, so each one's gradient is the other applied to the output gradient.

>>> import chainrule as torch
>>> import chainrule.nn.functional as F
>>> F.pixel_shuffle(torch.arange(4.0).reshape(1, 4, 1, 1), 2)
tensor([[[[0., 1.],
          [2., 3.]]]])
"""

from __future__ import annotations

import numpy as np

from chainrule._ops._linear_map import LinearMap
from chainrule._ops._util import Tensor

__all__ = ["pixel_shuffle", "pixel_unshuffle"]


def _check_rank_and_factor(input: Tensor, factor: int, op: str, factor_name: str) -> None:
    if input.ndim < 3:
        raise RuntimeError(f"{op} expects input to have at least 3 dimensions, but got input "
                           f"with {input.ndim} dimension(s)")
    if factor <= 0:
        raise RuntimeError(f"{op} expects a positive {factor_name}, but got {factor}")


def _shuffle(x: np.ndarray, r: int) -> np.ndarray:
    *lead, channels, height, width = x.shape
    n = len(lead)
    blocks = x.reshape(*lead, channels // (r * r), r, r, height, width)
    order = tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2)
    return blocks.transpose(order).reshape(*lead, channels // (r * r), height * r, width * r)


def _unshuffle(x: np.ndarray, r: int) -> np.ndarray:
    *lead, channels, height, width = x.shape
    n = len(lead)
    blocks = x.reshape(*lead, channels, height // r, r, width // r, r)
    order = tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3)
    return blocks.transpose(order).reshape(*lead, channels * r * r, height // r, width // r)


class PixelShuffle(LinearMap):
    node_name, array_map = "PixelShuffleBackward0", staticmethod(_shuffle)


class PixelUnshuffle(LinearMap):
    node_name, array_map = "PixelUnshuffleBackward0", staticmethod(_unshuffle)


PixelShuffle.adjoint, PixelUnshuffle.adjoint = PixelUnshuffle, PixelShuffle


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """``(*, C * r**2, H, W)`` to ``(*, C, H * r, W * r)``."""
    r = upscale_factor
    _check_rank_and_factor(input, r, "pixel_shuffle", "upscale_factor")
    channels = input.shape[-3]
    if channels % (r * r):
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
            f"of upscale_factor, but input.size(-3)={channels} is not divisible by {r * r}")
    return PixelShuffle.apply(input, r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """``(*, C, H * r, W * r)`` to ``(*, C * r**2, H, W)``."""
    r = downscale_factor
    _check_rank_and_factor(input, r, "pixel_unshuffle", "downscale_factor")
    for name, dim in (("height", -2), ("width", -1)):
        if input.shape[dim] % r:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by "
                               f"downscale_factor, but input.size({dim})={input.shape[dim]} is "
                               f"not divisible by {r}")
    return PixelUnshuffle.apply(input, r)
