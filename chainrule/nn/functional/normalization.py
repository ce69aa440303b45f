"""Normalisation: ``batch_norm``, ``layer_norm``, ``group_norm``, ``instance_norm``,
``rms_norm``, ``local_response_norm``, ``normalize`` (and ``dropout2d``).

All three standardise ``x`` over some axes, ``x_hat = (x - mean) / sqrt(var + eps)``,
then apply a per-feature affine map ``x_hat * weight + bias``. They differ only
in which axes the statistics span (batch norm: every axis but the channel one;
layer norm: the trailing ``normalized_shape``; group norm: each group of
channels; instance norm: each channel of each sample, which is batch norm of the
input seen as one sample of ``N * C`` channels), so one op, ``Normalize``, serves them all. Its gradient is the
classic closed form::

    dx = invstd * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat))

>>> import chainrule as torch
>>> import chainrule.nn.functional as F
>>> F.layer_norm(torch.tensor([[1.0, 3.0]]), (2,))
tensor([[-1.0000,  1.0000]])
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from chainrule._ops._util import Tensor, make_tensor
from chainrule._ops.arithmetic import div
from chainrule._ops.inplace import apply_inplace
from chainrule.autograd.function import Function
from chainrule.backends.cpu import normalization as cpu_normalization
from chainrule.nn.functional.dropout import NativeDropout, check_probability, scaled_keep_mask
from chainrule.nn.functional.padding import pad
from chainrule.nn.functional.pooling import avg_pool2d

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm",
           "local_response_norm", "normalize", "dropout2d"]


@dataclass(frozen=True)
class NormLayout:
    """Where the statistics and the affine parameters live for one input shape."""

    stats_shape: tuple  # the input reshaped so that ``stats_axes`` span one group
    stats_axes: tuple
    affine_shape: tuple  # how weight and bias broadcast against the input
    eps: float

    def standardize(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x_hat, mean, var)`` with biased variance, in the input's dtype."""
        grouped = x.reshape(self.stats_shape)
        mean = grouped.mean(self.stats_axes, keepdims=True)
        centered = grouped - mean
        var = np.square(centered).mean(self.stats_axes, keepdims=True)
        invstd = 1.0 / np.sqrt(var + np.asarray(self.eps, x.dtype))
        centered *= invstd
        return centered.reshape(x.shape), mean, var

    def affine_axes(self) -> tuple:
        return tuple(d for d, s in enumerate(self.affine_shape) if s == 1)


class Normalize(Function):
    """``standardize(x) * weight + bias`` (weight and bias optional)."""

    node_name = "NativeNormBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias, layout, stats=None):
        data = x._data
        w, b = (None if p is None else p._data for p in (weight, bias))
        ctx.save_for_backward(x, weight)
        ctx.layout, ctx.bias_shape = layout, None if b is None else b.shape
        compiled = None if stats is not None else cpu_normalization.layer_norm(data, w, b, layout)
        if compiled is not None:
            out, ctx.x_hat, ctx.invstd = compiled
            return out
        x_hat, mean, var = layout.standardize(data)
        if stats is not None:
            stats.extend((mean, var))
        ctx.x_hat = x_hat
        ctx.invstd = 1.0 / np.sqrt(var + np.asarray(layout.eps, var.dtype))
        out = x_hat
        if w is not None:
            out = out * w.reshape(layout.affine_shape)
        if b is not None:
            out = out + b.reshape(layout.affine_shape)
        return out if out is not x_hat else x_hat.copy()

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        layout = ctx.layout
        # The statistics rebuilt from x with recorded ops, so that a second derivative sees how
        # x_hat and invstd depend on x.
        grouped = x.reshape(layout.stats_shape)
        centered = grouped - grouped.mean(layout.stats_axes, keepdim=True)
        invstd = ((centered * centered).mean(layout.stats_axes, keepdim=True) + layout.eps).rsqrt()
        x_hat = (centered * invstd).reshape(x.shape)
        grad_w, grad_b = _affine_grads(ctx, grad, x_hat, weight)
        grad_x = _input_grad(grad, x_hat, invstd, weight, layout) if ctx.needs_input_grad[0] else None
        return grad_x, grad_w, grad_b

    @staticmethod
    def backward_arrays(ctx, grad):
        _, weight = ctx.saved_tensors
        w = None if weight is None else weight._data
        compiled = cpu_normalization.layer_norm_grad(grad, ctx.x_hat, ctx.invstd, w, ctx.layout,
                                                     ctx.needs_input_grad)
        if compiled is not None:
            grad_x, grad_w, grad_b = compiled
            return (grad_x, None if grad_w is None else grad_w.reshape(w.shape),
                    None if grad_b is None else grad_b.reshape(ctx.bias_shape))
        grad_w, grad_b = _affine_grads(ctx, grad, ctx.x_hat, w)
        grad_x = _input_grad(grad, ctx.x_hat, ctx.invstd, w, ctx.layout) if ctx.needs_input_grad[0] else None
        return grad_x, grad_w, grad_b


def _affine_grads(ctx, grad, x_hat, weight) -> tuple:
    """The gradients of weight and bias (arrays or tensors alike), ``None`` where not needed."""
    _, needs_w, needs_b = ctx.needs_input_grad
    reduce = ctx.layout.affine_axes()

    def summed(a):  # an empty ``reduce`` (the parameters span the whole input) sums nothing
        return a.sum(reduce) if reduce else a

    grad_w = summed(grad * x_hat).reshape(weight.shape) if needs_w else None
    grad_b = summed(grad).reshape(ctx.bias_shape) if needs_b else None
    return grad_w, grad_b


def _input_grad(grad, x_hat, invstd, weight, layout: NormLayout):
    """The closed form of the module docstring, with ``dx_hat = grad * weight`` and the means over
    the statistics' axes (arrays or tensors alike)."""
    g_hat = (grad if weight is None else grad * weight.reshape(layout.affine_shape)).reshape(layout.stats_shape)
    x_hat = x_hat.reshape(layout.stats_shape)
    axes, stats_shape = layout.stats_axes, invstd.shape
    grad_x = invstd * (g_hat - g_hat.mean(axes).reshape(stats_shape)
                       - x_hat * (g_hat * x_hat).mean(axes).reshape(stats_shape))
    return grad_x.reshape(grad.shape)


class BatchNorm(Normalize):
    node_name = "NativeBatchNormBackward0"


class LayerNorm(Normalize):
    node_name = "NativeLayerNormBackward0"


class GroupNorm(Normalize):
    node_name = "NativeGroupNormBackward0"


def _channel_affine_shape(shape: tuple) -> tuple:
    return (1, shape[1]) + (1,) * (len(shape) - 2)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel of ``(N, C, *)`` by batch statistics (``training``) or by
    the running ones, which training updates in place:
    ``running = (1 - momentum) * running + momentum * batch`` (unbiased variance).

    >>> import chainrule as torch
    >>> import chainrule.nn.functional as F
    >>> F.batch_norm(torch.tensor([[1.0], [3.0]]), None, None, training=True)
    tensor([[-1.0000],
            [ 1.0000]])
    """
    shape = tuple(input.shape)
    affine_shape = _channel_affine_shape(shape)
    channels = shape[1] if len(shape) > 1 else 1
    for name, per_channel in (("running_mean", running_mean), ("running_var", running_var),
                              ("weight", weight), ("bias", bias)):
        if per_channel is not None and per_channel._data.size != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not {per_channel._data.size}")
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        invstd = 1.0 / np.sqrt(running_var._data + np.asarray(eps, running_var._data.dtype))
        scale = make_tensor(invstd) if weight is None else weight * make_tensor(invstd)
        shift = -make_tensor(running_mean._data) * scale
        if bias is not None:
            shift = shift + bias
        return input * scale.reshape(affine_shape) + shift.reshape(affine_shape)
    count = input._data.size // shape[1] if len(shape) > 1 else 0
    if count <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"torch.Size({list(shape)})")
    layout = NormLayout(shape, (0,) + tuple(range(2, len(shape))), affine_shape, eps)
    stats: list = []
    out = BatchNorm.apply(input, weight, bias, layout=layout, stats=stats)
    if running_mean is not None:
        mean = stats[0].reshape(-1)
        running_mean._data *= 1 - momentum
        running_mean._data += momentum * mean.astype(running_mean._data.dtype)
    if running_var is not None:
        unbiased = stats[1].reshape(-1) * (count / (count - 1))
        running_var._data *= 1 - momentum
        running_var._data += momentum * unbiased.astype(running_var._data.dtype)
    return out


def _trailing_shape(input: Tensor, normalized_shape, star: str) -> tuple:
    """``normalized_shape`` as a tuple, checked to be the input's trailing dims (``star`` is how
    PyTorch's message for the calling op writes the leading dims)."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    shape = tuple(input.shape)
    k = len(normalized_shape)
    if k == 0 or shape[len(shape) - k:] != normalized_shape or k > len(shape):
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[{star}{', '.join(map(str, normalized_shape))}], but got input of size{list(shape)}")
    return normalized_shape


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims, then ``* weight + bias``."""
    normalized_shape = _trailing_shape(input, normalized_shape, "*, ")
    shape = tuple(input.shape)
    lead = shape[:len(shape) - len(normalized_shape)]
    layout = NormLayout(shape, tuple(range(len(lead), len(shape))),
                        (1,) * len(lead) + normalized_shape, eps)
    return LayerNorm.apply(input, weight, bias, layout=layout)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each group of ``C / num_groups`` channels of ``(N, C, *)`` per sample."""
    shape = tuple(input.shape)
    if len(shape) < 2 or shape[1] % num_groups:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {list(shape)} and num_groups={num_groups}")
    layout = NormLayout((shape[0], num_groups, -1), (2,), _channel_affine_shape(shape), eps)
    return GroupNorm.apply(input, weight, bias, layout=layout)


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True, momentum: float = 0.1,
                  eps: float = 1e-5) -> Tensor:
    """Normalise each channel of each sample of ``(N, C, *)`` over its spatial dims. The running
    statistics (if given) are updated with the batch average of the per-sample ones, and used
    instead of them when ``use_input_stats`` is false.

    >>> import chainrule as torch
    >>> import chainrule.nn.functional as F
    >>> F.instance_norm(torch.tensor([[[1.0, 3.0], [2.0, 2.0]]]))
    tensor([[[-1.0000,  1.0000],
             [ 0.0000,  0.0000]]])
    """
    shape = tuple(input.shape)
    if use_input_stats and math.prod(shape[2:]) <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"torch.Size({list(shape)})")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    batch = shape[0]

    def per_instance(per_channel: Tensor | None) -> Tensor | None:
        return None if per_channel is None else per_channel.detach().repeat(batch)

    # PyTorch's own reduction to batch norm: the batch becomes one sample of N * C channels.
    mean, var = per_instance(running_mean), per_instance(running_var)
    out = batch_norm(input.reshape((1, -1) + shape[2:]), mean, var,
                     None if weight is None else weight.repeat(batch),
                     None if bias is None else bias.repeat(batch), use_input_stats, momentum, eps)
    for running, updated in ((running_mean, mean), (running_var, var)):
        if running is not None and use_input_stats:
            running._data[...] = updated._data.reshape(batch, -1).mean(0)
    return out.reshape(shape)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``x / sqrt(mean(x**2) + eps) * weight`` over the trailing ``normalized_shape`` dims;
    ``eps`` defaults to the machine epsilon of the input's dtype.

    >>> import chainrule as torch
    >>> import chainrule.nn.functional as F
    >>> F.rms_norm(torch.tensor([[3.0, 4.0]]), (2,))
    tensor([[0.8485, 1.1314]])
    """
    dims = tuple(range(-len(_trailing_shape(input, normalized_shape, "*")), 0))
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out if weight is None else out * weight


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """Divide each element of ``(N, C, *)`` by ``(k + alpha * mean of x**2 over a window of
    size channels around it) ** beta`` (the window is zero-padded at the channel edges).

    >>> import chainrule as torch
    >>> import chainrule.nn.functional as F
    >>> F.local_response_norm(torch.tensor([[[2.0], [0.0]]]), size=2, alpha=1.0, beta=1.0)
    tensor([[[0.6667],
             [0.0000]]])
    """
    shape = tuple(input.shape)
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality                          "
                         f"input (got {input.ndim} dimensions)")
    if input._data.size == 0:
        return input
    squares = (input * input).reshape(shape[0], 1, shape[1], -1)
    window_mean = avg_pool2d(pad(squares, (0, 0, size // 2, (size - 1) // 2)), (size, 1), stride=1)
    return input / (window_mean.reshape(shape) * alpha + k).pow(beta)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """``input / max(norm_p(input, dim), eps)``: unit vectors along ``dim``.

    >>> import chainrule as torch
    >>> import chainrule.nn.functional as F
    >>> F.normalize(torch.tensor([[3.0, 4.0]]))
    tensor([[0.6000, 0.8000]])
    """
    denominator = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    if out is None:
        return input / denominator
    return div(input, denominator, out=out)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, H, W)`` with probability ``p``, scaling the rest by
    ``1 / (1 - p)``. As in PyTorch, a 3-D input is taken as ``(N, C, L)`` (with a warning), and
    other ranks drop along their first two dims (with a deprecation warning)."""
    check_probability(p)
    ndim = input.ndim
    if ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated "
                      "and will result in an error in a future release. To retain the behavior "
                      "and silence this warning, please use dropout instead. Note that dropout2d "
                      "exists to provide channel-wise dropout on inputs with 2 spatial "
                      "dimensions, a channel dimension, and an optional batch dimension (i.e. 3D "
                      "or 4D inputs).")
    if ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim. This behavior will change in a future release "
                      "to interpret the input as one without a batch dimension, i.e. shape "
                      "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch "
                      "to using dropout1d instead.")
    if not training or p == 0.0:
        return input
    if ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    shape = tuple(input.shape)
    mask = scaled_keep_mask(shape[:2] + (1,) * (ndim - 2), p, input._data.dtype)
    if inplace:
        return apply_inplace(input, NativeDropout.apply, (mask,), None, "dropout2d_")
    return NativeDropout.apply(input, mask)
