"""torchvision's image utilities: ``make_grid``, ``save_image``, ``draw_bounding_boxes``.

>>> import chainrule
>>> make_grid(chainrule.zeros(5, 3, 4, 4), nrow=2, padding=1).shape
torch.Size([3, 16, 11])
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np

import chainrule
from chainrule._tensor import Tensor, make_tensor
from chainrule.serialization import atomic_writer
from chainrule.vision._pillow import pillow

__all__ = ["make_grid", "save_image", "draw_bounding_boxes"]


def make_grid(tensor: Tensor | list[Tensor], nrow: int = 8, padding: int = 2,
              normalize: bool = False, value_range: tuple[float, float] | None = None,
              scale_each: bool = False, pad_value: float = 0.0) -> Tensor:
    """Tile a batch ``(B, C, H, W)`` (or a list of ``(C, H, W)`` images) into one image, ``nrow``
    per row, with ``padding`` pixels of ``pad_value`` between; 1-channel images become RGB.
    ``normalize`` shifts each value into [0, 1] by ``value_range`` (default: min and max, of
    each image with ``scale_each``)."""
    if not isinstance(tensor, Tensor):
        if not isinstance(tensor, list):
            raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
        for t in tensor:
            if not isinstance(t, Tensor):
                raise TypeError(f"tensor or list of tensors expected, got a list containing "
                                f"{type(t)}")
        tensor = chainrule.stack(tensor, dim=0)
    if tensor.dim() == 2:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 3:
        if tensor.size(0) == 1:
            tensor = chainrule.cat((tensor, tensor, tensor), 0)
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 4 and tensor.size(1) == 1:
        tensor = chainrule.cat((tensor, tensor, tensor), 1)
    if normalize is True:
        tensor = tensor.clone()
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max "
                            "are numbers")
        for image in (tensor if scale_each is True else [tensor]):
            _normalize_in_place(image, value_range)
    if tensor.size(0) == 1:
        return tensor.squeeze(0)
    count = tensor.size(0)
    columns = min(nrow, count)
    rows = int(math.ceil(count / columns))
    height, width = tensor.size(2) + padding, tensor.size(3) + padding
    grid = tensor.new_full((tensor.size(1), height * rows + padding, width * columns + padding),
                           pad_value)
    for k in range(count):
        y, x = divmod(k, columns)
        grid.narrow(1, y * height + padding, height - padding).narrow(
            2, x * width + padding, width - padding).copy_(tensor[k])
    return grid


def _normalize_in_place(image: Tensor, value_range: tuple[float, float] | None) -> None:
    low, high = value_range if value_range is not None else (float(image.min()),
                                                             float(image.max()))
    image.clamp_(min=low, max=high)
    image.sub_(low).div_(max(high - low, 1e-5))


def save_image(tensor: Tensor | list[Tensor], fp: Any, format: str | None = None,
               **kwargs: Any) -> None:
    """Save ``make_grid(tensor, **kwargs)`` (values in [0, 1]) as an image file (needs Pillow);
    the format comes from ``fp``'s extension unless ``format`` is given. A path is written
    atomically: a failed save leaves the old file as it was."""
    grid = make_grid(tensor, **kwargs)
    array = grid.detach().numpy().astype(np.float32) * np.float32(255) + np.float32(0.5)
    pixels = np.clip(array, 0, 255).transpose(1, 2, 0).astype(np.uint8)
    picture = pillow().fromarray(pixels)
    if not isinstance(fp, (str, os.PathLike)):
        picture.save(fp, format=format)
        return
    if format is None:
        # Pillow would guess it from the temporary file's name, so it is looked up here.
        extension = os.path.splitext(fp)[1].lower()
        format = pillow().registered_extensions().get(extension)
        if format is None:
            raise ValueError(f"unknown file extension: {extension}")
    with atomic_writer(fp) as out:
        picture.save(out, format=format)


def _palette(count: int) -> list[tuple[int, int, int]]:
    palette = np.array([2**25 - 1, 2**15 - 1, 2**21 - 1])
    return [tuple(int(c) for c in (i * palette) % 255) for i in range(count)]


def _parse_colors(colors, count: int) -> list:
    if colors is None:
        return _palette(count)
    if isinstance(colors, list):
        if len(colors) < count:
            raise ValueError(f"Number of colors must be equal or larger than the number of "
                             f"objects, but got {len(colors)} < {count}.")
    elif not isinstance(colors, (tuple, str)):
        raise ValueError(f"colors must be a tuple or a string, or a list thereof, but got "
                         f"{colors}.")
    elif isinstance(colors, tuple) and len(colors) != 3:
        raise ValueError(f"If passed as tuple, colors should be an RGB triplet, but got {colors}.")
    else:
        colors = [colors] * count
    image_color = pillow("PIL.ImageColor")
    return [image_color.getrgb(c) if isinstance(c, str) else tuple(c) for c in colors]


def draw_bounding_boxes(image: Tensor, boxes: Tensor, labels: list[str] | None = None,
                        colors=None, fill: bool | None = False, width: int = 1,
                        font: str | None = None, font_size: int | None = None) -> Tensor:
    """Draw ``(xmin, ymin, xmax, ymax)`` boxes (and their ``labels``) on a ``(C, H, W)`` uint8
    or float image with Pillow; returns a new image of the same dtype. ``fill`` shades each box
    with its colour at alpha 100."""
    if not isinstance(image, Tensor):
        raise TypeError(f"Tensor expected, got {type(image)}")
    if not (image.dtype == chainrule.uint8 or image.is_floating_point()):
        raise ValueError(f"The image dtype must be uint8 or float, got {image.dtype}")
    if image.dim() != 3:
        raise ValueError("Pass individual images, not batches")
    if image.size(0) not in {1, 3}:
        raise ValueError("Only grayscale and RGB images are supported")
    corners = np.asarray(boxes.numpy() if isinstance(boxes, Tensor) else boxes)
    if corners.shape[-1] != 4:
        raise NotImplementedError(f"only (N, 4) boxes are supported, got {tuple(corners.shape)}")
    if (corners[:, 0] > corners[:, 2]).any() or (corners[:, 1] > corners[:, 3]).any():
        raise ValueError("Boxes need to be in (xmin, ymin, xmax, ymax) format. Use "
                         "torchvision.ops.box_convert to convert them")
    if len(corners) == 0:
        warnings.warn("boxes doesn't contain any box. No box was drawn")
        return image
    if labels is None:
        labels = [None] * len(corners)
    elif len(labels) != len(corners):
        raise ValueError(f"Number of boxes ({len(corners)}) and labels ({len(labels)}) mismatch. "
                         f"Please specify labels for each box.")
    colors = _parse_colors(colors, len(corners))
    image_font = pillow("PIL.ImageFont")
    if font is None:
        if font_size is not None:
            warnings.warn("Argument 'font_size' will be ignored since 'font' is not set.")
        text_font = image_font.load_default()
    else:
        text_font = image_font.truetype(font=font, size=font_size or 10)
    pixels = image.detach().numpy()
    if image.size(0) == 1:
        pixels = np.tile(pixels, (3, 1, 1))
    if image.is_floating_point():
        pixels = (pixels * np.float32(255 + 1.0 - 1e-3)).astype(np.uint8)  # as torchvision's to_dtype
    canvas = pillow().fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0)))
    draw = pillow("PIL.ImageDraw").Draw(canvas, "RGBA" if fill else None)
    for box, color, label in zip(corners.astype(np.int64).tolist(), colors, labels):
        draw.rectangle(box, width=width, outline=color, fill=color + (100,) if fill else None)
        if label is not None:
            draw.text((box[0] + width + 1, box[1] + width + 1), label, fill=color, font=text_font)
    out = np.asarray(canvas).transpose(2, 0, 1)
    if image.is_floating_point():
        dtype = image.numpy().dtype
        return make_tensor(out.astype(dtype) * dtype.type(1.0 / 255))
    return make_tensor(np.ascontiguousarray(out))
