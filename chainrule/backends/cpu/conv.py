"""How chainrule convolves fast on a CPU: the columns' memory layout, and the compiled kernels.

``chainrule.nn.functional.conv`` states the algorithm: im2col, one matrix product, col2im. This
module runs it. Its entry points, ``convolution``, ``input_grad``, ``weight_grad`` and
``bias_grad``, take NumPy arrays and a ``ConvGeometry``, pick the fastest path this machine has
and fall back to the plain NumPy formula (``window_view`` and ``add_windows``), with the same
results.

Layout: the columns of a short receptive field (``C/groups * kh * kw < 64``) are laid out per
sample, ``(N, groups, K, P)``, and ``np.matmul`` runs one small, cache-resident product per
sample. Longer ones are laid out batch-innermost, ``(groups, K, P * N)``, and one product
covers the whole batch: for LeNet-5's second convolution that is 2-3x faster than 64 small
ones, and the copies in and out run along whole rows of ``N`` samples.

Where the compiled kernels are built (``chainrule.backends.native``), short-column
convolutions with stride 1, no dilation and one group (LeNet-5's first) skip the columns:
``kh * kw`` copies of the input cost more memory traffic than their few multiply-adds, and
the kernels compute output, input gradient and weight gradient directly (``geometry.direct``).
Long-column ones with few output channels (LeNet-5's second) get their input gradient
directly from the batch-innermost output gradient (``geometry.direct_input_grad``): the
product ``weight.T @ grad`` would have only ``O`` terms per element of a ``K x P*N`` result.

>>> import numpy as np
>>> geometry = ConvGeometry(1, 1, 1, (3, 3), (2, 2), (1, 1), ((0, 0), (0, 0)), (1, 1), 1, 2)
>>> out, _ = convolution(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), None, geometry)
>>> out
array([[[[4., 4.],
         [4., 4.]]]])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from chainrule.backends import native
from chainrule.backends.cpu.windows import add_windows, remembered, window_view

WHOLE_BATCH_ROWS = 64
DIRECT_INPUT_GRAD_CHANNELS = 16

__all__ = ["ConvGeometry", "conv_geometry", "convolution", "input_grad", "weight_grad",
           "bias_grad", "grad_matrix"]

_GEOMETRIES: dict = {}


def conv_geometry(key: tuple, build: Callable[[], ConvGeometry]) -> ConvGeometry:
    """``build()``, remembered under ``key`` (the call's shapes and arguments)."""
    return remembered(_GEOMETRIES, key, build)


@dataclass(frozen=True)
class ConvGeometry:
    """Everything about a 2-d convolution but the values: sizes, stride, padding, groups.

    1-d convolutions are 2-d ones with a height of 1 (``spatial_dims == 1``).
    """

    batch: int
    in_channels: int
    out_channels: int
    in_size: tuple  # (H, W)
    kernel: tuple  # (kh, kw)
    stride: tuple
    padding: tuple  # ((top, bottom), (left, right))
    dilation: tuple
    groups: int
    spatial_dims: int

    @cached_property
    def padded_size(self) -> tuple:
        (top, bottom), (left, right) = self.padding
        return self.in_size[0] + top + bottom, self.in_size[1] + left + right

    @cached_property
    def out_size(self) -> tuple:
        return tuple((p - d * (k - 1) - 1) // s + 1 for p, k, s, d in
                     zip(self.padded_size, self.kernel, self.stride, self.dilation))

    @cached_property
    def rows(self) -> int:
        """The length of one column: ``C/groups * kh * kw``."""
        return self.in_channels // self.groups * self.kernel[0] * self.kernel[1]

    @cached_property
    def whole_batch(self) -> bool:
        """One matrix product for the whole batch, rather than one per sample.

        Short columns keep one sample's columns in cache, where a per-sample product is
        faster; long ones make a product worth running over all ``P * N`` columns at once.
        """
        return self.rows >= WHOLE_BATCH_ROWS and self.batch > 1

    @cached_property
    def direct(self) -> bool:
        """Computed without columns by the compiled kernels, where they are built: stride 1,
        no dilation, one group and short columns (few input channels, like LeNet-5's first
        convolution), whose columns would be ``kh * kw`` times the input for little arithmetic."""
        return (self.stride == (1, 1) and self.dilation == (1, 1) and self.groups == 1
                and not self.whole_batch)

    @cached_property
    def direct_input_grad(self) -> bool:
        """The input gradient computed by the compiled kernels from ``grad_matrix``, without
        columns, where they are built and the CPU has AVX-512 (with AVX2 alone it is slower
        than the product and col2im): long columns (the whole-batch layout) with stride 1,
        no dilation, one group and few output channels (LeNet-5's second convolution), whose
        product ``weight.T @ grad`` has only ``O`` terms per element of a large result."""
        return (self.whole_batch and self.stride == (1, 1) and self.dilation == (1, 1)
                and self.groups == 1 and self.out_channels <= DIRECT_INPUT_GRAD_CHANNELS)

    @cached_property
    def columns_shape(self) -> tuple:
        p = self.out_size[0] * self.out_size[1]
        if self.whole_batch:
            return self.groups, self.rows, p * self.batch
        return self.batch, self.groups, self.rows, p

    @cached_property
    def packed(self) -> np.ndarray:
        """The geometry as the int64 array the compiled kernels take."""
        (top, _), (left, _) = self.padding
        return np.array((self.batch, self.in_channels) + self.in_size + self.kernel + self.stride
                        + (top, left) + self.dilation + self.out_size, np.int64)

    @cached_property
    def transposed_packed(self) -> np.ndarray:
        """The input gradient as a direct convolution, in ``packed`` form: the output gradient,
        padded by ``kernel - 1 - padding``, convolved with the flipped, transposed weight."""
        (top, _), (left, _) = self.padding
        kh, kw = self.kernel
        return np.array((self.batch, self.out_channels) + self.out_size + self.kernel + (1, 1)
                        + (kh - 1 - top, kw - 1 - left) + (1, 1) + self.in_size, np.int64)

    def as_4d(self, array: np.ndarray) -> np.ndarray:
        return array[:, :, None, :] if self.spatial_dims == 1 else array

    def from_4d(self, array: np.ndarray) -> np.ndarray:
        return array[:, :, 0, :] if self.spatial_dims == 1 else array

    def weight_4d(self, weight: np.ndarray) -> np.ndarray:
        return weight.reshape(self.out_channels, self.in_channels // self.groups, *self.kernel)


def _padded_buffer(geo: ConvGeometry, dtype, fill=np.zeros) -> tuple[np.ndarray, np.ndarray]:
    """A padded input-sized buffer in the columns' layout, and its ``(N, C, Hp, Wp)`` view."""
    hp, wp = geo.padded_size
    n, c = geo.batch, geo.in_channels
    if geo.whole_batch:
        buffer = fill((c, hp, wp, n), dtype)
        return buffer, buffer.transpose(3, 0, 1, 2)
    buffer = fill((n, c, hp, wp), dtype)
    return buffer, buffer


def _interior(padded: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    (top, _), (left, _) = geo.padding
    h, w = geo.in_size
    return padded[:, :, top:top + h, left:left + w]


def _columns_view(cols: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """Columns of either layout as ``(N, C, kh, kw, Ho, Wo)``."""
    n, c, (kh, kw), (ho, wo) = geo.batch, geo.in_channels, geo.kernel, geo.out_size
    if geo.whole_batch:
        return cols.reshape(c, kh, kw, ho, wo, n).transpose(5, 0, 1, 2, 3, 4)
    return cols.reshape(n, c, kh, kw, ho, wo)


def im2col(x: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """Every receptive field as a column: ``(groups, K, P*N)`` (``whole_batch``) or ``(N, groups, K, P)``, where ``K`` is
    ``C/groups * kh * kw`` and ``P = Ho * Wo``."""
    x = geo.as_4d(x)
    kernels = native.kernels(x.dtype)
    if kernels is not None:
        cols = np.empty(geo.columns_shape, x.dtype)
        kernels.im2col(np.ascontiguousarray(x), cols, geo.packed, geo.whole_batch)
        return cols
    unpadded = geo.padding == ((0, 0), (0, 0))
    if unpadded and not geo.whole_batch:
        source = x
    else:
        _, source = _padded_buffer(geo, x.dtype, np.empty if unpadded else np.zeros)
        np.copyto(_interior(source, geo), x)
    cols = np.empty(geo.columns_shape, x.dtype)
    np.copyto(_columns_view(cols, geo), window_view(source, geo.kernel, geo.out_size,
                                                    geo.stride, geo.dilation))
    return cols


def col2im(cols: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """The adjoint of ``im2col``: each column entry added back onto the input position it
    was copied from, as a contiguous ``(N, C, H, W)``."""
    kernels = native.kernels(cols.dtype)
    if kernels is not None:
        gx = np.empty((geo.batch, geo.in_channels) + geo.in_size, cols.dtype)
        kernels.col2im(np.ascontiguousarray(cols), gx, geo.packed, geo.whole_batch)
        return geo.from_4d(gx)
    _, padded = _padded_buffer(geo, cols.dtype)
    add_windows(padded, _columns_view(cols, geo), geo.stride, geo.dilation)
    return geo.from_4d(np.ascontiguousarray(_interior(padded, geo)))


def grad_matrix(grad: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """The output gradient in the columns' layout: ``(groups, O/groups, P*N)`` or
    ``(N, groups, O/groups, P)``."""
    grad = geo.as_4d(grad)
    n, o, groups = geo.batch, geo.out_channels, geo.groups
    if geo.whole_batch:
        matrix = np.empty((o,) + geo.out_size + (n,), grad.dtype)
        _copy_transposed(grad.reshape(n, -1), matrix.reshape(-1, n))
        return matrix.reshape(groups, o // groups, -1)
    return np.ascontiguousarray(grad).reshape(n, groups, o // groups, -1)


def _copy_transposed(source: np.ndarray, target: np.ndarray) -> None:
    """``target[...] = source.T`` for 2-d arrays."""
    kernels = native.kernels(source.dtype)
    if kernels is None:
        np.copyto(target, source.T)
    else:
        kernels.transpose(np.ascontiguousarray(source), target, *source.shape)


def _grouped(weight: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    return weight.reshape(geo.groups, geo.out_channels // geo.groups, -1)


def _direct_kernels(applies: bool, *arrays: np.ndarray, level: int = 1):
    """The compiled kernels if ``applies`` (a geometry's ``direct`` or ``direct_input_grad``)
    and this CPU runs their direct convolutions at ``level`` (1: AVX2, 2: AVX-512) on these
    arrays, else ``None``."""
    dtype = arrays[0].dtype
    if not applies or any(a.dtype != dtype for a in arrays):
        return None
    kernels = native.kernels(dtype)
    return kernels if kernels is not None and kernels.direct_level >= level else None


def convolution(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                geo: ConvGeometry) -> tuple[np.ndarray, np.ndarray | None]:
    """``weight @ im2col(x) + bias``: the convolution's output, and its columns for the weight
    gradient to reuse (``None`` when the compiled kernels computed it directly)."""
    weight = geo.weight_4d(weight)
    kernels = _direct_kernels(geo.direct, x, weight)
    if kernels is None:
        cols = im2col(x, geo)
        return _as_dtype(_convolve_columns(cols, weight, bias, geo), x), cols
    out = np.empty((geo.batch, geo.out_channels) + geo.out_size, x.dtype)
    kernels.direct_conv(np.ascontiguousarray(geo.as_4d(x)), np.ascontiguousarray(weight),
                        None if bias is None else np.ascontiguousarray(bias, x.dtype), out,
                        geo.packed, geo.out_channels)
    return geo.from_4d(out), None


def _as_dtype(result: np.ndarray, like: np.ndarray) -> np.ndarray:
    return result.astype(like.dtype, copy=False)  # bfloat16 products come back as float32


def _convolve_columns(cols: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                      geo: ConvGeometry) -> np.ndarray:
    n, o, (ho, wo) = geo.batch, geo.out_channels, geo.out_size
    product = np.matmul(_grouped(weight, geo), cols)
    bias = None if bias is None else bias.reshape(-1, 1, 1)
    if not geo.whole_batch:
        out = product.reshape(n, o, ho, wo)
        if bias is not None:
            out += bias
        return geo.from_4d(out)
    # The batch-innermost product to a batch-first output: compiled, a tiled transpose and
    # then the bias; in NumPy, one strided pass that adds the bias on the way.
    out = np.empty((n, o, ho, wo), cols.dtype)
    if native.kernels(cols.dtype) is not None:
        _copy_transposed(product.reshape(-1, n), out.reshape(n, -1))
        if bias is not None:
            out += bias
        return geo.from_4d(out)
    batch_first = product.reshape(o, ho, wo, n).transpose(3, 0, 1, 2)
    if bias is None:
        np.copyto(out, batch_first)
    else:
        np.add(batch_first, bias, out=out)
    return geo.from_4d(out)


def input_grad(grad: np.ndarray, weight: np.ndarray, geo: ConvGeometry,
               matrix: np.ndarray | None = None) -> np.ndarray:
    """col2im of ``weight.T @ grad``: the gradient of the convolution w.r.t. its input.
    ``matrix`` is ``grad_matrix(grad, geo)`` if already made."""
    weight = geo.weight_4d(weight)
    kernels = _direct_kernels(geo.direct, grad, weight)
    if kernels is not None:
        flipped = np.ascontiguousarray(weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
        gx = np.empty((geo.batch, geo.in_channels) + geo.in_size, grad.dtype)
        kernels.direct_conv(np.ascontiguousarray(geo.as_4d(grad)), flipped, None, gx,
                            geo.transposed_packed, geo.in_channels)
        return geo.from_4d(gx)
    if matrix is None:
        matrix = grad_matrix(grad, geo)
    kernels = _direct_kernels(geo.direct_input_grad, matrix, weight, level=2)
    if kernels is not None:
        gx = np.empty((geo.batch, geo.in_channels) + geo.in_size, grad.dtype)
        kernels.direct_input_grad(matrix, np.ascontiguousarray(weight), gx, geo.packed,
                                  geo.out_channels)
        return geo.from_4d(gx)
    cols = np.matmul(_grouped(weight, geo).transpose(0, 2, 1), matrix)
    return _as_dtype(col2im(cols, geo), grad)


def weight_grad(x: np.ndarray, grad: np.ndarray, geo: ConvGeometry,
                cols: np.ndarray | None = None, matrix: np.ndarray | None = None) -> np.ndarray:
    """``cols @ grad.T`` summed over the batch: the gradient w.r.t. the weight. ``cols`` and
    ``matrix`` are ``im2col(x, geo)`` and ``grad_matrix(grad, geo)`` if already made."""
    shape = ((geo.out_channels, geo.in_channels // geo.groups)
             + geo.kernel[2 - geo.spatial_dims:])
    kernels = _direct_kernels(geo.direct, x, grad)
    if kernels is not None:
        gw = np.empty((geo.out_channels, geo.in_channels) + geo.kernel, grad.dtype)
        kernels.direct_weight_grad(np.ascontiguousarray(geo.as_4d(x)),
                                   np.ascontiguousarray(geo.as_4d(grad)), gw, geo.packed,
                                   geo.out_channels)
        return gw.reshape(shape)
    if cols is None:
        cols = im2col(x, geo)
    g = grad_matrix(grad, geo) if matrix is None else matrix
    if geo.whole_batch:
        total = np.matmul(cols, g.transpose(0, 2, 1))
    else:
        # One product per sample, summed in batches of samples that bound the temporary.
        rows, per_group = cols.shape[2], geo.out_channels // geo.groups
        chunk = max(1, (1 << 21) // (geo.groups * rows * per_group))
        total = np.zeros((geo.groups, rows, per_group), cols.dtype)
        for start in range(0, geo.batch, chunk):
            part = np.matmul(cols[start:start + chunk], g[start:start + chunk].transpose(0, 1, 3, 2))
            total += part.sum(0) if len(part) > 1 else part[0]
    # cols @ g.T, transposed after: BLAS runs this orientation about twice as fast.
    return _as_dtype(total.transpose(0, 2, 1).reshape(shape), x)


def bias_grad(grad: np.ndarray, geo: ConvGeometry, matrix: np.ndarray | None = None) -> np.ndarray:
    """The gradient w.r.t. the bias: ``grad`` summed over all but the channel dimension, as
    one matrix-vector product along the rows of ``matrix`` (``grad_matrix(grad, geo)`` if
    already made), several times faster than ``sum`` over three axes."""
    if matrix is None:
        matrix = grad_matrix(grad, geo)
    rows = matrix.reshape(-1, matrix.shape[-1])
    sums = rows @ np.ones(rows.shape[1], rows.dtype)
    return _as_dtype(sums if geo.whole_batch else sums.reshape(geo.batch, -1).sum(0), grad)


