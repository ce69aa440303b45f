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
from chainrule.transforms._color import adjust_brightness as adjust_brightness
from chainrule.transforms._color import adjust_contrast as adjust_contrast
from chainrule.transforms._color import adjust_hue as adjust_hue
from chainrule.transforms._color import adjust_saturation as adjust_saturation
from chainrule.transforms._color import rgb_to_grayscale as rgb_to_grayscale
from chainrule.transforms._color import to_grayscale as to_grayscale
from chainrule.transforms._conversion import convert_image_dtype as convert_image_dtype
from chainrule.transforms._conversion import pil_to_tensor as pil_to_tensor
from chainrule.transforms._conversion import to_pil_image as to_pil_image
from chainrule.transforms._image import array_of, channels_of, is_pil, like, spatial_axes


class InterpolationMode(Enum):
    """Resampling filters; tensors support NEAREST and BILINEAR, PIL images all of them."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


# PIL's resampling constants (Image.Resampling), by name so Pillow stays optional.
_PIL_FILTERS = {InterpolationMode.NEAREST: 0, InterpolationMode.LANCZOS: 1,
                InterpolationMode.BILINEAR: 2, InterpolationMode.BICUBIC: 3,
                InterpolationMode.BOX: 4, InterpolationMode.HAMMING: 5}


def _interpolation(mode) -> InterpolationMode:
    return InterpolationMode(getattr(mode, "value", mode))


def get_dimensions(img) -> list[int]:
    """``[channels, height, width]``."""
    width, height = get_image_size(img)
    return [channels_of(img), height, width]


_spatial_axes, _array, _like = spatial_axes, array_of, like


def get_image_size(img) -> list[int]:
    """``[width, height]``, as torchvision reports it."""
    if is_pil(img):
        return list(img.size)
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
    if interpolation not in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR):
        raise NotImplementedError(f"interpolation {interpolation.value!r} is available for PIL "
                                  f"images only; tensors and arrays support 'nearest' and "
                                  f"'bilinear'")
    moved = np.moveaxis(array, axes, (0, 1))
    h, w = moved.shape[:2]
    work = moved.astype(np.float64 if moved.dtype == np.float64 else np.float32, copy=False)
    extra = (None,) * (moved.ndim - 2)
    if interpolation == InterpolationMode.NEAREST:
        # Ties to even, as grid_sample's nearest mode rounds.
        r, c = np.rint(rows).astype(np.intp), np.rint(cols).astype(np.intp)
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
    interpolation = _interpolation(interpolation)
    if is_pil(img):
        return img.rotate(angle, _PIL_FILTERS[interpolation], expand, center,
                          fillcolor=_pil_fill(fill, img))
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
    """Resize to ``size`` ((h, w), or an int for the smaller edge); PIL images with PIL's own
    filters, tensors as ``interpolate`` (``antialias`` widens the bilinear filter when
    shrinking, as torch and PIL do)."""
    interpolation = _interpolation(interpolation)
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
    if is_pil(img):
        return img.resize((out_w, out_h), _PIL_FILTERS[interpolation])
    shrinks = out_h < h or out_w < w
    if antialias and interpolation == InterpolationMode.BILINEAR and shrinks:
        return _like(img, _antialiased_resize(_array(img), _spatial_axes(img), out_h, out_w))
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


def _antialias_weights(in_size: int, out_size: int) -> np.ndarray:
    """The out_size x in_size matrix of a triangle filter stretched by the shrink factor, each
    row normalised: PIL's and torch's antialiased bilinear resampling."""
    scale = in_size / out_size
    support = max(scale, 1.0)
    centers = (np.arange(out_size) + 0.5) * scale
    # Only pixels within the support count (PIL's xmin/xmax), even where the triangle is > 0.
    low = np.maximum((centers - support + 0.5).astype(np.int64), 0)
    high = np.minimum((centers + support + 0.5).astype(np.int64), in_size)
    pixels = np.arange(in_size)
    weights = np.maximum(0.0, 1.0 - np.abs((pixels[None, :] - centers[:, None] + 0.5) / support))
    weights *= (pixels[None, :] >= low[:, None]) & (pixels[None, :] < high[:, None])
    return weights / weights.sum(axis=1, keepdims=True)


def _antialiased_resize(array: np.ndarray, axes: tuple[int, int], out_h: int,
                        out_w: int) -> np.ndarray:
    work = array.astype(np.float64 if array.dtype == np.float64 else np.float32)
    moved = np.moveaxis(work, axes, (-2, -1))
    rows = _antialias_weights(moved.shape[-2], out_h).astype(work.dtype)
    cols = _antialias_weights(moved.shape[-1], out_w).astype(work.dtype)
    out = rows @ moved @ cols.T
    if array.dtype.kind in "ui":
        info = np.iinfo(array.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return np.moveaxis(out.astype(array.dtype), (-2, -1), axes)


def _pil_fill(fill, img):
    """A fill value in the shape PIL wants for ``img``: one number per band."""
    fill = 0 if fill is None else fill
    bands = len(img.getbands())
    if isinstance(fill, (int, float)):
        return tuple([int(fill)] * bands) if bands > 1 else int(fill)
    return tuple(int(v) for v in fill) if bands > 1 else int(fill[0])


def resized_crop(img, top: int, left: int, height: int, width: int, size,
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True):
    """``crop`` then ``resize`` to ``size``."""
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def _inverse_affine_matrix(center: Sequence[float], angle: float, translate: Sequence[float],
                           scale: float, shear: Sequence[float]) -> list[float]:
    """The output-to-input map of rotate-scale-shear about ``center`` then translate, as the
    six numbers (a, b, c, d, e, f) of x_in = a x + b y + c, y_in = d x + e y + f."""
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    matrix = [x / scale for x in (d, -b, 0.0, -c, a, 0.0)]
    matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty) + cx
    matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty) + cy
    return matrix


def affine(img, angle: float, translate: Sequence[int], scale: float, shear,
           interpolation=InterpolationMode.NEAREST, fill=None, center=None):
    """Rotate by ``angle`` degrees, scale, shear (degrees, one value or (x, y)) about the centre
    (or ``center``), then translate by ``translate`` pixels; ``fill`` outside the input."""
    interpolation = _interpolation(interpolation)
    if isinstance(shear, (int, float)):
        shear = [shear, 0.0]
    shear = list(shear) + [0.0] * (2 - len(shear))
    if len(translate) != 2:
        raise ValueError(f"Argument translate should be a sequence of length 2, got "
                         f"{len(translate)}")
    if scale <= 0.0:
        raise ValueError("Argument scale should be positive")
    width, height = get_image_size(img)
    if is_pil(img):
        pivot = [width * 0.5, height * 0.5] if center is None else center
        matrix = _inverse_affine_matrix(pivot, angle, translate, scale, shear)
        return img.transform((width, height), 0, matrix, _PIL_FILTERS[interpolation],
                             fillcolor=_pil_fill(fill, img))
    # Tensors: coordinates relative to the image centre, pixel centres at half-integers.
    pivot = [0.0, 0.0] if center is None else [c - s * 0.5 for c, s in zip(center, (width,
                                                                                     height))]
    theta = np.array(_inverse_affine_matrix(pivot, angle, translate, scale, shear),
                     dtype=np.float32).reshape(2, 3)
    # torchvision's float32 grid (normalised to [-1, 1]) and grid_sample's unnormalisation,
    # step by step, so that nearest-neighbour ties fall the same way.
    xs = np.linspace(-width * 0.5 + 0.5, width * 0.5 - 0.5, width, dtype=np.float32)
    ys = np.linspace(-height * 0.5 + 0.5, height * 0.5 - 0.5, height, dtype=np.float32)
    base = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], np.float32(1)), axis=-1)
    scaled = theta.T / np.array([0.5 * width, 0.5 * height], dtype=np.float32)
    grid = base.reshape(-1, 3) @ scaled
    cols = ((grid[:, 0] + 1) * width - 1) / 2
    rows = ((grid[:, 1] + 1) * height - 1) / 2
    cols, rows = cols.reshape(height, width), rows.reshape(height, width)
    return _like(img, _sample(_array(img), _spatial_axes(img), rows, cols, interpolation,
                              0 if fill is None else fill))


def erase(img: Tensor, i: int, j: int, h: int, w: int, v, inplace: bool = False) -> Tensor:
    """The tensor image with the ``h`` x ``w`` region at (``i``, ``j``) set to ``v``."""
    if not isinstance(img, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(img)}")
    data = img._data if inplace else img._data.copy()
    data[..., i:i + h, j:j + w] = np.asarray(getattr(v, "_data", v), dtype=data.dtype)
    return img if inplace else make_tensor(data)

