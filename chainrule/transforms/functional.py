"""Image operations behind the transforms, on NumPy images (H x W [x C]) or tensors (... x H x W).

A NumPy array stands in for a PIL image: its spatial axes are the first two. A tensor's
spatial axes are the last two, as in torchvision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import Enum

import numpy as np

from chainrule._tensor import Tensor, make_tensor


class InterpolationMode(Enum):
    NEAREST = "nearest"
    BILINEAR = "bilinear"


def _spatial_axes(img) -> tuple[int, int]:
    return (-2, -1) if isinstance(img, Tensor) else (0, 1)


def _array(img) -> np.ndarray:
    return img._data if isinstance(img, Tensor) else np.asarray(img)


def _like(img, array: np.ndarray):
    return make_tensor(array) if isinstance(img, Tensor) else array


def get_image_size(img) -> list[int]:
    """``[width, height]``, as torchvision reports it."""
    h_axis, w_axis = _spatial_axes(img)
    shape = _array(img).shape
    return [shape[w_axis], shape[h_axis]]


def to_tensor(pic: np.ndarray) -> Tensor:
    """H x W (x C) array to a C x H x W tensor; uint8 is scaled to float32 in [0, 1]."""
    if isinstance(pic, Tensor):
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    pic = np.asarray(pic)
    if pic.ndim not in (2, 3):
        raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
    image = pic[None] if pic.ndim == 2 else pic.transpose(2, 0, 1)
    if image.dtype == np.uint8:
        return make_tensor(np.multiply(image, np.float32(1 / 255), dtype=np.float32))
    return make_tensor(np.ascontiguousarray(image))


def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float],
              inplace: bool = False) -> Tensor:
    """``(tensor - mean) / std`` per channel of a (..., C, H, W) float tensor."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.dim() < 3:
        raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tuple(tensor.shape)}")
    data = tensor._data
    mean = np.asarray(mean, dtype=data.dtype).reshape(-1)
    std = np.asarray(std, dtype=data.dtype).reshape(-1)
    if (std == 0).any():
        raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}, leading to "
                         f"division by zero.")
    channels = data.shape[-3]
    # Old torchvision zipped channels with mean/std, so a 3-value Normalize worked on greyscale
    # images; keep that for single-channel images.
    if channels == 1:
        mean, std = mean[:1], std[:1]
    if len(mean) not in (1, channels) or len(std) not in (1, channels):
        raise RuntimeError(f"The size of mean ({len(mean)}) and std ({len(std)}) must match the "
                           f"number of channels ({channels}) of the image {tuple(tensor.shape)}")
    mean, std = mean[:, None, None], std[:, None, None]
    if inplace:
        np.subtract(data, mean, out=data)
        np.divide(data, std, out=data)
        return tensor
    return make_tensor((data - mean) / std)


def hflip(img):
    return _like(img, np.flip(_array(img), axis=_spatial_axes(img)[1]).copy())


def vflip(img):
    return _like(img, np.flip(_array(img), axis=_spatial_axes(img)[0]).copy())


def _padding_ltrb(padding) -> tuple[int, int, int, int]:
    if isinstance(padding, int):
        return padding, padding, padding, padding
    padding = tuple(padding)
    if len(padding) == 1:
        return padding * 4
    if len(padding) == 2:
        return padding[0], padding[1], padding[0], padding[1]
    if len(padding) == 4:
        return padding
    raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a "
                     f"{len(padding)} element tuple")


def pad(img, padding, fill: float = 0, padding_mode: str = "constant"):
    """Pad the borders: ``padding`` is an int, (left/right, top/bottom) or (l, t, r, b)."""
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    left, top, right, bottom = _padding_ltrb(padding)
    array = _array(img)
    h_axis, w_axis = _spatial_axes(img)
    widths = [(0, 0)] * array.ndim
    widths[h_axis] = (top, bottom)
    widths[w_axis] = (left, right)
    kwargs = {"constant_values": fill} if padding_mode == "constant" else {}
    return _like(img, np.pad(array, widths, mode=padding_mode, **kwargs))


def crop(img, top: int, left: int, height: int, width: int):
    """The ``height`` x ``width`` region at (``top``, ``left``), zero-padded where outside."""
    array = _array(img)
    h_axis, w_axis = _spatial_axes(img)
    h, w = array.shape[h_axis], array.shape[w_axis]
    outside = (max(0, -left), max(0, -top), max(0, left + width - w), max(0, top + height - h))
    if any(outside):
        img = pad(img, outside)
        array = _array(img)
        top, left = top + outside[1], left + outside[0]
    index = [slice(None)] * array.ndim
    index[h_axis] = slice(top, top + height)
    index[w_axis] = slice(left, left + width)
    return _like(img, array[tuple(index)].copy())


def _size_pair(size) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    size = tuple(size)
    return (size[0], size[0]) if len(size) == 1 else (size[0], size[1])


def center_crop(img, output_size):
    """The centre region of ``output_size`` (an int or (h, w)), padding if it is larger."""
    th, tw = _size_pair(output_size)
    w, h = get_image_size(img)
    return crop(img, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)


def _sample(array: np.ndarray, axes: tuple[int, int], rows: np.ndarray, cols: np.ndarray,
            interpolation: InterpolationMode, fill: float) -> np.ndarray:
    """Values at fractional (rows, cols) (each an out_h x out_w grid); ``fill`` outside."""
    moved = np.moveaxis(array, axes, (0, 1))
    h, w = moved.shape[:2]
    work = moved.astype(np.float64 if moved.dtype == np.float64 else np.float32, copy=False)
    extra = (None,) * (moved.ndim - 2)
    if interpolation == InterpolationMode.NEAREST:
        r, c = np.floor(rows + 0.5).astype(np.intp), np.floor(cols + 0.5).astype(np.intp)
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        out = work[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)]
        out = np.where(inside[(...,) + extra], out, fill)
    else:
        r0, c0 = np.floor(rows).astype(np.intp), np.floor(cols).astype(np.intp)
        fr, fc = (rows - r0).astype(work.dtype), (cols - c0).astype(work.dtype)
        out = 0
        for dr, wr in ((0, 1 - fr), (1, fr)):
            for dc, wc in ((0, 1 - fc), (1, fc)):
                r, c = r0 + dr, c0 + dc
                inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
                value = np.where(inside[(...,) + extra],
                                 work[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)], fill)
                out = out + value * (wr * wc)[(...,) + extra]
    if array.dtype.kind in "ui":
        info = np.iinfo(array.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return np.moveaxis(out.astype(array.dtype), (0, 1), axes)


def rotate(img, angle: float, interpolation=InterpolationMode.NEAREST, expand: bool = False,
           center: Sequence[float] | None = None, fill: float | None = None):
    """Rotate counter-clockwise by ``angle`` degrees about the centre (or ``center``)."""
    interpolation = InterpolationMode(getattr(interpolation, "value", interpolation))
    array = _array(img)
    axes = _spatial_axes(img)
    h, w = array.shape[axes[0]], array.shape[axes[1]]
    cx, cy = ((w - 1) / 2, (h - 1) / 2) if center is None else (center[0], center[1])
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    out_h, out_w = h, w
    if expand:
        out_w = int(math.ceil(abs(w * cos) + abs(h * sin) - 1e-9))
        out_h = int(math.ceil(abs(w * sin) + abs(h * cos) - 1e-9))
    oy, ox = np.mgrid[0:out_h, 0:out_w].astype(np.float64)
    out_cx, out_cy = ((out_w - 1) / 2, (out_h - 1) / 2) if expand else (cx, cy)
    dx, dy = ox - out_cx, oy - out_cy
    # Inverse mapping: each output pixel reads the input at the point rotated back onto it.
    cols = cx + dx * cos - dy * sin
    rows = cy + dx * sin + dy * cos
    return _like(img, _sample(array, axes, rows, cols, interpolation, 0 if fill is None else fill))


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size: int | None = None,
           antialias: bool | None = True):
    """Resize to ``size`` ((h, w), or an int for the smaller edge), without antialiasing."""
    interpolation = InterpolationMode(getattr(interpolation, "value", interpolation))
    w, h = get_image_size(img)
    if isinstance(size, int) or len(size) == 1:
        short = size if isinstance(size, int) else size[0]
        if w <= h:
            out_w, out_h = short, int(short * h / w)
        else:
            out_h, out_w = short, int(short * w / h)
        if max_size is not None and max(out_h, out_w) > max_size:
            scale = max_size / max(out_h, out_w)
            out_h, out_w = int(out_h * scale), int(out_w * scale)
    else:
        out_h, out_w = size
    # Half-pixel centres (align_corners=False), as torchvision's tensor resize uses.
    rows = (np.arange(out_h) + 0.5) * (h / out_h) - 0.5
    cols = (np.arange(out_w) + 0.5) * (w / out_w) - 0.5
    if interpolation == InterpolationMode.NEAREST:
        rows = np.floor((np.arange(out_h)) * (h / out_h))
        cols = np.floor((np.arange(out_w)) * (w / out_w))
    else:
        rows, cols = np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)
    grid_r, grid_c = np.meshgrid(rows, cols, indexing="ij")
    return _like(img, _sample(_array(img), _spatial_axes(img), grid_r, grid_c, interpolation, 0))
