"""Reductions (``sum``, ``mean``, ...) and ``sum_to_size``, the engine's broadcasting reduction."""

from __future__ import annotations

# This module defines ``sum``, ``max``, ``all``, ... as PyTorch does; Python's own are ``builtins.*``.
import builtins
import math
import warnings
from collections import namedtuple

import numpy as np

from chainrule._dtype import compute_numpy, is_floating_numpy, to_dtype
from chainrule._ops._util import (
    Tensor,
    make_tensor,
    normalize_dim,
    normalize_dims,
    shape_from_args,
    tensor_method,
    type_label,
)
from chainrule._ops.selection import maximum, minimum, where
from chainrule._ops.shape import Expand
from chainrule.autograd.function import Function


def _kept_shape(shape: tuple, dims: tuple | None) -> tuple:
    """``shape`` with the reduced ``dims`` set to 1 (all of them when ``dims`` is None)."""
    if dims is None:
        return (1,) * len(shape)
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def reduction_dims(dim, ndim: int) -> tuple[int, ...] | None:
    """``normalize_dims`` for a reduction: a 0-d tensor's only "dim" is the whole tensor."""
    dims = normalize_dims(dim, ndim)
    return None if ndim == 0 else dims


def accumulate_dtype(data: np.ndarray, dtype):
    """The NumPy dtype a sum accumulates in: ``dtype`` if given, int64 for integers, else None."""
    if dtype is not None:
        return to_dtype(dtype).numpy
    return np.int64 if data.dtype.kind in "iub" else None


def accumulated(accumulate, data: np.ndarray, dtype, **kwargs) -> np.ndarray:
    """``accumulate(data, ...)`` (a sum or a running sum/product) as PyTorch accumulates:
    integers in int64, bfloat16 in float32, the result rounded back to its dtype once."""
    result_dtype = np.dtype(accumulate_dtype(data, dtype) or data.dtype)
    return accumulate(data, dtype=compute_numpy(result_dtype), **kwargs).astype(result_dtype,
                                                                                 copy=False)


def spread_back(grad: Tensor, ctx, scale: float = 1.0) -> Tensor:
    """The gradient of a sum (``scale`` 1) or mean (``1 / count``): each reduced value's
    gradient, scaled, broadcast back over the elements it summed (a view, no copy)."""
    return Expand.apply(grad, shape=ctx.input_shape, kept_shape=_kept_shape(ctx.input_shape, ctx.dims),
                        scale=scale)


class Sum(Function):
    node_name = "SumBackward0"

    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False, dtype=None):
        data = a._data
        ctx.input_shape = data.shape
        ctx.dims = dims
        ctx.keepdim = keepdim
        return accumulated(np.add.reduce, data, dtype, axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return spread_back(grad, ctx)


class SumDim(Sum):
    node_name = "SumBackward1"


class Mean(Function):
    node_name = "MeanBackward0"

    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False, dtype=None):
        data = a._data
        if dtype is None and not is_floating_numpy(data.dtype):
            raise RuntimeError(
                "mean(): could not infer output dtype. Input dtype must be either a floating point "
                f"or complex dtype. Got: {type_label(data.dtype)}")
        ctx.input_shape = data.shape
        ctx.dims = dims
        ctx.keepdim = keepdim
        ctx.count = count = reduced_size(data.shape, dims)
        out_dtype = to_dtype(dtype).numpy if dtype is not None else data.dtype
        # np.mean's arithmetic (float16 accumulates in float32), without its Python overhead;
        # the mean of nothing is nan, silently, as in PyTorch.
        accumulate = np.float32 if out_dtype == np.float16 else compute_numpy(out_dtype)
        total = np.add.reduce(data, axis=dims, dtype=accumulate, keepdims=keepdim)
        return np.true_divide(total, count, dtype=accumulate).astype(out_dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return spread_back(grad, ctx, scale=1.0 / ctx.count if ctx.count else 0.0)


class MeanDim(Mean):
    node_name = "MeanBackward1"


@tensor_method()
def sum(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Sum of all elements, or over ``dim`` (an int or a tuple of ints).

    >>> import chainrule as torch
    >>> torch.tensor([[1, 2], [3, 4]]).sum(dim=0)
    tensor([4, 6])
    """
    dims = reduction_dims(dim, input._data.ndim)
    if dim is None and not keepdim:
        return Sum.apply(input, dtype=dtype)
    return SumDim.apply(input, dims=dims, keepdim=keepdim, dtype=dtype)


@tensor_method()
def mean(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Mean of all elements, or over ``dim``."""
    dims = reduction_dims(dim, input._data.ndim)
    if dim is None and not keepdim:
        return Mean.apply(input, dtype=dtype)
    return MeanDim.apply(input, dims=dims, keepdim=keepdim, dtype=dtype)


@tensor_method()
def sum_to_size(self, *size) -> Tensor:
    """Sum dimensions so the result has shape ``size`` (which must broadcast to this shape)."""
    shape = shape_from_args(size)
    data_shape = self._data.shape
    if shape == data_shape:
        return self
    lead = len(data_shape) - len(shape)
    if lead < 0 or builtins.any(s != 1 and s != data_shape[lead + i] for i, s in enumerate(shape)):
        raise RuntimeError(f"size {{{list(shape)}}} is not expandable to size {{{list(data_shape)}}}.")
    # As PyTorch: one sum keeping the dims, then a view without the leading ones.
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and data_shape[lead + i] != 1)
    total = SumDim.apply(self, dims=dims, keepdim=True)
    return total.view(shape) if lead else total


# ------------------------------------------------------------ products and extremes
def as_kept(grad: Tensor, ctx) -> Tensor:
    """The gradient of a reduction, reshaped so it broadcasts against the input."""
    return grad if ctx.keepdim else grad.reshape(_kept_shape(ctx.input_shape, ctx.dims))


def reduced_size(shape: tuple, dims: tuple | None) -> int:
    """How many elements each result of a reduction over ``dims`` combines."""
    return math.prod(shape if dims is None else [shape[d] for d in dims])


def _product_of_others(data: np.ndarray, dims: tuple | None) -> np.ndarray:
    """For each element, the product of the other elements of its reduction: exact with zeros."""
    moved = data.reshape(-1) if dims is None else np.moveaxis(data, dims[0], -1)
    ones = np.ones_like(moved[..., :1])
    before = np.concatenate([ones, np.cumprod(moved[..., :-1], axis=-1)], axis=-1)
    after = np.flip(np.cumprod(np.flip(moved[..., 1:], -1), axis=-1), -1)
    after = np.concatenate([after, ones], axis=-1)
    others = before * after
    return others.reshape(data.shape) if dims is None else np.moveaxis(others, -1, dims[0])


class Prod(Function):
    node_name = "ProdBackward0"

    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False, dtype=None):
        data = a._data
        result = np.prod(data, axis=dims, keepdims=keepdim, dtype=accumulate_dtype(data, dtype))
        ctx.save_for_backward(a, result)
        ctx.input_shape, ctx.dims, ctx.keepdim = data.shape, dims, keepdim
        return result

    @staticmethod
    def backward(ctx, grad):
        a, result = ctx.saved_tensors
        grad = as_kept(grad, ctx)
        if (a._data != 0).all():
            return grad * as_kept(result, ctx) / a
        return grad * make_tensor(_product_of_others(a._data, ctx.dims))


class ProdDim(Prod):
    node_name = "ProdBackward1"


class Extreme(Function):
    """``amax``/``amin`` and ``max()``/``min()``: ties share the gradient evenly."""

    node_name = "AmaxBackward0"

    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False, largest=True):
        data = a._data
        result = (np.max if largest else np.min)(data, axis=dims, keepdims=keepdim)
        ctx.save_for_backward(a, result)
        ctx.input_shape, ctx.dims, ctx.keepdim = data.shape, dims, keepdim
        return result

    @staticmethod
    def backward(ctx, grad):
        a, result = ctx.saved_tensors
        return share_among_ties(grad, a, result, ctx)


def share_among_ties(grad: Tensor, a: Tensor, result: Tensor, ctx) -> Tensor:
    """The gradient of an extreme ``result`` of ``a``, split evenly among the elements equal to it."""
    chosen = a == as_kept(result, ctx).detach()
    count = chosen.sum(ctx.dims, keepdim=True) if ctx.dims else chosen.sum()
    return where(chosen, as_kept(grad, ctx) / count, 0.0)


class Amin(Extreme):
    node_name = "AminBackward0"


class MaxAll(Extreme):
    node_name = "MaxBackward1"


class MinAll(Extreme):
    node_name = "MinBackward1"


class ExtremeDim(Function):
    """``max(dim)``/``min(dim)``: values and the index of the first extreme; the gradient goes there."""

    node_name = "MaxBackward0"

    @staticmethod
    def forward(ctx, a, dim=0, keepdim=False, largest=True):
        data = a._data
        if data.ndim == 0:
            ctx.input_shape = ()
            return data.copy(), np.zeros((), np.int64)
        indices = (np.argmax if largest else np.argmin)(data, axis=dim, keepdims=True)
        values = np.take_along_axis(data, indices, axis=dim)
        if not keepdim:
            values, indices = np.squeeze(values, dim), np.squeeze(indices, dim)
        ctx.mark_non_differentiable(indices)
        ctx.input_shape, ctx.dims, ctx.keepdim, ctx.dim = data.shape, (dim,), keepdim, dim
        ctx.indices = indices if keepdim else np.expand_dims(indices, dim)
        return values, indices.astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, grad, grad_indices):
        if not ctx.input_shape:
            return grad
        positions = np.arange(ctx.input_shape[ctx.dim]).reshape(
            (-1,) + (1,) * (len(ctx.input_shape) - ctx.dim - 1))
        chosen = make_tensor(positions == ctx.indices)
        return where(chosen, as_kept(grad, ctx), 0.0)


class MinDim(ExtremeDim):
    node_name = "MinBackward0"


def return_type(name: str):
    """A ``(values, indices)`` named tuple printed like ``torch.return_types.<name>``."""
    base = namedtuple(name, ["values", "indices"])

    def __repr__(self) -> str:
        return f"torch.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"

    return type(name, (base,), {"__slots__": (), "__repr__": __repr__,
                                "__module__": "torch.return_types"})


max_return = return_type("max")
min_return = return_type("min")


def _check_nonempty(name: str, data: np.ndarray, dims) -> None:
    if dims is None:
        if data.size == 0:
            raise RuntimeError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                "the reduction dim with the 'dim' argument.")
        return
    for d in dims:
        if data.ndim and data.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _extreme(name: str, largest: bool, input, dim, keepdim, other):
    if isinstance(dim, Tensor):
        other, dim = dim, None
    if other is not None:
        return (maximum if largest else minimum)(input, other)
    data = input._data
    if dim is None:
        _check_nonempty(name, data, None)
        return (MaxAll if largest else MinAll).apply(input, largest=largest)
    axis = normalize_dims(dim, data.ndim)
    _check_nonempty(name, data, axis)
    values, indices = (ExtremeDim if largest else MinDim).apply(
        input, dim=axis[0], keepdim=keepdim, largest=largest)
    return (max_return if largest else min_return)(values, indices)


@tensor_method()
def max(input, dim=None, keepdim=False, *, other=None):  # noqa: A001 - PyTorch's name
    """The largest element; with ``dim``, ``(values, indices)`` along it; with a tensor, ``maximum``.

    >>> import chainrule as torch
    >>> torch.tensor([[1, 5], [7, 2]]).max(dim=1).values
    tensor([5, 7])
    """
    return _extreme("max", True, input, dim, keepdim, other)


@tensor_method()
def min(input, dim=None, keepdim=False, *, other=None):  # noqa: A001
    """The smallest element; with ``dim``, ``(values, indices)``; with a tensor, ``minimum``."""
    return _extreme("min", False, input, dim, keepdim, other)


def _amax_amin(name: str, node: type[Function], input, dim, keepdim) -> Tensor:
    dims = reduction_dims(dim, input._data.ndim)
    _check_nonempty(name, input._data, dims)
    return node.apply(input, dims=dims, keepdim=keepdim, largest=name == "amax")


@tensor_method()
def amax(input, dim=(), keepdim=False) -> Tensor:
    """The largest values over ``dim`` (all dims by default); ties share the gradient."""
    return _amax_amin("amax", Extreme, input, dim, keepdim)


@tensor_method()
def amin(input, dim=(), keepdim=False) -> Tensor:
    """The smallest values over ``dim`` (all dims by default); ties share the gradient."""
    return _amax_amin("amin", Amin, input, dim, keepdim)


def _arg_extreme(name: str, func, input, dim, keepdim) -> Tensor:
    data = input._data
    if data.dtype == np.bool_:
        raise RuntimeError(f"{name}(): does not support bool input")
    if dim is None:
        if data.size == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
        index = np.asarray(func(data))
        return make_tensor(index.reshape((1,) * data.ndim) if keepdim else index)
    axis = normalize_dim(dim, data.ndim)
    _check_nonempty(name, data, (axis,))
    if data.ndim == 0:
        return make_tensor(np.array(0))
    return make_tensor(func(data, axis=axis, keepdims=keepdim).astype(np.int64, copy=False))


@tensor_method()
def argmax(input, dim=None, keepdim=False) -> Tensor:
    """The index of the (first) largest element, flat or along ``dim``."""
    return _arg_extreme("argmax", np.argmax, input, dim, keepdim)


@tensor_method()
def argmin(input, dim=None, keepdim=False) -> Tensor:
    """The index of the (first) smallest element, flat or along ``dim``."""
    return _arg_extreme("argmin", np.argmin, input, dim, keepdim)


@tensor_method()
def prod(input, dim=None, keepdim=False, *, dtype=None) -> Tensor:
    """Product of all elements, or along ``dim``; integers give int64."""
    if dim is None:
        return Prod.apply(input, dtype=dtype)
    return ProdDim.apply(input, dims=reduction_dims(int(dim), input._data.ndim), keepdim=keepdim,
                         dtype=dtype)


# --------------------------------------------------------------------- spread
def _check_float(name: str, data: np.ndarray) -> None:
    if not is_floating_numpy(data.dtype):
        raise RuntimeError(f"{name} only support floating point and complex dtypes")


def variance_array(data: np.ndarray, dims, correction, keepdim: bool, name: str,
              root: bool = False) -> tuple:
    """The variance array (its square root if ``root``: the standard deviation) and its divisor
    ``N - correction``, warning as PyTorch does when <= 0. bfloat16 is computed in float32 and
    rounded once."""
    _check_float("std and var", data)
    divisor = reduced_size(data.shape, dims) - correction
    compute = compute_numpy(data.dtype)
    if divisor > 0:
        result = np.var(data, axis=dims, ddof=correction, keepdims=keepdim, dtype=compute)
    else:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the reduction factor (input numel divided by output numel).",
                      stacklevel=4)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            result = np.var(data, axis=dims, ddof=correction, keepdims=keepdim, dtype=compute)
    return np.asarray(np.sqrt(result) if root else result, dtype=data.dtype), divisor


class Var(Function):
    node_name = "VarBackward0"

    @staticmethod
    def forward(ctx, a, dims=None, correction=1, keepdim=False):
        data = a._data
        result, ctx.divisor = variance_array(data, dims, correction, keepdim, "var")
        ctx.save_for_backward(a)
        ctx.input_shape, ctx.dims, ctx.keepdim = data.shape, dims, keepdim
        return result

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        centred = a - a.mean(ctx.dims, keepdim=True)
        with np.errstate(divide="ignore"):
            scale = np.float64(2) / ctx.divisor
        return as_kept(grad, ctx) * centred * float(scale)


class Std(Function):
    node_name = "StdBackward0"

    @staticmethod
    def forward(ctx, a, dims=None, correction=1, keepdim=False):
        data = a._data
        result, ctx.divisor = variance_array(data, dims, correction, keepdim, "std", root=True)
        ctx.save_for_backward(a, result)
        ctx.input_shape, ctx.dims, ctx.keepdim = data.shape, dims, keepdim
        return result

    @staticmethod
    def backward(ctx, grad):
        a, result = ctx.saved_tensors
        centred = a - a.mean(ctx.dims, keepdim=True)
        kept_result = as_kept(result, ctx)
        # A zero spread has no direction to move in: PyTorch defines that gradient as 0, not nan.
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = (as_kept(grad, ctx) / kept_result).masked_fill(kept_result == 0, 0)
        return scale * centred / ctx.divisor


def apply_variance_node(node: type[Function], input, dim, unbiased, keepdim, correction):
    """``node`` (var, std, or one of them with the mean) with PyTorch's argument rules."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    dims = reduction_dims(dim, input._data.ndim)
    return node.apply(input, dims=dims, correction=correction, keepdim=keepdim)


@tensor_method()
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None) -> Tensor:
    """Variance over ``dim`` with ``correction`` (1: unbiased, Bessel's correction; 0: biased)."""
    return apply_variance_node(Var, input, dim, unbiased, keepdim, correction)


@tensor_method()
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None) -> Tensor:
    """Standard deviation over ``dim``, with ``correction`` as in ``var``."""
    return apply_variance_node(Std, input, dim, unbiased, keepdim, correction)


# ----------------------------------------------------------------------- norms
class VectorNorm(Function):
    """``(sum |x|^p)^(1/p)`` over ``dims``; ``p`` may be 0, inf or -inf."""

    node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, a, p=2.0, dims=None, keepdim=False):
        data = a._data
        magnitude = np.abs(data)
        if p == 2:
            result = np.sqrt(np.sum(data * data, axis=dims, keepdims=keepdim))
        elif p == 1:
            result = np.sum(magnitude, axis=dims, keepdims=keepdim)
        elif p == np.inf:
            result = np.max(magnitude, axis=dims, keepdims=keepdim, initial=0)
        elif p == -np.inf:
            result = np.min(magnitude, axis=dims, keepdims=keepdim)
        elif p == 0:
            result = np.sum(data != 0, axis=dims, keepdims=keepdim).astype(data.dtype)
        else:
            result = np.sum(magnitude ** p, axis=dims, keepdims=keepdim) ** (1.0 / p)
        result = np.asarray(result, dtype=data.dtype)
        ctx.save_for_backward(a, result)
        ctx.p, ctx.input_shape, ctx.dims, ctx.keepdim = p, data.shape, dims, keepdim
        return result

    @staticmethod
    def backward(ctx, grad):
        a, result = ctx.saved_tensors
        p, grad, norm = ctx.p, as_kept(grad, ctx), as_kept(result, ctx)
        if p == 0:
            return None  # PyTorch leaves the gradient of a count undefined, not zero
        if p == 1:
            return grad * a.sign()
        if p in (np.inf, -np.inf):
            chosen = a.abs() == norm.detach()
            count = chosen.sum(ctx.dims, keepdim=True) if ctx.dims else chosen.sum()
            return where(chosen, grad * a.sign() / count, 0.0)
        if p == 2:
            return where(norm == 0, 0.0, grad * a / norm)
        scaled = a * a.abs() ** (p - 2) / norm ** (p - 1)
        return where(norm == 0, 0.0, grad * scaled)


@tensor_method()
def norm(input, p="fro", dim=None, keepdim=False, dtype=None) -> Tensor:
    """The vector norm of ``input`` (flattened, or over ``dim``); ``p`` is a number or ``'fro'``.

    >>> import chainrule as torch
    >>> torch.tensor([3.0, 4.0]).norm()
    tensor(5.)
    """
    data = input._data
    if not is_floating_numpy(data.dtype):
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
            f"{type_label(data.dtype)}")
    if p == "fro" or p is None:
        if isinstance(dim, (tuple, list)) and len(dim) > 2:
            raise RuntimeError(
                f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(str(d) for d in dim)}")
        p = 2.0
    elif isinstance(p, str):
        raise NotImplementedError(f"norm with p={p!r} is not supported by chainrule")
    if dtype is not None:
        input = input.to(dtype)
    dims = reduction_dims(dim, data.ndim)
    if np.isinf(float(p)) and data.size == 0:
        sign = "-" if float(p) < 0 else ""
        if dims is None:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {sign}inf norm on an empty "
                               "tensor because the operation does not have an identity")
        for d in dims:
            if data.shape[d] == 0:
                raise RuntimeError(
                    f"linalg.vector_norm cannot compute the {sign}inf norm on the dimension {d}"
                    "because this dimension is empty and the operation does not have an identity")
    return VectorNorm.apply(input, p=float(p), dims=dims, keepdim=keepdim)


# ------------------------------------------------------------------- log-sum-exp
class LogSumExp(Function):
    node_name = "LogsumexpBackward0"

    @staticmethod
    def forward(ctx, a, dims=None, keepdim=False):
        data = a._data
        if not is_floating_numpy(data.dtype):
            from chainrule._dtype import get_default_dtype

            data = data.astype(get_default_dtype().numpy)
        # Shift by the maximum so exp never overflows; infinite maxima are left unshifted.
        shift = np.max(data, axis=dims, keepdims=True, initial=-np.inf)
        shift = np.where(np.isfinite(shift), shift, 0)
        with np.errstate(divide="ignore"):
            result = np.log(np.sum(np.exp(data - shift), axis=dims, keepdims=True)) + shift
        if not keepdim:
            result = result.reshape(np.sum(data, axis=dims).shape)
        result = result.astype(data.dtype, copy=False)
        ctx.save_for_backward(a, result)
        ctx.input_shape, ctx.dims, ctx.keepdim = data.shape, dims, keepdim
        return result

    @staticmethod
    def backward(ctx, grad):
        a, result = ctx.saved_tensors
        return as_kept(grad, ctx) * (a - as_kept(result, ctx)).exp()


@tensor_method()
def logsumexp(input, dim, keepdim=False) -> Tensor:
    """``log(sum(exp(x)))`` over ``dim``, computed without overflow."""
    dims = reduction_dims(dim, input._data.ndim)
    return LogSumExp.apply(input, dims=dims, keepdim=keepdim)


def _truth_reduction(func, input, dim, keepdim) -> Tensor:
    data = input._data
    result = np.asarray(func(data, axis=reduction_dims(dim, data.ndim), keepdims=keepdim))
    return make_tensor(result.astype(np.uint8) if data.dtype == np.uint8 else result)


@tensor_method()
def all(input, dim=None, keepdim=False) -> Tensor:  # noqa: A001
    """Whether every element (over ``dim``) is nonzero; a bool tensor."""
    return _truth_reduction(np.all, input, dim, keepdim)


@tensor_method()
def any(input, dim=None, keepdim=False) -> Tensor:  # noqa: A001
    """Whether some element (over ``dim``) is nonzero; a bool tensor."""
    return _truth_reduction(np.any, input, dim, keepdim)


__all__ = ["sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std",
           "norm", "logsumexp", "all", "any"]
