"""Image files as uint8 ``(C, H, W)`` tensors, as ``torchvision.io`` gives them (via Pillow).

>>> import os, tempfile, chainrule
>>> path = os.path.join(tempfile.mkdtemp(), "a.png")
>>> write_png(chainrule.full((3, 2, 4), 7, dtype=chainrule.uint8), path)
>>> read_image(path, ImageReadMode.GRAY).shape
torch.Size([1, 2, 4])
"""

from __future__ import annotations

import io
import os
from enum import Enum

import numpy as np

import chainrule
from chainrule._tensor import Tensor, make_tensor
from chainrule.serialization import atomic_writer
from chainrule.transforms.functional import pil_to_tensor
from chainrule.vision._pillow import pillow

__all__ = ["ImageReadMode", "read_file", "write_file", "decode_image",
           "read_image", "encode_png", "write_png"]


class ImageReadMode(Enum):
    """The channels to decode to: as stored (``UNCHANGED``), ``GRAY``, ``GRAY_ALPHA``, ``RGB``
    or ``RGB_ALPHA`` (alias ``RGBA``). Functions also accept these names as strings."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = RGB_ALPHA


_PIL_MODES = {ImageReadMode.GRAY: "L", ImageReadMode.GRAY_ALPHA: "LA",
              ImageReadMode.RGB: "RGB", ImageReadMode.RGB_ALPHA: "RGBA"}


def read_file(path: str | os.PathLike) -> Tensor:
    """The bytes of the file at ``path`` as a 1-D uint8 tensor."""
    with open(path, "rb") as f:
        return make_tensor(np.frombuffer(f.read(), dtype=np.uint8).copy())


def write_file(filename: str | os.PathLike, data: Tensor) -> None:
    """Write a 1-D uint8 tensor's bytes to ``filename`` (atomically)."""
    if data.dtype != chainrule.uint8 or data.dim() != 1:
        raise RuntimeError(f"Input tensor must be a 1-D uint8 tensor, got {data.dim()}-D "
                           f"{data.dtype}")
    with atomic_writer(filename) as out:
        out.write(data.numpy().tobytes())


def _read_mode(mode: ImageReadMode | str) -> ImageReadMode:
    if isinstance(mode, str):
        return ImageReadMode[mode.upper()]
    return mode


def decode_image(input: Tensor | str | os.PathLike, mode: ImageReadMode | str =
                 ImageReadMode.UNCHANGED, apply_exif_orientation: bool = False) -> Tensor:
    """Decode encoded image bytes (a 1-D uint8 tensor, or a path) into a ``(C, H, W)`` uint8
    tensor; ``mode`` converts the channels. A palette image decodes to RGB (RGBA if it has
    transparency), as libpng expands it."""
    if not isinstance(input, Tensor):
        input = read_file(input)
    if input.dtype != chainrule.uint8 or input.dim() != 1:
        raise RuntimeError(f"Expected a non empty 1-dimensional tensor of dtype uint8, got "
                           f"{input.dim()}-D {input.dtype}")
    image_module = pillow()
    try:
        picture = image_module.open(io.BytesIO(input.numpy().tobytes()))
        picture.load()
    except (OSError, image_module.UnidentifiedImageError) as error:
        raise RuntimeError(f"Unsupported image file: {error}") from error
    if apply_exif_orientation:
        picture = pillow("PIL.ImageOps").exif_transpose(picture)
    mode = _read_mode(mode)
    if mode is ImageReadMode.UNCHANGED:
        if picture.mode == "P":
            picture = picture.convert("RGBA" if "transparency" in picture.info else "RGB")
        elif picture.mode not in ("L", "LA", "RGB", "RGBA"):
            picture = picture.convert("RGB")
    else:
        picture = picture.convert(_PIL_MODES[mode])
    return pil_to_tensor(picture)



def read_image(path: str | os.PathLike, mode: ImageReadMode | str = ImageReadMode.UNCHANGED,
               apply_exif_orientation: bool = False) -> Tensor:
    """Read a PNG/JPEG/... file into a ``(C, H, W)`` uint8 tensor (see ``decode_image``)."""
    return decode_image(read_file(path), mode, apply_exif_orientation)


def encode_png(input: Tensor, compression_level: int = 6) -> Tensor:
    """A ``(C, H, W)`` uint8 image (C = 1 or 3) encoded as PNG bytes in a 1-D uint8 tensor."""
    if input.dtype != chainrule.uint8:
        raise RuntimeError(f"Input tensor dtype should be uint8, got {input.dtype}")
    if input.dim() != 3 or input.size(0) not in (1, 3):
        raise RuntimeError(f"The number of channels should be 1 or 3, got input of shape "
                           f"{tuple(input.shape)}")
    if not 0 <= compression_level <= 9:
        raise RuntimeError("Compression level should be between 0 and 9")
    pixels = input.numpy().transpose(1, 2, 0)
    picture = pillow().fromarray(np.ascontiguousarray(pixels[:, :, 0] if input.size(0) == 1
                                                             else pixels))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=compression_level)
    return make_tensor(np.frombuffer(buffer.getvalue(), dtype=np.uint8).copy())


def write_png(input: Tensor, filename: str | os.PathLike, compression_level: int = 6) -> None:
    """Save a ``(C, H, W)`` uint8 image as a PNG file (atomically)."""
    write_file(filename, encode_png(input, compression_level))
