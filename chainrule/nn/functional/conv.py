"""Convolutions: ``conv1d``, ``conv2d``, ``conv_transpose1d`` and ``conv_transpose2d``.

A convolution is a matrix product once every receptive field of the input is laid out as a
column (*im2col*)::

    out = weight.reshape(O, C*kh*kw) @ im2col(x) + bias

Three ops close the chain rule among themselves, so convolutions can be differentiated any
number of times:

* ``Convolution(x, w)``: the forward pass, ``w @ im2col(x)``.
* ``ConvolutionInputGrad(g, w)``: ``w.T @ g`` added back onto the input positions each column
  came from (*col2im*); this is also ``conv_transpose2d``.
* ``ConvolutionWeightGrad(x, g)``: ``g @ im2col(x).T``.

The arrays are computed by ``chainrule.backends.cpu.conv``, which chooses the columns' memory
layout and, where they are built, compiled kernels that skip the columns; ``F.unfold`` and
``F.fold`` (``fold.py``) are im2col and col2im on their own.

>>> import chainrule as torch
>>> import chainrule.nn.functional as F
>>> F.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2))
tensor([[[[4., 4.],
          [4., 4.]]]])
"""

from __future__ import annotations

import numpy as np

from chainrule._ops._util import Tensor
from chainrule.amp.autocast_mode import autocast_inputs
from chainrule.autograd.function import Function
from chainrule.backends.cpu import conv as backend
from chainrule.backends.cpu.conv import ConvGeometry

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]


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


def _sum_but_channels(t: Tensor) -> Tensor:
    """The bias's gradient: ``t`` summed over every dimension but the channels (dim 1)."""
    return t.sum(tuple(d for d in range(t.ndim) if d != 1))


class Convolution(Function):
    """``weight @ im2col(x) + bias``."""

    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias, geometry):
        ctx.save_for_backward(x, weight)
        ctx.geometry = geometry
        out, ctx.cols = backend.convolution(x._data, weight._data,
                                            None if bias is None else bias._data, geometry)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        return _input_weight_bias_grads(ctx, grad, ConvolutionInputGrad, weight, (x, grad))

    @staticmethod
    def backward_arrays(ctx, grad):
        # The same three gradients, sharing the forward's columns and one layout of ``grad``.
        x, weight = ctx.saved_tensors
        geo = ctx.geometry
        needs_x, needs_w, needs_b = ctx.needs_input_grad
        matrix = backend.grad_matrix(grad, geo)
        gx = backend.input_grad(grad, weight._data, geo, matrix) if needs_x else None
        gw = backend.weight_grad(x._data, grad, geo, ctx.cols, matrix) if needs_w else None
        gb = backend.bias_grad(grad, geo, matrix) if needs_b else None
        return gx, gw, gb


class ConvolutionInputGrad(Function):
    """``col2im(weight.T @ grad) + bias``: the convolution's gradient w.r.t. its input, as an op
    of ``(grad, weight)``, and ``conv_transpose``."""

    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, grad, weight, bias, geometry):
        ctx.save_for_backward(grad, weight)
        ctx.geometry = geometry
        out = backend.input_grad(grad._data, weight._data, geometry)
        if bias is not None:
            out += bias._data.reshape((-1,) + (1,) * (out.ndim - 2))
        return out

    @staticmethod
    def backward(ctx, gg):
        grad, weight = ctx.saved_tensors
        return _input_weight_bias_grads(ctx, gg, Convolution, weight, (gg, grad))


def _input_weight_bias_grads(ctx, grad: Tensor, adjoint: type[Function], weight: Tensor,
                             weight_grad_inputs: tuple) -> tuple:
    """The gradients of an op linear in its input, in its weight, plus a per-channel bias
    (a convolution, or its input gradient): ``adjoint`` of ``grad`` for the input, the weight
    gradient of ``weight_grad_inputs``, the per-channel sums of ``grad`` for the bias."""
    geo = ctx.geometry
    needs_input, needs_weight, needs_bias = ctx.needs_input_grad
    return (adjoint.apply(grad, weight, None, geometry=geo) if needs_input else None,
            ConvolutionWeightGrad.apply(*weight_grad_inputs, geometry=geo) if needs_weight else None,
            _sum_but_channels(grad) if needs_bias else None)


class ConvolutionWeightGrad(Function):
    """``grad @ im2col(x).T``: the convolution's gradient w.r.t. its weight, as an op of
    ``(x, grad)``."""

    node_name = "ConvolutionBackwardBackward0"

    @staticmethod
    def forward(ctx, x, grad, geometry):
        ctx.save_for_backward(x, grad)
        ctx.geometry = geometry
        return backend.weight_grad(x._data, grad._data, geometry)

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


def _convolution(input, weight, bias, stride, padding, dilation, groups, spatial_dims: int):
    input, weight, bias = autocast_inputs(f"conv{spatial_dims}d", input, weight, bias)
    unbatched = input.ndim == spatial_dims + 1
    if unbatched:
        input = input.unsqueeze(0)
    key = (tuple(input.shape), tuple(weight.shape), stride, padding, dilation, groups,
           spatial_dims)
    geo = backend.conv_geometry(key, lambda: _checked_geometry(
        input, weight, stride, padding, dilation, groups, spatial_dims))
    _check_dtypes(input, weight, bias)
    out = Convolution.apply(input, weight, bias, geometry=geo)
    return out.squeeze(0) if unbatched else out


def _checked_geometry(input, weight, stride, padding, dilation, groups, spatial_dims: int):
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
