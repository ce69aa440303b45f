"""ONNX rules for the ``nn.functional`` ops: linear, convolution, pooling, normalisation,
activations, embedding and attention. Each rule is the ONNX form of one recorded ``Function``."""

from __future__ import annotations

import math

import numpy as np

from chainrule.nn.functional import activation
from chainrule.nn.functional.attention import (
    ScaledDotProductAttention,
    ScaledDotProductAttentionMath,
    ScaledDotProductAttentionMatrix,
)
from chainrule.nn.functional.conv import Convolution
from chainrule.nn.functional.linear import Addmm, LinearUnsafeView, LinearView, Mm
from chainrule.nn.functional.normalization import BatchNorm, GroupNorm, LayerNorm
from chainrule.nn.functional.pooling import (
    AdaptiveAvgPool,
    AvgPool2d,
    MaxPool2d,
    UpsampleBilinear,
    UpsampleNearest,
)
from chainrule.nn.functional.sparse import Embedding
from chainrule.onnx._registry import translates

# ---------------------------------------------------------------- linear and convolution


@translates(Addmm, Mm)
def gemm(g, op):
    return g.one("Gemm", *[g.name(t) for t in op.args if t is not None], transB=1)


@translates(LinearView, LinearUnsafeView)
def linear_nd(g, op):
    x, weight, bias = (op.args + (None,))[:3]
    product = g.one("MatMul", g.name(x), g.one("Transpose", g.name(weight), perm=[1, 0]))
    return product if bias is None else g.one("Add", product, g.name(bias))


@translates(Convolution)
def convolution(g, op):
    x, weight, bias = op.args
    geo = op.kwargs["geometry"]
    spatial = slice(2 - geo.spatial_dims, 2)
    pads = geo.padding[spatial]
    inputs = [g.name(x), g.name(weight)] + ([g.name(bias)] if bias is not None else [])
    return g.one("Conv", *inputs, kernel_shape=list(geo.kernel[spatial]),
                 strides=list(geo.stride[spatial]), dilations=list(geo.dilation[spatial]),
                 pads=[p[0] for p in pads] + [p[1] for p in pads], group=geo.groups)


# ---------------------------------------------------------------- pooling


def _padded_to_buffer(g, x: str, geo, fill: float, dtype) -> str:
    """``x`` padded with ``fill`` to the extent every window fits in (the padding, and the
    overhang of ``ceil_mode``), so the ONNX pool needs neither pads nor ceil_mode."""
    (top, left), (height, width) = geo.padding, geo.in_size
    bottom, right = geo.buffer_size[0] - height - top, geo.buffer_size[1] - width - left
    if not (top or left or bottom or right):
        return x
    return g.one("Pad", x, g.ints([0, 0, top, left, 0, 0, bottom, right]),
                 g.constant(np.asarray(fill, dtype)))


@translates(MaxPool2d)
def max_pool(g, op):
    x = op.args[0]
    geo = op.kwargs["geometry"]
    padded = _padded_to_buffer(g, g.name(x), geo, -np.inf, x._data.dtype)
    values = g.one("MaxPool", padded, kernel_shape=list(geo.kernel), strides=list(geo.stride),
                   dilations=list(geo.dilation))
    return [values, None]  # the winners' positions have no ONNX value here


@translates(AvgPool2d)
def avg_pool(g, op):
    """A plain average over zero-padded windows, rescaled by the op's own divisors
    (``count_include_pad``, ``divisor_override`` and ``ceil_mode`` all live in ``scale``)."""
    x = op.args[0]
    geo, scale = op.kwargs["geometry"], op.kwargs["scale"]
    padded = _padded_to_buffer(g, g.name(x), geo, 0.0, x._data.dtype)
    mean = g.one("AveragePool", padded, kernel_shape=list(geo.kernel), strides=list(geo.stride))
    correction = scale * math.prod(geo.kernel)
    if np.all(correction == 1):
        return mean
    return g.one("Mul", mean, g.constant(correction.astype(x._data.dtype)))


@translates(AdaptiveAvgPool, UpsampleNearest, UpsampleBilinear)
def separable_linear(g, op):
    """``rows @ x @ cols.T`` on the last two dims, as the op computes it."""
    x = op.args[0]
    dtype = x._data.dtype
    rows = g.constant(op.kwargs["rows"].astype(dtype))
    cols_t = g.constant(np.ascontiguousarray(op.kwargs["cols"].T).astype(dtype))
    return g.one("MatMul", g.one("MatMul", rows, g.name(x)), cols_t)


# ---------------------------------------------------------------- normalisation


@translates(BatchNorm, LayerNorm, GroupNorm)
def normalize(g, op):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the layout's statistics axes."""
    x, weight, bias = op.args
    layout = op.kwargs["layout"]
    grouped = g.name(x)
    regroup = tuple(layout.stats_shape) != tuple(x.shape)
    if regroup:
        target = list(layout.stats_shape)
        if 0 in g.dynamic_dims(x):
            target[0] = 0  # copy the (dynamic) batch size
        grouped = g.one("Reshape", grouped, g.ints(target))
    mean = g.reduce("ReduceMean", grouped, layout.stats_axes)
    centered = g.one("Sub", grouped, mean)
    variance = g.reduce("ReduceMean", g.one("Mul", centered, centered), layout.stats_axes)
    eps = g.constant(np.asarray(layout.eps, x._data.dtype))
    out = g.one("Div", centered, g.one("Sqrt", g.one("Add", variance, eps)))
    if regroup:
        out = g.one("Reshape", out, g.ints(g.static_shape(x, op.name)))
    affine = g.ints(layout.affine_shape)
    if weight is not None:
        out = g.one("Mul", out, g.one("Reshape", g.name(weight), affine))
    if bias is not None:
        out = g.one("Add", out, g.one("Reshape", g.name(bias), affine))
    return out


# ---------------------------------------------------------------- activations


@translates(activation.Gelu)
def gelu(g, op):
    x, approximate = g.name(op.args[0]), op.args[1]
    if g.opset >= 20:
        return g.one("Gelu", x, approximate=approximate)

    def number(value: float) -> str:
        return g.name(value, like=op.args[0])

    if approximate == "tanh":
        cubic = g.one("Mul", g.one("Mul", g.one("Mul", x, x), x), number(activation._GELU_TANH_COEF))
        inner = g.one("Mul", g.one("Add", x, cubic), number(activation._SQRT_2_OVER_PI))
        gate = g.one("Tanh", inner)
    else:
        gate = g.one("Erf", g.one("Mul", x, number(activation._SQRT_HALF)))
    half_x = g.one("Mul", x, number(0.5))
    return g.one("Mul", half_x, g.one("Add", gate, number(1.0)))


@translates(activation.LeakyRelu)
def leaky_relu(g, op):
    return g.one("LeakyRelu", g.name(op.args[0]), alpha=op.args[1])


@translates(activation.Hardtanh)
def hardtanh(g, op):
    x, low, high = op.args
    return g.one("Clip", g.name(x), g.name(low, like=x), g.name(high, like=x))


@translates(activation.Elu, activation.Celu)
def elu(g, op):
    x, alpha, scale, input_scale = op.args
    if input_scale != 1.0:  # celu: input_scale is 1 / alpha
        return g.one("Celu", g.name(x), alpha=alpha)
    if scale != 1.0:
        return g.one("Selu", g.name(x), alpha=alpha, gamma=scale)
    return g.one("Elu", g.name(x), alpha=alpha)


@translates(activation.Softplus)
def softplus(g, op):
    x, beta = op.args[0], op.args[1]
    if beta == 1.0:
        return g.one("Softplus", g.name(x))
    scaled = g.one("Softplus", g.one("Mul", g.name(x), g.name(beta, like=x)))
    return g.one("Div", scaled, g.name(beta, like=x))


@translates(activation.Silu)
def silu(g, op):
    x = g.name(op.args[0])
    return g.one("Mul", x, g.one("Sigmoid", x))


@translates(activation.Softmax)
def softmax(g, op):
    return g.one("Softmax", g.name(op.args[0]), axis=op.args[1])


@translates(activation.LogSoftmax)
def log_softmax(g, op):
    return g.one("LogSoftmax", g.name(op.args[0]), axis=op.args[1])


# ---------------------------------------------------------------- embedding and attention


@translates(Embedding)
def embedding(g, op):
    weight, indices = op.args[:2]
    return g.one("Gather", g.name(weight), g.name(indices), axis=0)


@translates(ScaledDotProductAttention, ScaledDotProductAttentionMath,
            ScaledDotProductAttentionMatrix)
def scaled_dot_product_attention(g, op):
    """``softmax(query @ key.T * scale + bias) @ value``; dropout (``keep``) has no export."""
    query, key, value, bias, keep, scale = op.args[:6]
    if keep is not None:
        raise g.unsupported(op, "dropout_p > 0 inside scaled_dot_product_attention")
    order = list(range(key.ndim))
    order[-2:] = order[-1], order[-2]
    scores = g.one("MatMul", g.name(query), g.one("Transpose", g.name(key), perm=order))
    scores = g.one("Mul", scores, g.name(scale, like=query))
    if bias is not None:
        scores = g.one("Add", scores, g.name(bias))
    return g.one("MatMul", g.one("Softmax", scores, axis=-1), g.name(value))
