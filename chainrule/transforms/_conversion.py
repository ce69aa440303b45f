"""Conversions between PIL images and tensors, and between tensor image dtypes."""

from __future__ import annotations

import numpy as np

import chainrule
from chainrule._tensor import Tensor, make_tensor
from chainrule.transforms._image import is_pil, pil_image_module


def pil_to_tensor(pic) -> Tensor:
    """A PIL image as a ``(C, H, W)`` tensor of its pixels' dtype (no scaling)."""
    if not is_pil(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    array = np.asarray(pic)
    array = array[:, :, None] if array.ndim == 2 else array
    return make_tensor(np.ascontiguousarray(array.transpose(2, 0, 1)))


def to_pil_image(pic, mode: str | None = None):
    """A ``(C, H, W)`` tensor or ``(H, W[, C])`` array as a PIL image; a float tensor is
    scaled by 255 and wrapped into uint8, as torch's ``byte()`` does."""
    if not isinstance(pic, (Tensor, np.ndarray)):
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    if pic.ndim not in (2, 3):
        raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
    if isinstance(pic, Tensor):
        array = pic.detach().numpy()
        array = array[None] if array.ndim == 2 else array
        if array.shape[-3] > 4:
            raise ValueError(f"pic should not have > 4 channels. Got {array.shape[-3]} channels.")
        if np.issubdtype(array.dtype, np.floating) and mode != "F":
            array = (array * 255).astype(np.int64).astype(np.uint8)
        array = array.transpose(1, 2, 0)
    else:
        array = pic[:, :, None] if pic.ndim == 2 else pic
        if array.shape[-1] > 4:
            raise ValueError(f"pic should not have > 4 channels. Got {array.shape[-1]} channels.")
    if array.shape[2] == 1:
        array = array[:, :, 0]
    return pil_image_module().fromarray(np.ascontiguousarray(array), mode=mode)


def _max_value(dtype: np.dtype) -> int:
    return int(np.iinfo(dtype).max)


def convert_image_dtype(image: Tensor, dtype=chainrule.float32) -> Tensor:
    """Convert a tensor image's dtype, rescaling values: floats live in [0, 1], integers in
    [0, max of the dtype]."""
    if not isinstance(image, Tensor):
        raise TypeError(f"Input img should be Tensor Image. Got {type(image)}")
    if image.dtype == dtype:
        return image
    source, target = image.numpy(), np.dtype(str(dtype).replace("torch.", ""))
    if np.issubdtype(source.dtype, np.floating):
        if np.issubdtype(target, np.floating):
            return make_tensor(source.astype(target))
        if (source.dtype == np.float32 and target in (np.int32, np.int64)) or (
                source.dtype == np.float64 and target == np.int64):
            raise RuntimeError(f"The cast from {image.dtype} to {dtype} cannot be performed "
                               f"safely.")
        # Scale by max + 1 - eps so that [0, 1] fills every integer bin evenly.
        scaled = source * source.dtype.type(_max_value(target) + 1.0 - 1e-3)
        return make_tensor(scaled.astype(target))
    input_max = _max_value(source.dtype)
    if np.issubdtype(target, np.floating):
        return make_tensor(source.astype(target) / target.type(input_max))
    output_max = _max_value(target)
    if input_max > output_max:
        factor = (input_max + 1) // (output_max + 1)
        return make_tensor((source // factor).astype(target))
    return make_tensor(source.astype(target) * target.type((output_max + 1) // (input_max + 1)))
