"""More products: ``tensordot``, ``inner``, ``kron``, ``cross`` and the fused
``addmv``/``addr``. ``tensordot``, ``inner`` and ``kron`` are composed from reshapes and a
matrix product, as PyTorch composes them, so their gradients come for free."""

from __future__ import annotations

import math
import warnings

import numpy as np

from chainrule._ops._util import (
    Tensor,
    binary_arrays,
    broadcast_error,
    normalize_dim,
    tensor_method,
)
from chainrule._ops.inplace import apply_inplace
from chainrule._ops.shape import UnsafeView
from chainrule.autograd.function import Function

__all__ = ["tensordot", "inner", "kron", "cross", "addmv", "addmv_", "addr"]


# ------------------------------------------------------------ tensordot, inner
def _contracted_dims(dims, a_ndim: int, b_ndim: int) -> tuple[list, list]:
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        return list(range(-int(dims), 0)), list(range(int(dims)))
    dims_a, dims_b = dims
    dims_a = [dims_a] if isinstance(dims_a, int) else list(dims_a)
    dims_b = [dims_b] if isinstance(dims_b, int) else list(dims_b)
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    return dims_a, dims_b


def tensordot(a, b, dims=2) -> Tensor:
    """Sum the products over the dimensions ``dims`` of ``a`` and ``b``: an int (the last
    ``dims`` of ``a`` with the first of ``b``) or two lists of dimensions.

    >>> import chainrule as torch
    >>> torch.tensordot(torch.ones(2, 3, 4), torch.ones(3, 4, 5)).shape
    torch.Size([2, 5])
    """
    if a._data.dtype != b._data.dtype:
        raise RuntimeError("both inputs should have same dtype")
    dims_a, dims_b = _contracted_dims(dims, a._data.ndim, b._data.ndim)
    shape_a, shape_b = a._data.shape, b._data.shape
    for da, db in zip(dims_a, dims_b):
        size_a = shape_a[normalize_dim(da, len(shape_a))]
        size_b = shape_b[normalize_dim(db, len(shape_b))]
        if size_a != size_b:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {size_a} in dim {da} "
                f"and second has size {size_b} in dim {db}")
    contracted_a = [normalize_dim(d, len(shape_a)) for d in dims_a]
    contracted_b = [normalize_dim(d, len(shape_b)) for d in dims_b]
    free_a = [d for d in range(len(shape_a)) if d not in contracted_a]
    free_b = [d for d in range(len(shape_b)) if d not in contracted_b]
    inner_size = math.prod(shape_a[d] for d in contracted_a)
    left = a.permute(free_a + contracted_a).reshape(math.prod(shape_a[d] for d in free_a), inner_size)
    right = b.permute(contracted_b + free_b).reshape(inner_size, math.prod(shape_b[d] for d in free_b))
    return left.mm(right).view([shape_a[d] for d in free_a] + [shape_b[d] for d in free_b])


@tensor_method()
def inner(input, other) -> Tensor:
    """The sum of products over the last dimension of both (a product if either is 0-d)."""
    if not input._data.ndim or not other._data.ndim:
        return input * other
    if input._data.shape[-1] != other._data.shape[-1]:
        raise RuntimeError(
            "inner() the last dimension must match on both input tensors but got shapes "
            f"{list(input._data.shape)} and {list(other._data.shape)}")
    return tensordot(input, other, ([-1], [-1]))


@tensor_method()
def kron(input, other) -> Tensor:
    """The Kronecker product: every element of ``input`` times a whole block ``other``."""
    ndim = max(input._data.ndim, other._data.ndim)
    shape_a = (1,) * (ndim - input._data.ndim) + input._data.shape
    shape_b = (1,) * (ndim - other._data.ndim) + other._data.shape
    spread_a = input.reshape([n for size in shape_a for n in (size, 1)])
    spread_b = other.reshape([n for size in shape_b for n in (1, size)])
    return UnsafeView.apply(spread_a * spread_b, shape=tuple(p * q for p, q in zip(shape_a, shape_b)))


# ------------------------------------------------------------------- cross
class Cross(Function):
    node_name = "LinalgCrossBackward0"

    @staticmethod
    def forward(ctx, a, b, dim=-1):
        x, y = binary_arrays(a, b)
        ctx.save_for_backward(a, b)
        ctx.dim = dim
        try:
            x, y = np.broadcast_arrays(x, y)
        except ValueError as error:
            raise broadcast_error(error, x, y) from None
        return np.cross(x, y, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (Cross.apply(b, grad, dim=ctx.dim) if need_a else None,
                Cross.apply(grad, a, dim=ctx.dim) if need_b else None)


def _cross(input, other, dim: int) -> Tensor:
    x, y = input._data, other._data
    if x.ndim != y.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    axis = normalize_dim(dim, x.ndim)
    if x.shape[axis] != 3 or y.shape[axis] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{x.shape[axis]} and {y.shape[axis]}")
    return Cross.apply(input, other, dim=axis)


def linalg_cross(input, other, *, dim=-1) -> Tensor:
    """``torch.linalg.cross``: the cross product of 3-vectors along ``dim``, broadcasting."""
    return _cross(input, other, dim)


_CROSS_WARNING = (
    "Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim "
    "explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to agree "
    "with that of linalg.cross in a future release.")


@tensor_method()
def cross(input, other, dim=None) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (without it: the first dimension of size
    3, with PyTorch's deprecation warning; ``torch.linalg.cross`` uses the last)."""
    if dim is None:
        warnings.warn(_CROSS_WARNING, UserWarning, stacklevel=2)
        try:
            shape = np.broadcast_shapes(input._data.shape, other._data.shape)
        except ValueError as error:
            raise broadcast_error(error, input._data, other._data) from None
        dim = next((d for d, n in enumerate(shape) if n == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return _cross(input, other, dim)


# ------------------------------------------------------------- addmv, addr
class _ScaledProductSum(Function):
    """``beta * input + alpha * product(x, y)`` in one node. ``partials(scaled, x, y, need_x,
    need_y)`` are the gradients of ``x`` and ``y`` given ``scaled = grad * alpha``."""

    product: staticmethod

    @classmethod
    def forward(cls, ctx, input, x, y, beta=1, alpha=1):
        ctx.save_for_backward(x, y)
        ctx.beta, ctx.alpha = beta, alpha
        return _scaled_sum(input, cls.product(x._data, y._data), beta, alpha)

    @classmethod
    def backward(cls, ctx, grad):
        x, y = ctx.saved_tensors
        need_input, need_x, need_y = ctx.needs_input_grad
        scaled = grad if ctx.alpha == 1 else grad * ctx.alpha
        grad_input = (grad if ctx.beta == 1 else grad * ctx.beta) if need_input else None
        return grad_input, *cls.partials(scaled, x, y, need_x, need_y)


class Addmv(_ScaledProductSum):
    """``beta * input + alpha * (mat @ vec)``."""

    node_name, product = "AddmvBackward0", staticmethod(np.matmul)

    @staticmethod
    def partials(scaled, mat, vec, need_mat, need_vec):
        return (scaled.unsqueeze(-1) * vec if need_mat else None,
                mat.t().mv(scaled) if need_vec else None)


class Addr(_ScaledProductSum):
    """``beta * input + alpha * outer(vec1, vec2)``."""

    node_name, product = "AddrBackward0", staticmethod(np.multiply.outer)

    @staticmethod
    def partials(scaled, vec1, vec2, need_1, need_2):
        return scaled.mv(vec2) if need_1 else None, scaled.t().mv(vec1) if need_2 else None


def _scaled_sum(input, product: np.ndarray, beta, alpha) -> np.ndarray:
    """``beta * input + alpha * product``; with ``beta == 0`` the input is ignored (NaN too)."""
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return np.broadcast_to(product, product.shape).copy()
    bias = input._data if isinstance(input, Tensor) else input
    return product + (bias if beta == 1 else beta * bias)


@tensor_method()
def addmv(input, mat, vec, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``; ``input`` broadcasts to the product's length."""
    m, v = mat._data, vec._data
    size = np.shape(input._data if isinstance(input, Tensor) else input)
    if m.ndim != 2 or v.ndim != 1 or len(size) > 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {len(size)}, {m.ndim}, {v.ndim}")
    if m.shape[1] != v.shape[0] or (size and size[0] not in (1, m.shape[0])):
        shown = size[0] if size else 1
        raise RuntimeError(f"size mismatch, got input ({shown}), mat ({m.shape[0]}x{m.shape[1]}), "
                           f"vec ({v.shape[0]})")
    return Addmv.apply(input, mat, vec, beta=beta, alpha=alpha)


@tensor_method()
def addmv_(self, mat, vec, *, beta=1, alpha=1) -> Tensor:
    """In-place ``addmv``."""
    return apply_inplace(self, addmv, (mat, vec), {"beta": beta, "alpha": alpha}, "addmv_")


@tensor_method()
def addr(input, vec1, vec2, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * outer(vec1, vec2)``; ``input`` broadcasts to the outer product."""
    for name, vec in (("vec1", vec1), ("vec2", vec2)):
        if vec._data.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {vec._data.ndim}-D")
    if isinstance(input, Tensor):
        input.expand(vec1._data.shape[0], vec2._data.shape[0])  # PyTorch's error if it cannot
    return Addr.apply(input, vec1, vec2, beta=beta, alpha=alpha)


@tensor_method()
def addr_(self, vec1, vec2, *, beta=1, alpha=1) -> Tensor:
    """In-place ``addr``."""
    return apply_inplace(self, addr, (vec1, vec2), {"beta": beta, "alpha": alpha}, "addr_")
