"""Sliding windows as strided views: the plain NumPy formula of im2col and of its adjoint.

``window_view`` reads every window of an image at once, without copying; ``add_windows`` adds
values back onto the positions they were read from, one strided add per kernel position.
Convolution, unfold/fold and pooling all slide a window this way.

>>> import numpy as np
>>> image = np.arange(9.0).reshape(1, 1, 3, 3)
>>> window_view(image, (2, 2), (2, 2), (1, 1), (1, 1))[0, 0, :, :, 0, 0]  # the first window
array([[0., 1.],
       [3., 4.]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = ["window_view", "add_windows", "remembered"]

T = TypeVar("T")


def window_view(padded: np.ndarray, kernel: tuple, out_size: tuple, stride: tuple,
                dilation: tuple) -> np.ndarray:
    """``(..., kh, kw, Ho, Wo)`` read-only view: ``[..., i, j, h, w]`` is
    ``padded[..., h*sh + i*dh, w*sw + j*dw]``."""
    *lead, row, col = padded.strides
    return as_strided(padded, padded.shape[:-2] + tuple(kernel) + tuple(out_size),
                      tuple(lead) + (row * dilation[0], col * dilation[1],
                                     row * stride[0], col * stride[1]), writeable=False)


def add_windows(padded: np.ndarray, columns: np.ndarray, stride: tuple, dilation: tuple) -> None:
    """The reverse of ``window_view``: add ``columns[..., i, j, h, w]`` into
    ``padded[..., h*sh + i*dh, w*sw + j*dw]`` (one strided add per kernel position)."""
    kh, kw, ho, wo = columns.shape[-4:]
    *lead, row, col = padded.strides
    strides = tuple(lead) + (row * stride[0], col * stride[1])
    shape = padded.shape[:-2] + (ho, wo)
    for i in range(kh):
        for j in range(kw):
            target = as_strided(padded[..., i * dilation[0]:, j * dilation[1]:], shape, strides)
            target += columns[..., i, j, :, :]


def remembered(cache: dict, key: tuple, build: Callable[[], T]) -> T:
    """``build()``, kept in ``cache`` under ``key``: a training loop asks for the same few
    window geometries every step. A key that cannot be hashed (a list among the arguments) is
    not kept."""
    try:
        return cache[key]
    except KeyError:
        pass
    except TypeError:
        return build()
    if len(cache) > 512:
        cache.clear()
    value = cache[key] = build()
    return value
