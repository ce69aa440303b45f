"""``F.pad``: constant, reflect, replicate and circular padding of the last dimensions.

Constant padding's gradient is the opposite padding (crop by what was added;
negative padding crops in forward, so its gradient pads with zeros). The other
modes gather each output element from a source position: one index array per
padded dimension, built by padding ``arange(size)`` itself. Their gradient
scatters back along the same index arrays, and the gather and scatter are each
other's gradients, so higher derivatives work too.

>>> import chainrule as torch
>>> import chainrule.nn.functional as F
>>> F.pad(torch.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
tensor([[3., 2., 1., 2., 3., 2.]])
"""

from __future__ import annotations

import numpy as np

from chainrule._ops._util import Tensor
from chainrule.autograd.function import Function

__all__ = ["pad"]

_NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pairs(pad: tuple, ndim: int) -> list[tuple[int, int, int]]:
    """``(dim, before, after)`` for each padded dim; ``pad`` starts at the last dim."""
    return [(ndim - 1 - i, int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]


class ConstantPad(Function):
    node_name = "ConstantPadNdBackward0"

    @staticmethod
    def forward(ctx, a, pad, value):
        ctx.pad = pad
        x = a._data
        pairs = _pairs(pad, x.ndim)
        crop = [slice(None)] * x.ndim
        widths = [(0, 0)] * x.ndim
        for dim, before, after in pairs:
            crop[dim] = slice(max(-before, 0), x.shape[dim] - max(-after, 0))
            widths[dim] = (max(before, 0), max(after, 0))
        cropped = x[tuple(crop)]
        return np.pad(cropped, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, grad):
        return ConstantPad.apply(grad, tuple(-p for p in ctx.pad), 0.0), None, None


def _source_indices(pad: tuple, shape: tuple, mode: str) -> list[tuple[int, np.ndarray]]:
    return [(dim, np.pad(np.arange(shape[dim]), (before, after), mode=_NUMPY_MODES[mode]))
            for dim, before, after in _pairs(pad, len(shape))]


class GatherPad(Function):
    """Each output element copies the input element its index arrays name."""

    @staticmethod
    def forward(ctx, a, gathers, input_shape):
        ctx.gathers = (gathers, input_shape)
        x = a._data
        for dim, index in gathers:
            x = np.take(x, index, axis=dim)
        return x

    @staticmethod
    def backward(ctx, grad):
        gathers, input_shape = ctx.gathers
        return ScatterPad.apply(grad, gathers, input_shape), None, None


class ScatterPad(Function):
    """The gradient of ``GatherPad``: every output element adds into its source."""

    @staticmethod
    def forward(ctx, g, gathers, input_shape):
        ctx.gathers = (gathers, input_shape)
        g = g._data
        for dim, index in reversed(gathers):
            shape = list(g.shape)
            shape[dim] = input_shape[dim]
            summed = np.zeros(shape, g.dtype)
            np.add.at(summed, (slice(None),) * dim + (index,), g)
            g = summed
        return g

    @staticmethod
    def backward(ctx, grad):
        gathers, input_shape = ctx.gathers
        return GatherPad.apply(grad, gathers, input_shape), None, None


class ReflectionPad1D(GatherPad):
    node_name = "ReflectionPad1DBackward0"


class ReflectionPad2D(GatherPad):
    node_name = "ReflectionPad2DBackward0"


class ReflectionPad3D(GatherPad):
    node_name = "ReflectionPad3DBackward0"


class ReplicationPad1D(GatherPad):
    node_name = "ReplicationPad1DBackward0"


class ReplicationPad2D(GatherPad):
    node_name = "ReplicationPad2DBackward0"


class ReplicationPad3D(GatherPad):
    node_name = "ReplicationPad3DBackward0"


class CircularPad(GatherPad):
    """PyTorch writes circular padding with slice copies (its node is ``CopySlices``); here it
    is one gather like the other modes."""

    node_name = "CircularPad1DBackward0"


# The op for each mode, indexed by the number of padded dims minus one.
_GATHER_CLASSES = {"reflect": (ReflectionPad1D, ReflectionPad2D, ReflectionPad3D),
                   "replicate": (ReplicationPad1D, ReplicationPad2D, ReplicationPad3D),
                   "circular": (CircularPad,) * 3}


def _check_gather_pad(input: Tensor, pad: tuple, mode: str) -> None:
    shape = input.shape
    if len(pad) // 2 > 3 or input.ndim < len(pad) // 2 + 1:
        raise NotImplementedError(
            f"Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now "
            f"(got mode '{mode}', input of shape {list(shape)} and pad {list(pad)})")
    for dim, before, after in _pairs(pad, input.ndim):
        size = shape[dim]
        if mode == "reflect" and (before >= size or after >= size):
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input dimension, "
                f"but got: padding ({before}, {after}) at dimension {dim} of input {list(shape)}")
        if mode == "circular" and (before > size or after > size):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if min(before, after) < 0:
            raise RuntimeError(f"negative padding ({before}, {after}) is only supported in "
                               f"constant mode")
        if mode == "replicate" and size == 0:
            raise RuntimeError(f"input tensor must have non-zero size at dimension {dim} to be "
                               "replicate-padded")


def pad(input: Tensor, pad: tuple[int, ...], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims; ``pad`` is ``(last_left, last_right, 2nd_last_left, ...)``.

    >>> import chainrule as torch
    >>> torch.nn.functional.pad(torch.ones(1, 2), (1, 1)).tolist()
    [[0.0, 1.0, 1.0, 0.0]]
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{input.ndim}")
    if mode == "constant":
        for dim, before, after in _pairs(pad, input.ndim):
            if input.shape[dim] + before + after < 0:
                raise RuntimeError(
                    f"The input size {input.shape[dim]}, plus negative padding {before} and "
                    f"{after} resulted in a negative output size, which is invalid. Check "
                    f"dimension {dim} of your input.")
        return ConstantPad.apply(input, pad, 0.0 if value is None else value)
    if mode not in _GATHER_CLASSES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}"" doesn\'t take in value argument')
    _check_gather_pad(input, pad, mode)
    gathers = _source_indices(pad, tuple(input.shape), mode)
    op = _GATHER_CLASSES[mode][len(pad) // 2 - 1]
    return op.apply(input, gathers, tuple(input.shape))
