"""``F.dropout``: zero random elements while training, scaling the rest by ``1 / (1 - p)``.

The scaled mask is drawn once in forward and reused by backward, so the same
elements that were dropped get no gradient.

>>> import chainrule as torch
>>> import chainrule.nn.functional as F
>>> F.dropout(torch.ones(3), p=0.5, training=False)
tensor([1., 1., 1.])
"""

from __future__ import annotations

import numpy as np

from chainrule._ops._util import Tensor, make_tensor
from chainrule._ops.inplace import apply_inplace
from chainrule._random import rng_of
from chainrule.autograd.function import Function

__all__ = ["dropout", "scaled_keep_mask"]


def scaled_keep_mask(shape: tuple, p: float, dtype) -> np.ndarray:
    """``1 / (1 - p)`` where an element is kept (probability ``1 - p``), else 0.

    ``shape`` may have size-1 dims (``dropout2d`` drops whole channels by broadcasting).
    """
    if p >= 1.0:
        return np.zeros(shape, dtype)
    keep = rng_of(None).random(shape, dtype=np.float32) >= p
    return keep * np.asarray(1.0 / (1.0 - p), dtype)


class NativeDropout(Function):
    # PyTorch's CPU dropout multiplies by the mask (native_dropout is the fused CUDA kernel).
    node_name = "MulBackward0"

    @staticmethod
    def forward(ctx, a, mask):
        ctx.mask = mask
        return a._data * mask

    @staticmethod
    def backward(ctx, grad):
        return grad * make_tensor(ctx.mask), None


def check_probability(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Randomly zero elements with probability ``p`` (only when ``training``)."""
    check_probability(p)
    if not training or p == 0.0:
        return input
    mask = scaled_keep_mask(input._data.shape, p, input._data.dtype)
    if inplace:
        return apply_inplace(input, NativeDropout.apply, (mask,), None, "dropout_")
    return NativeDropout.apply(input, mask)
