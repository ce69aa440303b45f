"""``unfold`` and ``fold``: im2col and col2im on their own.

``unfold`` lays every sliding block of an image out as a column, ``(N, C, H, W) ->
(N, C*kh*kw, L)``; ``fold`` adds columns back onto the positions they came from, summing where
blocks overlap. Each is the other's gradient.

>>> import chainrule as torch
>>> import chainrule.nn.functional as F
>>> F.fold(F.unfold(torch.ones(1, 1, 3, 3), kernel_size=2), (3, 3), kernel_size=2)
tensor([[[[1., 2., 1.],
          [2., 4., 2.],
          [1., 2., 1.]]]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainrule._ops._linear_map import LinearMap
from chainrule._ops._util import Tensor
from chainrule.backends.cpu.windows import add_windows, window_view
from chainrule.nn.functional.conv import pair

__all__ = ["unfold", "fold"]


@dataclass(frozen=True)
class _Sliding:
    kernel: tuple
    dilation: tuple
    padding: tuple
    stride: tuple
    size: tuple  # the (H, W) of the image side

    @property
    def blocks(self) -> tuple:
        return tuple((s + 2 * p - d * (k - 1) - 1) // st + 1 for s, p, d, k, st in
                     zip(self.size, self.padding, self.dilation, self.kernel, self.stride))


def _unfold_array(x: np.ndarray, sl: _Sliding) -> np.ndarray:
    n, c = x.shape[:2]
    (ph, pw), (h, w) = sl.padding, sl.size
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), x.dtype)
    padded[:, :, ph:ph + h, pw:pw + w] = x
    view = window_view(padded, sl.kernel, sl.blocks, sl.stride, sl.dilation)
    return view.reshape(n, c * sl.kernel[0] * sl.kernel[1], -1)


def _fold_array(cols: np.ndarray, sl: _Sliding) -> np.ndarray:
    n = cols.shape[0]
    kh, kw = sl.kernel
    c = cols.shape[1] // (kh * kw)
    (ph, pw), (h, w) = sl.padding, sl.size
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), cols.dtype)
    add_windows(padded, cols.reshape((n, c, kh, kw) + sl.blocks), sl.stride, sl.dilation)
    return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])


class Im2Col(LinearMap):
    node_name, array_map = "Im2ColBackward0", staticmethod(_unfold_array)


class Col2Im(LinearMap):
    node_name, array_map = "Col2ImBackward0", staticmethod(_fold_array)


Im2Col.adjoint, Col2Im.adjoint = Col2Im, Im2Col


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding blocks as columns: ``(N, C, H, W) -> (N, C*kh*kw, L)``.

    >>> import chainrule as torch
    >>> import chainrule.nn.functional as F
    >>> F.unfold(torch.ones(1, 2, 4, 4), kernel_size=2).shape
    torch.Size([1, 8, 9])
    """
    unbatched = input.ndim == 3
    if unbatched:
        input = input.unsqueeze(0)
    if input.ndim != 4:
        raise NotImplementedError(
            f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)")
    sl = _Sliding(pair(kernel_size), pair(dilation), pair(padding), pair(stride),
                  tuple(input.shape[2:]))
    out = Im2Col.apply(input, sl)
    return out.squeeze(0) if unbatched else out


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum columns back into an image: ``(N, C*kh*kw, L) -> (N, C, H, W)`` (the adjoint of ``unfold``)."""
    unbatched = input.ndim == 2
    if unbatched:
        input = input.unsqueeze(0)
    sl = _Sliding(pair(kernel_size), pair(dilation), pair(padding), pair(stride), pair(output_size))
    kh, kw = sl.kernel
    blocks = sl.blocks[0] * sl.blocks[1]
    if input.ndim != 3 or input.shape[1] % (kh * kw) or input.shape[2] != blocks:
        raise RuntimeError(
            f"Expected size of input's dimension 2 to match the calculated number of sliding "
            f"blocks {sl.blocks[0]} * {sl.blocks[1]} = {blocks}, but got "
            f"input.size(2)={input.shape[-1]}.")
    out = Col2Im.apply(input, sl)
    return out.squeeze(0) if unbatched else out
