"""Pooling and resampling: max / average / adaptive pooling and ``interpolate``.

Fixed-window pooling never loops over pixels: it loops over the ``kh * kw``
positions *inside* the window, each a strided view of the whole (padded)
input. Max pooling keeps, per output, which window position won; its gradient
sends each output gradient back to that position, and that scatter's own
gradient is the matching gather, so max pooling is twice differentiable.
Max pooling's arrays are computed by ``chainrule.backends.cpu.pooling``, which
chooses compiled kernels or a faster NumPy layout where they apply.

Adaptive average pooling and ``interpolate`` are linear and separable along
height and width: ``out = rows @ x @ cols.T`` with two small matrices, whose
gradient is the same op with the transposed matrices.

>>> import chainrule as torch
>>> import chainrule.nn.functional as F
>>> F.max_pool2d(torch.arange(16.0).reshape(1, 1, 4, 4), 2)
tensor([[[[ 5.,  7.],
          [13., 15.]]]])
"""

from __future__ import annotations

import math

import numpy as np

from chainrule._ops._util import Tensor, make_tensor
from chainrule.autograd.function import Function
from chainrule.backends.cpu import pooling as backend
from chainrule.backends.cpu.pooling import PoolGeometry
from chainrule.nn.functional.conv import pair

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "interpolate",
           "upsample", "upsample_nearest", "upsample_bilinear"]


def pooling_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int,
                        ceil_mode: bool) -> int:
    out = (size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    # In ceil mode the last window must still start inside the input or its left padding.
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _as_4d(x: Tensor, spatial_dims: int, name: str) -> tuple[Tensor, int]:
    """A batched 2-d view of the input, and how many leading dims to drop afterwards."""
    if x.ndim not in (spatial_dims + 1, spatial_dims + 2):
        raise RuntimeError(f"{name}: Expected {spatial_dims + 1}D or {spatial_dims + 2}D input "
                           f"tensor, but got {list(x.shape)}")
    unbatched = x.ndim == spatial_dims + 1
    if unbatched:
        x = x.unsqueeze(0)
    if spatial_dims == 1:
        x = x.unsqueeze(2)
    return x, unbatched


def _from_4d(out: Tensor, unbatched: bool, spatial_dims: int) -> Tensor:
    if spatial_dims == 1:
        out = out.squeeze(2)
    return out.squeeze(0) if unbatched else out


# ------------------------------------------------------------------ max pooling


class MaxPool2d(Function):
    """Forward returns ``(values, winners)``: the max and its position inside the window."""

    node_name = "MaxPool2DWithIndicesBackward0"

    @staticmethod
    def forward(ctx, x, geometry):
        ctx.set_materialize_grads(False)  # the winners take no gradient: no zeros for them
        best, winners = backend.max_pool2d(x._data, geometry)
        ctx.winners, ctx.geometry = winners, geometry
        return best, winners

    @staticmethod
    def backward(ctx, grad, _):
        if grad is None:
            return None
        return MaxPoolScatter.apply(grad, winners=ctx.winners, geometry=ctx.geometry)


class MaxPoolScatter(Function):
    """Each output gradient added to the input position that won its window."""

    node_name = "MaxPool2DWithIndicesBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, winners, geometry):
        ctx.winners, ctx.geometry = winners, geometry
        return backend.scatter_to_winners(grad._data, winners, geometry)

    @staticmethod
    def backward(ctx, gg):
        return MaxPoolGather.apply(gg, winners=ctx.winners, geometry=ctx.geometry)


class MaxPoolGather(Function):
    """Each output's value at its winning input position: the scatter's adjoint."""

    node_name = "MaxPoolGatherBackward"

    @staticmethod
    def forward(ctx, source, winners, geometry):
        ctx.winners, ctx.geometry = winners, geometry
        return backend.gather_from_winners(source._data, winners, geometry)

    @staticmethod
    def backward(ctx, grad):
        return MaxPoolScatter.apply(grad, winners=ctx.winners, geometry=ctx.geometry)


def _flat_indices(winners: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    """PyTorch's indices: ``h * W + w`` in the unpadded input plane."""
    kw = geo.kernel[1]
    ho, wo = geo.out_size
    rows = (np.arange(ho) * geo.stride[0] - geo.padding[0])[:, None] + (winners // kw) * geo.dilation[0]
    cols = (np.arange(wo) * geo.stride[1] - geo.padding[1]) + (winners % kw) * geo.dilation[1]
    return (rows * geo.in_size[1] + cols).astype(np.int64)


def _pool_geometry(x: Tensor, kernel, stride, padding, dilation, ceil_mode, spatial_dims: int,
                   name: str) -> PoolGeometry:
    """The geometry of a pooling call, remembered per input shape and arguments."""
    key = (tuple(x.shape[1:]), kernel, stride, padding, dilation, ceil_mode, spatial_dims)
    return backend.pool_geometry(key, lambda: _new_pool_geometry(
        x, kernel, stride, padding, dilation, ceil_mode, spatial_dims))


def _new_pool_geometry(x: Tensor, kernel, stride, padding, dilation, ceil_mode,
                       spatial_dims: int) -> PoolGeometry:
    lead = (1,) * (2 - spatial_dims)
    kernel = lead + pair(kernel, spatial_dims, "kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else (
        lead + pair(stride, spatial_dims, "stride"))
    padding = (0,) * (2 - spatial_dims) + pair(padding, spatial_dims, "padding")
    dilation = lead + pair(dilation, spatial_dims, "dilation")
    if any(p > (d * (k - 1) + 1) // 2 for p, k, d in zip(padding, kernel, dilation)):
        raise RuntimeError(
            f"pad should be at most half of effective kernel size, but got pad={padding[-1]}, "
            f"kernel_size={kernel[-1]} and dilation={dilation[-1]}")
    size = tuple(x.shape[2:])
    out = tuple(pooling_output_size(s, k, st, p, d, ceil_mode)
                for s, k, st, p, d in zip(size, kernel, stride, padding, dilation))
    if any(o <= 0 for o in out):
        raise RuntimeError(
            f"Given input size: ({'x'.join(map(str, x.shape[1:]))}). Calculated output size: "
            f"({'x'.join(map(str, (x.shape[1],) + out))}). Output size is too small")
    return PoolGeometry(size, kernel, stride, padding, dilation, out)


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              spatial_dims):
    x, unbatched = _as_4d(input, spatial_dims, f"max_pool{spatial_dims}d")
    geo = _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode, spatial_dims,
                         "max_pool")
    values, winners = MaxPool2d.apply(x, geometry=geo)
    values = _from_4d(values, unbatched, spatial_dims)
    if not return_indices:
        return values
    indices = _from_4d(make_tensor(_flat_indices(winners._data, geo)), unbatched, spatial_dims)
    return values, indices


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over ``kernel_size`` windows of ``(N, C, H, W)`` (padding counts as ``-inf``).

    With ``return_indices`` also returns each max's flat index ``h * W + w`` in its plane.

    >>> import chainrule as torch
    >>> import chainrule.nn.functional as F
    >>> F.max_pool2d(torch.randn(1, 3, 8, 8), 2).shape
    torch.Size([1, 3, 4, 4])
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over ``kernel_size`` windows of ``(N, C, L)``."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1)


# ------------------------------------------------------------------ average pooling


def _window_counts(size, kernel, stride, pad, out, count_include_pad) -> np.ndarray:
    start = np.arange(out) * stride - pad
    end = np.minimum(start + kernel, size + pad)
    if count_include_pad:
        return end - start
    return np.maximum(np.minimum(end, size) - np.maximum(start, 0), 1)


class AvgPool2d(Function):
    node_name = "AvgPool2DBackward0"

    @staticmethod
    def forward(ctx, x, geometry, scale):
        ctx.geometry, ctx.scale = geometry, scale
        view = geometry.windows(geometry.padded(x._data, 0.0))
        total = view[:, :, 0, 0].copy()
        for k, i, j in geometry.positions():
            if k:
                total += view[:, :, i, j]
        total *= scale
        return total

    @staticmethod
    def backward(ctx, grad):
        return AvgPoolScatter.apply(grad, geometry=ctx.geometry, scale=ctx.scale)


class AvgPoolScatter(Function):
    node_name = "AvgPool2DBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, geometry, scale):
        ctx.geometry, ctx.scale = geometry, scale
        share = grad._data * scale
        buffer = np.zeros(share.shape[:2] + geometry.buffer_size, share.dtype)
        for _, i, j in geometry.positions():
            geometry.writable_window(buffer, i, j)[...] += share
        return geometry.cropped(buffer)

    @staticmethod
    def backward(ctx, gg):
        return AvgPool2d.apply(gg, geometry=ctx.geometry, scale=ctx.scale)


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, spatial_dims):
    x, unbatched = _as_4d(input, spatial_dims, f"avg_pool{spatial_dims}d")
    geo = _pool_geometry(x, kernel_size, stride, padding, 1, ceil_mode, spatial_dims, "avg_pool")
    if divisor_override:
        divisor = np.full(geo.out_size, divisor_override)
    else:
        counts = [_window_counts(s, k, st, p, o, count_include_pad) for s, k, st, p, o in
                  zip(geo.in_size, geo.kernel, geo.stride, geo.padding, geo.out_size)]
        divisor = np.outer(*counts)
    scale = (1.0 / divisor).astype(x._data.dtype)
    return _from_4d(AvgPool2d.apply(x, geometry=geo, scale=scale), unbatched, spatial_dims)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over ``kernel_size`` windows of ``(N, C, H, W)``."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over ``kernel_size`` windows of ``(N, C, L)``."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1)


# ------------------------------------------------------------------ separable linear maps


class SeparableLinear(Function):
    """``rows @ x @ cols.T`` over the last two dims; its gradient is the transposed map."""

    node_name = "SeparableLinearBackward"

    @staticmethod
    def forward(ctx, x, rows, cols):
        ctx.rows, ctx.cols = rows, cols
        return np.matmul(np.matmul(rows, x._data), cols.T).astype(x._data.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return type(ctx)._function.apply(grad, rows=ctx.rows.T, cols=ctx.cols.T)


class AdaptiveAvgPool(SeparableLinear):
    node_name = "AdaptiveAvgPool2DBackward0"


class UpsampleNearest(SeparableLinear):
    node_name = "UpsampleNearest2DBackward0"


class UpsampleBilinear(SeparableLinear):
    node_name = "UpsampleBilinear2DBackward0"


def _adaptive_bounds(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _averaging_matrix(size: int, out: int, dtype) -> np.ndarray:
    """Row ``i`` averages input positions ``start[i]:end[i]``; in float64 for float32 inputs,
    so that means of whole numbers come out whole (1/3 is not exact in float32)."""
    start, end = _adaptive_bounds(size, out)
    j = np.arange(size)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return (inside / (end - start)[:, None]).astype(np.promote_types(dtype, np.float64))


def _output_size(output_size, x: Tensor, spatial_dims: int) -> tuple:
    sizes = pair(output_size, spatial_dims, "output_size") if not (
        isinstance(output_size, (tuple, list)) and None in output_size) else tuple(output_size)
    return tuple(x.shape[-spatial_dims + i] if s is None else int(s) for i, s in enumerate(sizes))


def _adaptive_avg_pool(input, output_size, spatial_dims):
    x, unbatched = _as_4d(input, spatial_dims, f"adaptive_avg_pool{spatial_dims}d")
    out = (1,) * (2 - spatial_dims) + _output_size(output_size, input, spatial_dims)
    dtype = x._data.dtype
    rows = _averaging_matrix(x.shape[2], out[0], dtype)
    cols = _averaging_matrix(x.shape[3], out[1], dtype)
    return _from_4d(AdaptiveAvgPool.apply(x, rows=rows, cols=cols), unbatched, spatial_dims)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed ``output_size`` (``None`` keeps that input size).

    >>> import chainrule as torch
    >>> import chainrule.nn.functional as F
    >>> F.adaptive_avg_pool2d(torch.randn(2, 3, 7, 5), (3, 1)).shape
    torch.Size([2, 3, 3, 1])
    """
    return _adaptive_avg_pool(input, output_size, 2)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average pooling of ``(N, C, L)`` to ``output_size``."""
    return _adaptive_avg_pool(input, output_size, 1)


# ------------------------------------------------------------------ adaptive max pooling


class GatherFlat(Function):
    """``x.reshape(N, C, H*W)`` gathered at ``indices``; gradient: scatter-add back."""

    node_name = "AdaptiveMaxPool2DBackward0"

    @staticmethod
    def forward(ctx, x, indices):
        ctx.indices, ctx.shape = indices, x._data.shape
        flat = x._data.reshape(x._data.shape[:2] + (-1,))
        n, c = indices.shape[:2]
        return np.take_along_axis(flat, indices.reshape(n, c, -1), 2).reshape(indices.shape)

    @staticmethod
    def backward(ctx, grad):
        return ScatterFlat.apply(grad, indices=ctx.indices, shape=ctx.shape)


class ScatterFlat(Function):
    node_name = "AdaptiveMaxPool2DBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, indices, shape):
        ctx.indices = indices
        n, c = shape[:2]
        out = np.zeros((n * c, math.prod(shape[2:])), grad._data.dtype)
        rows = np.arange(n * c)[:, None]
        np.add.at(out, (rows, indices.reshape(n * c, -1)), grad._data.reshape(n * c, -1))
        return out.reshape(shape)

    @staticmethod
    def backward(ctx, gg):
        return GatherFlat.apply(gg, indices=ctx.indices)


def _adaptive_max_indices(x: np.ndarray, out: tuple) -> np.ndarray:
    """Flat ``h * W + w`` index of each adaptive window's max (loops over in-window offsets)."""
    h, w = x.shape[2:]
    (h0, h1), (w0, w1) = _adaptive_bounds(h, out[0]), _adaptive_bounds(w, out[1])
    best = best_index = None
    for di in range(int((h1 - h0).max())):
        rows = np.minimum(h0 + di, h1 - 1)
        for dj in range(int((w1 - w0).max())):
            cols = np.minimum(w0 + dj, w1 - 1)
            values = x[:, :, rows[:, None], cols[None, :]]
            index = np.broadcast_to(rows[:, None] * w + cols[None, :], values.shape)
            if best is None:
                best, best_index = values, index.copy()
                continue
            better = (values > best) | np.isnan(values)
            np.copyto(best, values, where=better)
            np.copyto(best_index, index, where=better)
    return best_index.astype(np.int64)


def _adaptive_max_pool(input, output_size, return_indices, spatial_dims):
    x, unbatched = _as_4d(input, spatial_dims, f"adaptive_max_pool{spatial_dims}d")
    out = (1,) * (2 - spatial_dims) + _output_size(output_size, input, spatial_dims)
    indices = _adaptive_max_indices(x._data, out)
    values = _from_4d(GatherFlat.apply(x, indices=indices), unbatched, spatial_dims)
    if not return_indices:
        return values
    return values, _from_4d(make_tensor(indices), unbatched, spatial_dims)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to a fixed ``output_size``."""
    return _adaptive_max_pool(input, output_size, return_indices, 2)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling of ``(N, C, L)`` to ``output_size``."""
    return _adaptive_max_pool(input, output_size, return_indices, 1)


# ------------------------------------------------------------------ interpolate


def _source_scale(size: int, out: int, scale_factor, align_corners: bool) -> float:
    if align_corners:
        return (size - 1) / (out - 1) if out > 1 else 0.0
    return 1.0 / scale_factor if scale_factor else size / out


def _nearest_matrix(size: int, out: int, scale_factor, dtype) -> np.ndarray:
    scale = _source_scale(size, out, scale_factor, False)
    source = np.minimum(np.floor(np.arange(out) * np.float32(scale)).astype(np.int64), size - 1)
    matrix = np.zeros((out, size), dtype)
    matrix[np.arange(out), source] = 1
    return matrix


def _linear_matrix(size: int, out: int, scale_factor, align_corners: bool, dtype) -> np.ndarray:
    scale = _source_scale(size, out, scale_factor, align_corners)
    i = np.arange(out, dtype=np.float64)
    source = i * scale if align_corners else np.maximum((i + 0.5) * scale - 0.5, 0.0)
    low = np.minimum(np.floor(source).astype(np.int64), size - 1)
    high = np.minimum(low + 1, size - 1)
    weight = source - low
    matrix = np.zeros((out, size), np.float64)
    np.add.at(matrix, (np.arange(out), low), 1 - weight)
    np.add.at(matrix, (np.arange(out), high), weight)
    return matrix.astype(dtype)


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize ``(N, C, L)`` or ``(N, C, H, W)`` by ``size`` or ``scale_factor``.

    Modes: ``'nearest'``, ``'linear'`` (3-d) and ``'bilinear'`` (4-d), with ``align_corners``.

    >>> import chainrule as torch
    >>> import chainrule.nn.functional as F
    >>> F.interpolate(torch.ones(1, 1, 2, 2), scale_factor=2).shape
    torch.Size([1, 1, 4, 4])
    """
    spatial_dims = input.ndim - 2
    if spatial_dims not in (1, 2):
        raise NotImplementedError(
            f"Input Error: Only 3D and 4D input Tensors supported (got {input.ndim}D) for the "
            f"modes: nearest | linear | bilinear (got {mode})")
    if mode in ("nearest", "area") and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    expected = {"linear": 1, "bilinear": 2}.get(mode)
    if mode not in ("nearest", "linear", "bilinear"):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not implemented")
    if expected is not None and expected != spatial_dims:
        raise NotImplementedError(
            f"Got {input.ndim}D input, but {mode} mode needs {expected + 2}D input")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    in_size = tuple(input.shape[2:])
    if size is not None:
        out_size = pair(size, spatial_dims, "size")
        factors = (None,) * spatial_dims
    else:
        factors = tuple(float(f) for f in (scale_factor if isinstance(scale_factor, (tuple, list))
                                           else (scale_factor,) * spatial_dims))
        out_size = tuple(int(math.floor(s * f)) for s, f in zip(in_size, factors))
        if recompute_scale_factor:
            factors = (None,) * spatial_dims
    dtype = input._data.dtype
    x, unbatched = _as_4d(input, spatial_dims, "interpolate")
    in_size = (1,) * (2 - spatial_dims) + in_size
    out_size = (1,) * (2 - spatial_dims) + out_size
    factors = (None,) * (2 - spatial_dims) + factors
    if mode == "nearest":
        rows, cols = (_nearest_matrix(s, o, f, dtype) for s, o, f in zip(in_size, out_size, factors))
        op = UpsampleNearest
    else:
        corners = bool(align_corners)
        rows, cols = (_linear_matrix(s, o, f, corners, dtype)
                      for s, o, f in zip(in_size, out_size, factors))
        op = UpsampleBilinear
    return _from_4d(op.apply(x, rows=rows, cols=cols), unbatched, spatial_dims)


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
