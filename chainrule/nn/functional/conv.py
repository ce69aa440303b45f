"""Convolutions: ``conv1d``, ``conv2d``, ``conv_transpose2d``, ``unfold`` and ``fold``.

A convolution is a matrix product once every receptive field is laid out as a
column (*im2col*): ``out = weight.reshape(O, C*kh*kw) @ columns``. The columns
are copied out of a strided *view* of the padded input (no Python loop over
pixels), then one ``np.matmul`` per group does all the arithmetic.

Three ops close the chain rule among themselves, so convolutions can be
differentiated any number of times:

* ``Convolution(x, w)``: the forward pass.
* ``ConvolutionInputGrad(g, w)``: ``weight.T @ g`` scattered back onto the
  input positions each column came from (*col2im*); this is also
  ``conv_transpose2d``.
* ``ConvolutionWeightGrad(x, g)``: ``g @ columns.T``.

Layout: the columns of a short receptive field (``C/groups * kh * kw < 64``) are laid
out per sample, ``(N, groups, K, P)``, and ``np.matmul`` runs one small, cache-resident
product per sample. Longer ones are laid out batch-innermost, ``(groups, K, P * N)``, and
one product covers the whole batch: for LeNet-5's second convolution that is 2-3x faster
than 64 small ones, and the copies in and out run along whole rows of ``N`` samples.

Where the compiled kernels are built (``chainrule.backends.native``), short-column
convolutions with stride 1, no dilation and one group (LeNet-5's first) skip the columns:
``kh * kw`` copies of the input cost more memory traffic than their few multiply-adds, and
the kernels compute output, input gradient and weight gradient directly (``geometry.direct``).
Long-column ones with few output channels (LeNet-5's second) get their input gradient
directly from the batch-innermost output gradient (``geometry.direct_input_grad``): the
product ``weight.T @ grad`` would have only ``O`` terms per element of a ``K x P*N`` result.

>>> import chainrule as torch
>>> import chainrule.nn.functional as F
>>> F.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2)).shape
torch.Size([1, 1, 2, 2])
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.lib.stride_tricks import as_strided

from chainrule._ops._util import Tensor, make_tensor
from chainrule.amp.autocast_mode import autocast_inputs
from chainrule.autograd.function import Function
from chainrule.backends import native

WHOLE_BATCH_ROWS = 64
DIRECT_INPUT_GRAD_CHANNELS = 16

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold"]


def remembered(cache: dict, key, build):
    """``build()``, kept in ``cache`` under ``key``: a training loop asks for the same few
    geometries every step. A key that cannot be hashed (a list among the arguments) is not
    kept."""
    try:
        return cache[key]
    except KeyError:
        pass
    except TypeError:
        return build()
    if len(cache) > 512:
        cache.clear()
    value = cache[key] = build()
    return value


def pair(value, n: int = 2, name: str = "argument") -> tuple[int, ...]:
    """An int or a length-``n`` sequence as an ``n``-tuple of ints."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} values "
                           f"to match the convolution dimensions, but got {name}={list(value)}")
    return value


def window_view(padded: np.ndarray, kernel: tuple, out_size: tuple, stride: tuple,
                dilation: tuple) -> np.ndarray:
    """``(..., kh, kw, Ho, Wo)`` read-only view: ``[..., i, j, h, w]`` is
    ``padded[..., h*sh + i*dh, w*sw + j*dw]``."""
    *lead, row, col = padded.strides
    return as_strided(padded, padded.shape[:-2] + tuple(kernel) + tuple(out_size),
                      tuple(lead) + (row * dilation[0], col * dilation[1],
                                     row * stride[0], col * stride[1]), writeable=False)


def add_windows(padded: np.ndarray, columns: np.ndarray, stride: tuple, dilation: tuple) -> None:
    """The reverse of ``window_view``: add ``columns[..., i, j, h, w]`` into
    ``padded[..., h*sh + i*dh, w*sw + j*dw]`` (one strided add per kernel position)."""
    kh, kw, ho, wo = columns.shape[-4:]
    *lead, row, col = padded.strides
    strides = tuple(lead) + (row * stride[0], col * stride[1])
    shape = padded.shape[:-2] + (ho, wo)
    for i in range(kh):
        for j in range(kw):
            target = as_strided(padded[..., i * dilation[0]:, j * dilation[1]:], shape, strides)
            target += columns[..., i, j, :, :]


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

    def input_shape(self) -> tuple:
        tail = self.in_size[1:] if self.spatial_dims == 1 else self.in_size
        return (self.batch, self.in_channels) + tuple(tail)

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


def columns(x: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """im2col: ``(groups, K, P*N)`` (``whole_batch``) or ``(N, groups, K, P)``, where ``K`` is
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
    """The adjoint of ``columns``: each column entry added back onto the input position it
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


def convolution_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                        geo: ConvGeometry) -> tuple[np.ndarray, np.ndarray | None]:
    """The convolution's output, and its columns for the weight gradient to reuse (``None``
    when the compiled kernels computed it directly)."""
    kernels = _direct_kernels(geo.direct, x, weight)
    if kernels is None:
        cols = columns(x, geo)
        return convolve(cols, weight, bias, geo), cols
    out = np.empty((geo.batch, geo.out_channels) + geo.out_size, x.dtype)
    kernels.direct_conv(np.ascontiguousarray(geo.as_4d(x)), np.ascontiguousarray(weight),
                        None if bias is None else np.ascontiguousarray(bias, x.dtype), out,
                        geo.packed, geo.out_channels)
    return geo.from_4d(out), None


def convolve(cols: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
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
    return col2im(cols, geo)


def weight_grad(x: np.ndarray, grad: np.ndarray, geo: ConvGeometry,
                cols: np.ndarray | None = None, matrix: np.ndarray | None = None) -> np.ndarray:
    """``cols @ grad.T`` summed over the batch: the gradient w.r.t. the weight. ``cols`` and
    ``matrix`` are ``columns(x, geo)`` and ``grad_matrix(grad, geo)`` if already made."""
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
        cols = columns(x, geo)
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
    return total.transpose(0, 2, 1).reshape(shape)


def bias_grad(matrix: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """The gradient w.r.t. the bias, from ``grad_matrix``: sums along its rows as one
    matrix-vector product (several times faster than ``sum`` over three axes)."""
    rows = matrix.reshape(-1, matrix.shape[-1])
    sums = rows @ np.ones(rows.shape[1], rows.dtype)
    return sums if geo.whole_batch else sums.reshape(geo.batch, -1).sum(0)


class Convolution(Function):
    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias, geometry):
        out, ctx.cols = convolution_forward(x._data, geometry.weight_4d(weight._data),
                                            None if bias is None else bias._data, geometry)
        ctx.save_for_backward(x, weight)
        ctx.geometry = geometry
        return out.astype(x._data.dtype, copy=False)  # bfloat16 products come back as float32

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        geo = ctx.geometry
        needs_x, needs_w, needs_b = ctx.needs_input_grad
        matrix = grad_matrix(grad._data, geo)  # made once for all three gradients
        gx = (ConvolutionInputGrad.apply(grad, weight, None, geometry=geo, matrix=matrix)
              if needs_x else None)
        gw = (ConvolutionWeightGrad.apply(x, grad, geometry=geo, cols=ctx.cols, matrix=matrix)
              if needs_w else None)
        gb = None
        if needs_b:
            gb = (grad.sum(tuple(d for d in range(grad.ndim) if d != 1)) if grad.requires_grad
                  else make_tensor(bias_grad(matrix, geo)))
        return gx, gw, gb


class ConvolutionInputGrad(Function):
    """``conv_transpose``: the convolution's gradient w.r.t. its input, as an op of ``(g, w)``."""

    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, grad, weight, bias, geometry, matrix=None):
        ctx.save_for_backward(grad, weight)
        ctx.geometry = geometry
        out = input_grad(grad._data, geometry.weight_4d(weight._data), geometry, matrix)
        if bias is not None:
            out += bias._data.reshape((-1,) + (1,) * (out.ndim - 2))
        return out.astype(grad._data.dtype, copy=False)

    @staticmethod
    def backward(ctx, gg):
        grad, weight = ctx.saved_tensors
        geo = ctx.geometry
        needs_g, needs_w, needs_b = ctx.needs_input_grad
        g_grad = Convolution.apply(gg, weight, None, geometry=geo) if needs_g else None
        w_grad = ConvolutionWeightGrad.apply(gg, grad, geometry=geo) if needs_w else None
        b_grad = gg.sum(tuple(d for d in range(gg.ndim) if d != 1)) if needs_b else None
        return g_grad, w_grad, b_grad


class ConvolutionWeightGrad(Function):
    """The convolution's gradient w.r.t. its weight, as an op of ``(x, g)``."""

    node_name = "ConvolutionBackwardBackward0"

    @staticmethod
    def forward(ctx, x, grad, geometry, cols=None, matrix=None):
        ctx.save_for_backward(x, grad)
        ctx.geometry = geometry
        return weight_grad(x._data, grad._data, geometry, cols, matrix).astype(x._data.dtype,
                                                                              copy=False)

    @staticmethod
    def backward(ctx, gg):
        x, grad = ctx.saved_tensors
        geo = ctx.geometry
        needs_x, needs_g = ctx.needs_input_grad
        x_grad = ConvolutionInputGrad.apply(grad, gg, None, geometry=geo) if needs_x else None
        g_grad = Convolution.apply(x, gg, None, geometry=geo) if needs_g else None
        return x_grad, g_grad


def _check_dtypes(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> None:
    if input.dtype != weight.dtype:
        raise RuntimeError(
            f"Input type ({input.dtype}) and weight type ({weight.dtype}) should be the same")
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(
            f"Input type ({input.dtype}) and bias type ({bias.dtype}) should be the same")


def _check_input(input: Tensor, weight: Tensor, groups: int, spatial_dims: int,
                 channel_dim: int, transposed: bool) -> None:
    if input.ndim != spatial_dims + 2:
        raise RuntimeError(
            f"Expected {spatial_dims + 1}D (unbatched) or {spatial_dims + 2}D (batched) input to "
            f"conv{'_transpose' if transposed else ''}{spatial_dims}d, but got input of size: "
            f"{list(input.shape)}")
    if weight.ndim != spatial_dims + 2:
        raise RuntimeError(f"weight should have at least three dimensions, got {list(weight.shape)}")
    expected = weight.shape[channel_dim] * (1 if transposed else groups)
    if input.shape[1] != expected:
        raise RuntimeError(
            f"Given {'transposed=1, ' if transposed else ''}groups={groups}, weight of size "
            f"{list(weight.shape)}, expected input{list(input.shape)} to have {expected} "
            f"channels, but got {input.shape[1]} channels instead")
    _check_dtypes(input, weight)


def _same_padding(kernel: tuple, dilation: tuple, stride: tuple) -> tuple:
    if any(s != 1 for s in stride):
        raise ValueError("padding='same' is not supported for strided convolutions")
    return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation))


_GEOMETRIES: dict = {}


def _convolution(input, weight, bias, stride, padding, dilation, groups, spatial_dims: int):
    input, weight, bias = autocast_inputs(f"conv{spatial_dims}d", input, weight, bias)
    unbatched = input.ndim == spatial_dims + 1
    if unbatched:
        input = input.unsqueeze(0)
    key = (tuple(input.shape), tuple(weight.shape), stride, padding, dilation, groups,
           spatial_dims)
    geo = remembered(_GEOMETRIES, key, lambda: _conv_geometry(
        input, weight, stride, padding, dilation, groups, spatial_dims))
    _check_dtypes(input, weight, bias)
    out = Convolution.apply(input, weight, bias, geometry=geo)
    return out.squeeze(0) if unbatched else out


def _conv_geometry(input, weight, stride, padding, dilation, groups, spatial_dims: int):
    """The geometry of a convolution call, after checking its shapes and arguments."""
    _check_input(input, weight, groups, spatial_dims, 1, False)
    kernel = tuple(weight.shape[2:])
    stride = pair(stride, spatial_dims, "stride")
    dilation = pair(dilation, spatial_dims, "dilation")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"Invalid padding string '{padding}', should be one of ('valid', 'same')")
        pads = _same_padding(kernel, dilation, stride) if padding == "same" else ((0, 0),) * spatial_dims
    else:
        pads = tuple((p, p) for p in pair(padding, spatial_dims, "padding"))
    if spatial_dims == 1:
        kernel, stride, dilation, pads = (1,) + kernel, (1,) + stride, (1,) + dilation, ((0, 0),) + pads
    geo = ConvGeometry(input.shape[0], input.shape[1], weight.shape[0],
                       (1,) * (2 - spatial_dims) + tuple(input.shape[2:]), kernel, stride, pads,
                       dilation, groups, spatial_dims)
    if any(o <= 0 for o in geo.out_size):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, geo.padded_size[2 - spatial_dims:]))}). "
            f"Kernel size: ({' x '.join(map(str, kernel[2 - spatial_dims:]))}). "
            "Kernel size can't be greater than actual input size")
    return geo


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-d cross-correlation: input ``(N, C_in, L)``, weight ``(C_out, C_in/groups, k)``.

    ``padding`` is an int, a 1-tuple, ``'valid'`` or ``'same'``.
    """
    return _convolution(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-d cross-correlation: input ``(N, C_in, H, W)``, weight ``(C_out, C_in/groups, kh, kw)``.

    ``padding`` is an int, a pair, ``'valid'`` or ``'same'``.

    >>> import chainrule as torch
    >>> import chainrule.nn.functional as F
    >>> F.conv2d(torch.ones(1, 2, 4, 4), torch.ones(3, 2, 3, 3), padding="same").shape
    torch.Size([1, 3, 4, 4])
    """
    return _convolution(input, weight, bias, stride, padding, dilation, groups, 2)


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation,
                    spatial_dims: int):
    input, weight, bias = autocast_inputs(f"conv_transpose{spatial_dims}d", input, weight, bias)
    unbatched = input.ndim == spatial_dims + 1
    if unbatched:
        input = input.unsqueeze(0)
    _check_input(input, weight, groups, spatial_dims, 0, True)
    kernel = tuple(weight.shape[2:])
    stride = pair(stride, spatial_dims, "stride")
    dilation = pair(dilation, spatial_dims, "dilation")
    padding = pair(padding, spatial_dims, "padding")
    output_padding = pair(output_padding, spatial_dims, "output_padding")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= max(s, d):
            raise RuntimeError("output padding must be smaller than either stride or dilation, "
                               f"but got output_padding={list(output_padding)}, stride={list(stride)}, "
                               f"dilation={list(dilation)}")
    size = tuple((i - 1) * s - 2 * p + d * (k - 1) + 1 + op for i, s, p, d, k, op in
                 zip(input.shape[2:], stride, padding, dilation, kernel, output_padding))
    pads = tuple((p, p) for p in padding)
    if spatial_dims == 1:
        kernel, stride, dilation, pads, size = ((1,) + kernel, (1,) + stride, (1,) + dilation,
                                                ((0, 0),) + pads, (1,) + size)
    # The transposed convolution is the gradient of the convolution that maps its output
    # (of size ``size``) to its input; output_padding rows are ones no kernel window reaches.
    geo = ConvGeometry(input.shape[0], weight.shape[1] * groups, weight.shape[0], size, kernel,
                       stride, pads, dilation, groups, spatial_dims)
    out = ConvolutionInputGrad.apply(input, weight, bias, geometry=geo)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-d transposed convolution; weight ``(C_in, C_out/groups, k)``."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 1)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-d transposed convolution (the gradient of ``conv2d`` w.r.t. its input);
    weight ``(C_in, C_out/groups, kh, kw)``.

    >>> import chainrule as torch
    >>> import chainrule.nn.functional as F
    >>> F.conv_transpose2d(torch.ones(1, 2, 3, 3), torch.ones(2, 4, 2, 2), stride=2).shape
    torch.Size([1, 4, 6, 6])
    """
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 2)


# ------------------------------------------------------------------ unfold / fold


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


class Im2Col(Function):
    node_name = "Im2ColBackward0"

    @staticmethod
    def forward(ctx, x, sliding):
        ctx.sliding = sliding
        return _unfold_array(x._data, sliding)

    @staticmethod
    def backward(ctx, grad):
        return Col2Im.apply(grad, sliding=ctx.sliding)


class Col2Im(Function):
    node_name = "Col2ImBackward0"

    @staticmethod
    def forward(ctx, cols, sliding):
        ctx.sliding = sliding
        return _fold_array(cols._data, sliding)

    @staticmethod
    def backward(ctx, grad):
        return Im2Col.apply(grad, sliding=ctx.sliding)


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
    out = Im2Col.apply(input, sliding=sl)
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
    out = Col2Im.apply(input, sliding=sl)
    return out.squeeze(0) if unbatched else out
