"""Diagonals and triangles: ``diagonal``, ``diag``, ``diag_embed``, ``diagflat``, ``trace``,
``tril``, ``triu`` and ``fill_diagonal_``.

``diagonal`` and ``diag_embed`` are each other's gradient: one reads a diagonal out of a
tensor, the other writes a tensor onto the diagonal of zeros.
"""

from __future__ import annotations

import numpy as np

from chainrule._ops._util import Tensor, normalize_dim, tensor_method, type_label
from chainrule._ops.indexing import CopySlices
from chainrule._ops.inplace import apply_inplace
from chainrule._ops.shape import mark_view
from chainrule.autograd.function import Function

__all__ = ["diagonal", "diag", "diag_embed", "diagflat", "trace", "tril", "triu"]


def diagonal_view(data: np.ndarray, offset: int, dim1: int, dim2: int) -> np.ndarray:
    """``np.diagonal`` as a writable view (NumPy's own is read-only; PyTorch's can be written)."""
    read_only = np.diagonal(data, offset, dim1, dim2)
    first = [slice(None)] * data.ndim
    if offset >= 0:
        first[dim2] = slice(offset, None)
    else:
        first[dim1] = slice(-offset, None)
    return np.lib.stride_tricks.as_strided(data[tuple(first)], read_only.shape, read_only.strides)


class Diagonal(Function):
    node_name = "DiagonalBackward0"

    @staticmethod
    def forward(ctx, a, offset=0, dim1=0, dim2=1):
        ctx.input_shape, ctx.offset, ctx.dims = a._data.shape, offset, (dim1, dim2)
        return diagonal_view(a._data, offset, dim1, dim2)

    @staticmethod
    def backward(ctx, grad):
        return OntoDiagonal.apply(grad, shape=ctx.input_shape, offset=ctx.offset, dims=ctx.dims)


class DiagonalCopy(Diagonal):
    """``diag`` of a matrix: PyTorch computes it as ``diagonal_copy``."""

    node_name = "DiagonalBackward0_copy"

    @staticmethod
    def forward(ctx, a, offset=0, dim1=0, dim2=1):
        return Diagonal.forward(ctx, a, offset, dim1, dim2).copy()


class OntoDiagonal(Function):
    """Zeros of ``shape`` with ``a`` written on the diagonal ``offset`` of ``dims``."""

    node_name = "DiagonalBackwardBackward0"

    @staticmethod
    def forward(ctx, a, shape=(), offset=0, dims=(0, 1)):
        ctx.offset, ctx.dims = offset, dims
        out = np.zeros(shape, dtype=a._data.dtype)
        diagonal_view(out, offset, *dims)[...] = a._data
        return out

    @staticmethod
    def backward(ctx, grad):
        dim1, dim2 = ctx.dims
        return Diagonal.apply(grad, offset=ctx.offset, dim1=dim1, dim2=dim2)


class DiagEmbed(OntoDiagonal):
    node_name = "DiagEmbedBackward0"


def _check_distinct(dim1: int, dim2: int) -> None:
    if dim1 == dim2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")


@tensor_method()
def diagonal(input, offset=0, dim1=0, dim2=1) -> Tensor:
    """The diagonal ``offset`` (above the main one if positive) of the ``dim1``-``dim2`` planes,
    as a new last dimension (a view).

    >>> import chainrule as torch
    >>> torch.arange(9).reshape(3, 3).diagonal(1)
    tensor([1, 5])
    """
    ndim = input._data.ndim
    dim1, dim2 = normalize_dim(dim1, ndim), normalize_dim(dim2, ndim)
    _check_distinct(dim1, dim2)
    return mark_view(input, Diagonal.apply(input, offset=int(offset), dim1=dim1, dim2=dim2), True)


@tensor_method()
def diag_embed(input, offset=0, dim1=-2, dim2=-1) -> Tensor:
    """A tensor whose ``dim1``-``dim2`` planes hold the last dimension of ``input`` on their
    diagonal ``offset`` (zeros elsewhere): one more dimension than ``input``."""
    shape = input._data.shape
    ndim = len(shape) + 1
    dim1, dim2 = normalize_dim(dim1, ndim), normalize_dim(dim2, ndim)
    _check_distinct(dim1, dim2)
    size = shape[-1] + abs(int(offset))
    rest = iter(shape[:-1])
    out_shape = tuple(size if d in (dim1, dim2) else next(rest) for d in range(ndim))
    return DiagEmbed.apply(input, shape=out_shape, offset=int(offset), dims=(dim1, dim2))


@tensor_method()
def diag(input, diagonal=0) -> Tensor:
    """A vector made into a square matrix with it on ``diagonal``, or a matrix's ``diagonal``
    as a vector (a copy)."""
    ndim = input._data.ndim
    if ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if ndim != 2:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {ndim}D")
    return DiagonalCopy.apply(input, offset=int(diagonal), dim1=0, dim2=1)


@tensor_method()
def diagflat(input, offset=0) -> Tensor:
    """The flattened ``input`` on the diagonal ``offset`` of a square matrix."""
    return diag_embed(input.reshape(-1), offset, 0, 1)


class Trace(Function):
    node_name = "TraceBackward0"

    @staticmethod
    def forward(ctx, a):
        data = a._data
        ctx.input_shape = data.shape
        return np.asarray(np.trace(data, dtype=np.int64 if data.dtype.kind in "iub" else None))

    @staticmethod
    def backward(ctx, grad):
        shape = ctx.input_shape
        return OntoDiagonal.apply(grad.expand(min(shape)), shape=shape, offset=0, dims=(0, 1))


@tensor_method()
def trace(input) -> Tensor:
    """The sum of a matrix's main diagonal (integers sum to int64)."""
    data = input._data
    if data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {data.ndim}")
    if data.dtype == np.bool_:
        raise NotImplementedError(f"\"trace\" not implemented for '{type_label(data.dtype)}'")
    return Trace.apply(input)


class _Triangle(Function):
    """One triangle of each matrix (``part``: ``np.tril`` or ``np.triu``), zeros elsewhere. It
    is linear, so its gradient is the same triangle of the gradient."""

    part = None

    @classmethod
    def forward(cls, ctx, a, diagonal=0):
        ctx.diagonal = diagonal
        return cls.part(a._data, diagonal)

    @classmethod
    def backward(cls, ctx, grad):
        return cls.apply(grad, diagonal=ctx.diagonal)


class Tril(_Triangle):
    node_name = "TrilBackward0"
    part = np.tril


class Triu(_Triangle):
    node_name = "TriuBackward0"
    part = np.triu


def _check_matrix(name: str, input: Tensor) -> None:
    if input._data.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")


@tensor_method()
def tril(input, diagonal=0) -> Tensor:
    """The lower triangle (on and below ``diagonal``) of each matrix in the last two dims."""
    _check_matrix("tril", input)
    return Tril.apply(input, diagonal=int(diagonal))


@tensor_method()
def triu(input, diagonal=0) -> Tensor:
    """The upper triangle (on and above ``diagonal``) of each matrix in the last two dims."""
    _check_matrix("triu", input)
    return Triu.apply(input, diagonal=int(diagonal))


@tensor_method()
def tril_(self, diagonal=0) -> Tensor:
    """In-place ``tril``."""
    return apply_inplace(self, tril, (diagonal,), None, "tril_")


@tensor_method()
def triu_(self, diagonal=0) -> Tensor:
    """In-place ``triu``."""
    return apply_inplace(self, triu, (diagonal,), None, "triu_")


def _main_diagonal_key(shape: tuple, wrap: bool) -> tuple:
    """Index arrays of the main diagonal; a tall matrix with ``wrap`` restarts it every
    ``columns + 1`` rows (as ``numpy.fill_diagonal`` does)."""
    if len(shape) == 2:
        rows, columns = shape
        end = rows * columns if wrap else min(rows, columns) * columns
        flat = np.arange(0, end, columns + 1)
    else:
        flat = np.arange(shape[0]) * sum(shape[0] ** k for k in range(len(shape)))
    return np.unravel_index(flat, shape)


@tensor_method()
def fill_diagonal_(self, fill_value, wrap=False) -> Tensor:
    """Write ``fill_value`` on the main diagonal in place (every dim of equal size beyond 2-D).

    >>> import chainrule as torch
    >>> torch.zeros(2, 3).fill_diagonal_(1.0)
    tensor([[1., 0., 0.],
            [0., 1., 0.]])
    """
    shape = self._data.shape
    if len(shape) < 2:
        raise RuntimeError("dimensions must larger than 1")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    key = _main_diagonal_key(shape, wrap)
    return apply_inplace(self, CopySlices.apply, (fill_value,), {"key": key}, "fill_diagonal_")
