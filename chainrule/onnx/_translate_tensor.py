"""ONNX rules for the tensor ops: arithmetic, elementwise functions, matmul, reductions and
reshaping. Each rule is the ONNX form of one recorded ``Function`` (see ``_registry``)."""

from __future__ import annotations

import numpy as np

from chainrule._ops import arithmetic, indexing, linalg, reduction, shape, trigonometric, unary
from chainrule.onnx._registry import translates
from chainrule.onnx.errors import OnnxExporterError

# ---------------------------------------------------------------- arithmetic


def _scaled(g, op, value, alpha) -> str:
    name = g.name(value, like=op.outputs[0])
    return name if alpha == 1 else g.one("Mul", name, g.name(alpha, like=op.outputs[0]))


@translates(arithmetic.Add)
def add(g, op):
    a, b = op.args[:2]
    return g.one("Add", g.name(a, op.outputs[0]), _scaled(g, op, b, op.kwargs.get("alpha", 1)))


@translates(arithmetic.Sub, arithmetic.RSub)
def sub(g, op):
    a, b = op.args[:2]
    return g.one("Sub", g.name(a, op.outputs[0]), _scaled(g, op, b, op.kwargs.get("alpha", 1)))


def _binary(onnx_op: str):
    def rule(g, op):
        a, b = op.args[:2]
        return g.one(onnx_op, g.name(a, op.outputs[0]), g.name(b, op.outputs[0]))
    return rule


translates(arithmetic.Mul)(_binary("Mul"))
translates(arithmetic.Div)(_binary("Div"))
translates(arithmetic.Pow)(_binary("Pow"))
translates(linalg.Mm, linalg.Bmm, linalg.Mv, linalg.VectorMatmul)(
    _binary("MatMul"))


@translates(arithmetic.PowScalar)
def pow_scalar(g, op):
    return g.one("Pow", g.name(op.args[0]), g.name(op.kwargs.get("exponent", 1), op.outputs[0]))


# ---------------------------------------------------------------- elementwise functions


def _unary(onnx_op: str):
    def rule(g, op):
        return g.one(onnx_op, g.name(op.args[0]))
    return rule


for _function, _onnx_op in (
        (arithmetic.Neg, "Neg"), (unary.Exp, "Exp"), (unary.Log, "Log"), (unary.Sqrt, "Sqrt"),
        (trigonometric.Tanh, "Tanh"), (unary.Sigmoid, "Sigmoid"), (unary.Relu, "Relu"), (unary.Abs, "Abs"),
        (unary.Sign, "Sign"), (unary.Reciprocal, "Reciprocal"), (trigonometric.Sin, "Sin"),
        (trigonometric.Cos, "Cos"), (unary.Erf, "Erf"), (unary.Floor, "Floor"), (unary.Ceil, "Ceil")):
    translates(_function)(_unary(_onnx_op))


@translates(unary.Rsqrt)
def rsqrt(g, op):
    return g.one("Reciprocal", g.one("Sqrt", g.name(op.args[0])))


# ---------------------------------------------------------------- reductions


def _reduce(onnx_op: str):
    def rule(g, op):
        x = op.args[0]
        dims = op.kwargs.get("dims")
        keepdims = bool(op.kwargs.get("keepdim", False))
        axes = range(x.ndim) if dims is None else dims
        return g.reduce(onnx_op, g.name(x), axes, keepdims)
    return rule


translates(reduction.Sum, reduction.SumDim)(_reduce("ReduceSum"))
translates(reduction.Mean, reduction.MeanDim)(_reduce("ReduceMean"))

# ---------------------------------------------------------------- reshaping


@translates(shape.Reshape, shape.UnsafeView)
def reshape(g, op):
    target = g.static_shape(op.outputs[0], op.name)
    return g.one("Reshape", g.name(op.args[0]), g.ints(target))


@translates(shape.Unsqueeze)
def unsqueeze(g, op):
    return g.one("Unsqueeze", g.name(op.args[0]), g.ints([op.kwargs["dim"]]))


@translates(shape.Squeeze, shape.SqueezeDim, shape.SqueezeDims)
def squeeze(g, op):
    x = op.args[0]
    dims = op.kwargs.get("dims")
    if dims is None:
        dims = [d for d, size in enumerate(x.shape) if size == 1]
    dims = [dims] if isinstance(dims, int) else [d for d in dims if x.shape[d] == 1]
    return g.one("Squeeze", g.name(x), g.ints(dims)) if dims else g.one("Identity", g.name(x))


@translates(shape.Transpose, shape.T)
def transpose(g, op):
    x = op.args[0]
    order = list(range(x.ndim))
    dim0, dim1 = op.kwargs["dim0"], op.kwargs["dim1"]
    order[dim0], order[dim1] = order[dim1], order[dim0]
    return g.one("Transpose", g.name(x), perm=order)


@translates(shape.Permute)
def permute(g, op):
    return g.one("Transpose", g.name(op.args[0]), perm=list(op.kwargs["dims"]))


@translates(shape.Expand)
def expand(g, op):
    x, out = op.args[0], op.outputs[0]
    target = list(out.shape)
    lead = out.ndim - x.ndim
    for dim in g.dynamic_dims(out):
        if dim - lead not in g.dynamic_dims(x):
            raise OnnxExporterError(
                f"expand to {tuple(out.shape)} grows dim {dim} to a size that follows a dynamic "
                "axis, which chainrule's exporter cannot compute; use broadcasting instead")
        target[dim] = 1  # broadcasting against the input's own (dynamic) size keeps it
    return g.one("Expand", g.name(x), g.ints(target))


@translates(shape.Cat)
def cat(g, op):
    return g.one("Concat", *[g.name(t) for t in op.args], axis=op.kwargs.get("dim", 0))


@translates(shape.Stack)
def stack(g, op):
    dim = op.kwargs.get("dim", 0)
    parts = [g.one("Unsqueeze", g.name(t), g.ints([dim])) for t in op.args]
    return g.one("Concat", *parts, axis=dim)


@translates(shape.Split, shape.SplitWithSizes)
def split(g, op):
    sizes = op.kwargs["sizes"]
    return g.node("Split", [g.name(op.args[0]), g.ints(sizes)], len(sizes),
                  axis=op.kwargs.get("dim", 0))


@translates(shape.Unbind)
def unbind(g, op):
    x, dim = op.args[0], op.kwargs.get("dim", 0)
    parts = g.node("Split", [g.name(x), g.ints([1] * x.shape[dim])], x.shape[dim], axis=dim)
    return [g.one("Squeeze", part, g.ints([dim])) for part in parts]


_INT64_MAX = np.iinfo(np.int64).max


@translates(indexing.Select, indexing.Slice, indexing.Alias, indexing.IndexUnsqueeze)
def basic_index(g, op):
    """``x[key]`` with ints, slices, ``None`` and ``...``: one Slice, then Squeeze for the int
    items and Unsqueeze for the ``None`` ones. Starts and stops stay as written (negative ones
    count from the end), so they hold for any size of a dynamic dim."""
    x = op.args[0]
    key = _expanded_key(op.kwargs["key"], x.ndim)
    starts, ends, axes, steps, dropped, inserted = [], [], [], [], [], []
    dim = out_dim = 0  # of the input, of the output
    for item in key:
        if item is None:
            inserted.append(out_dim)
            out_dim += 1
            continue
        if isinstance(item, int):
            starts.append(item), ends.append(item + 1 or _INT64_MAX), axes.append(dim)
            steps.append(1)
            dropped.append(dim)
        else:
            if item != slice(None):
                starts.append(0 if item.start is None else int(item.start))
                ends.append(_INT64_MAX if item.stop is None else int(item.stop))
                axes.append(dim), steps.append(1 if item.step is None else int(item.step))
            out_dim += 1
        dim += 1
    name = g.name(x)
    if axes:
        name = g.one("Slice", name, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps))
    if dropped:
        name = g.one("Squeeze", name, g.ints(dropped))
    if inserted:
        name = g.one("Unsqueeze", name, g.ints(inserted))
    return name


def _expanded_key(key: tuple, ndim: int) -> list:
    """``key`` with ``...`` replaced by full slices and missing trailing dims filled in."""
    items = list(key)
    used = sum(1 for item in items if item is not None and item is not Ellipsis)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at:at + 1] = [slice(None)] * (ndim - used)
    return items + [slice(None)] * (ndim - sum(1 for item in items if item is not None))
