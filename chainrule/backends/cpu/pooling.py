"""How chainrule pools fast on a CPU: side-by-side windows, and the compiled kernels.

``chainrule.nn.functional.pooling`` states the window formulas; this module runs max pooling's.
``max_pool2d`` and ``scatter_to_winners`` pick the fastest path this machine has: the compiled
kernels where they are built (``chainrule.backends.native``), else, for side-by-side windows
(``stride == kernel``, e.g. 2x2 / 2), a NumPy scan over contiguous copies of the window
positions, else the plain formula: one strided view of the padded input per window position.
All three give the same values, winners and gradients.

>>> import numpy as np
>>> geometry = PoolGeometry((2, 2), (2, 2), (2, 2), (0, 0), (1, 1), (1, 1))
>>> max_pool2d(np.array([[[[1.0, 4.0], [3.0, 2.0]]]]), geometry)  # the max and where it was
(array([[[[4.]]]]), array([[[[1]]]], dtype=int16))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.lib.stride_tricks import as_strided

from chainrule.backends import native
from chainrule.backends.cpu.windows import remembered, window_view

__all__ = ["PoolGeometry", "pool_geometry", "max_pool2d", "scatter_to_winners",
           "gather_from_winners"]

_GEOMETRIES: dict = {}


def pool_geometry(key: tuple, build: Callable[[], PoolGeometry]) -> PoolGeometry:
    """``build()``, remembered under ``key`` (the call's input shape and arguments)."""
    return remembered(_GEOMETRIES, key, build)


@dataclass(frozen=True)
class PoolGeometry:
    """Everything about a 2-d pooling call but the values (1-d pooling has a height of 1)."""

    in_size: tuple  # (H, W)
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    out_size: tuple

    @cached_property
    def buffer_size(self) -> tuple:
        """The padded extent every window fits in (ceil mode may reach past the padding)."""
        return tuple(max(s + p, (o - 1) * st + d * (k - 1) + 1) for s, p, o, st, d, k in
                     zip(self.in_size, self.padding, self.out_size, self.stride, self.dilation,
                         self.kernel))

    def padded(self, x: np.ndarray, fill: float) -> np.ndarray:
        if self.buffer_size == self.in_size:
            return x
        buffer = np.full(x.shape[:2] + self.buffer_size, fill, x.dtype)
        (ph, pw), (h, w) = self.padding, self.in_size
        buffer[:, :, ph:ph + h, pw:pw + w] = x
        return buffer

    def cropped(self, buffer: np.ndarray) -> np.ndarray:
        if self.buffer_size == self.in_size:
            return buffer
        (ph, pw), (h, w) = self.padding, self.in_size
        return np.ascontiguousarray(buffer[:, :, ph:ph + h, pw:pw + w])

    def windows(self, padded: np.ndarray) -> np.ndarray:
        return window_view(padded, self.kernel, self.out_size, self.stride, self.dilation)

    def writable_window(self, buffer: np.ndarray, i: int, j: int) -> np.ndarray:
        """``buffer[..., h*sh + i*dh, w*sw + j*dw]`` over all outputs ``(h, w)``, writable."""
        *lead, row, col = buffer.strides
        start = buffer[:, :, i * self.dilation[0]:, j * self.dilation[1]:]
        return as_strided(start, buffer.shape[:2] + self.out_size,
                          tuple(lead) + (row * self.stride[0], col * self.stride[1]))

    @cached_property
    def disjoint(self) -> bool:
        """Windows side by side (``stride == kernel``, no padding or dilation), e.g. 2x2 / 2.

        Rows and columns past the last whole window (odd sizes) belong to no window."""
        return (self.stride == self.kernel and self.padding == (0, 0) and self.dilation == (1, 1)
                and all(o * k <= s for o, k, s in zip(self.out_size, self.kernel, self.in_size)))

    def blocks(self, x: np.ndarray) -> np.ndarray:
        """``(N, C, Ho, kh, Wo, kw)`` view of the covered part (only when ``disjoint``)."""
        (ho, wo), (kh, kw) = self.out_size, self.kernel
        covered = x[:, :, :ho * kh, :wo * kw]
        return covered.reshape(x.shape[:2] + (ho, kh, wo, kw))

    def packed(self, x: np.ndarray) -> np.ndarray:
        """The geometry, for input ``x``, as the int64 array the compiled kernels take."""
        known = self.__dict__.setdefault("_packed", {})  # by (N, C)
        lead = x.shape[:2]
        if lead not in known:
            known[lead] = np.array(lead + self.in_size + self.kernel + self.stride
                                   + self.padding + self.dilation + self.out_size, np.int64)
        return known[lead]

    def positions(self):
        """``(k, i, j)`` for each position inside the window: its number and its row and column."""
        kw = self.kernel[1]
        return ((k, k // kw, k % kw) for k in range(self.kernel[0] * kw))


def max_pool2d(x: np.ndarray, geo: PoolGeometry) -> tuple[np.ndarray, np.ndarray]:
    """The max of each window, and which position inside the window held it (``int16``, the
    first one in a tie; a NaN wins as PyTorch's scan makes it win)."""
    kernels = native.kernels(x.dtype)
    if kernels is not None:
        source = np.ascontiguousarray(x)
        best = np.empty(source.shape[:2] + geo.out_size, source.dtype)
        winners = np.empty(best.shape, np.int16)
        pool = kernels.maxpool_disjoint if geo.disjoint else kernels.maxpool
        pool(source, best, winners, geo.packed(source))
        return best, winners
    fast = _disjoint_max(x, geo) if geo.disjoint else None
    if fast is not None:
        return fast
    view = geo.windows(geo.padded(x, -np.inf))
    best = view[:, :, 0, 0].copy()
    winners = np.zeros(best.shape, np.int16)
    for k, i, j in geo.positions():
        if k:
            candidate = view[:, :, i, j]
            better = (candidate > best) | np.isnan(candidate)
            np.copyto(best, candidate, where=better)
            np.copyto(winners, k, where=better)
    return best, winners


def _disjoint_max(x: np.ndarray, geo: PoolGeometry):
    """Max and winning position of side-by-side windows, or ``None`` if a window holds a NaN.

    The window positions are first copied out as ``kh * kw`` contiguous planes: NumPy is
    several times faster on those than on the interleaved pixels of the input.
    """
    (kh, kw) = geo.kernel
    planes = np.empty((kh, kw) + x.shape[:2] + geo.out_size, x.dtype)
    np.copyto(planes, geo.blocks(x).transpose(3, 5, 0, 1, 2, 4))
    planes = planes.reshape((kh * kw,) + planes.shape[2:])
    best = np.maximum.reduce(planes, axis=0)
    if np.isnan(best).any():
        return None  # PyTorch's NaN rule needs the sequential scan
    # The first position holding the max wins, as in PyTorch's scan.
    winners = np.zeros(best.shape, np.int16)
    unclaimed = planes[0] != best
    for k in range(1, kh * kw):
        hit = planes[k] == best
        hit &= unclaimed
        winners += hit * np.int16(k)
        unclaimed &= ~hit
    return best, winners


def scatter_to_winners(grad: np.ndarray, winners: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    """Add each output's gradient to the input element that won its window."""
    kernels = native.kernels(grad.dtype)
    if kernels is not None:
        out = np.empty(grad.shape[:2] + geo.in_size, grad.dtype)
        scatter = kernels.maxpool_scatter_disjoint if geo.disjoint else kernels.maxpool_scatter
        scatter(np.ascontiguousarray(grad), np.ascontiguousarray(winners), out, geo.packed(out))
        return out
    if geo.disjoint:
        covered = geo.out_size[0] * geo.kernel[0], geo.out_size[1] * geo.kernel[1]
        full = np.empty if covered == geo.in_size else np.zeros
        out = full(grad.shape[:2] + geo.in_size, grad.dtype)
        blocks = geo.blocks(out)
        finite = np.isfinite(grad).all()
        for k, i, j in geo.positions():
            target = blocks[:, :, :, i, :, j]
            if finite:  # a product with the mask is much faster than np.where
                np.multiply(grad, winners == k, out=target)
            else:
                np.copyto(target, np.where(winners == k, grad, 0))
        return out
    buffer = np.zeros(grad.shape[:2] + geo.buffer_size, grad.dtype)
    for k, i, j in geo.positions():
        target = geo.writable_window(buffer, i, j)
        np.add(target, grad, out=target, where=winners == k)
    return geo.cropped(buffer)


def gather_from_winners(source: np.ndarray, winners: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    """Each output's value at its winning window position in ``source`` (input-shaped)."""
    view = geo.windows(geo.padded(source, 0.0))
    out = np.empty(winners.shape, source.dtype)
    for k, i, j in geo.positions():
        np.copyto(out, view[:, :, i, j], where=winners == k)
    return out
