"""Vector and matrix norms (``vector_norm``, ``matrix_norm``, ``norm``) and ``svdvals``.

Vector norms are the one ``VectorNorm`` op of ``Tensor.norm``; matrix norms are composed from
it, from sums and maxima of absolute values, or from the singular values, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from chainrule._dtype import is_floating_numpy
from chainrule._ops._util import Tensor, normalize_dim, type_label
from chainrule._ops.reduction import norm as tensor_norm
from chainrule.autograd.function import Function

__all__ = ["vector_norm", "matrix_norm", "norm", "svdvals"]


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None) -> Tensor:  # noqa: A002
    """``(sum |x|^ord)^(1/ord)`` over ``dim`` (all elements by default); ``ord`` may be
    ``inf``, ``-inf`` or 0 (the count of non-zeros).

    >>> import chainrule as torch
    >>> torch.linalg.vector_norm(torch.tensor([3.0, -4.0]), ord=1)
    tensor(7.)
    """
    if isinstance(ord, str):
        raise TypeError("linalg_vector_norm(): argument 'ord' (position 2) must be Number, not str")
    return tensor_norm(x, float(ord), dim, keepdim, dtype)


class Svdvals(Function):
    """The singular values, largest first; their gradient is ``U diag(grad) V^T``."""

    node_name = "LinalgSvdBackward0"

    @staticmethod
    def forward(ctx, a):
        u, s, vt = np.linalg.svd(a._data, full_matrices=False)
        ctx.save_for_backward(a)
        ctx.u, ctx.vt = u, vt
        return s.astype(a._data.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return SingularVectorsProduct.apply(grad, a, u=ctx.u, vt=ctx.vt)


class SingularVectorsProduct(Function):
    """``U diag(grad) V^T`` for the singular vectors ``U``, ``V`` of ``a``. It depends on ``a``
    through them, a derivative chainrule does not have: differentiating it fails plainly."""

    node_name = "LinalgSvdBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, a, u=None, vt=None):
        return (u * grad._data[..., None, :]) @ vt

    @staticmethod
    def backward(ctx, gg):
        raise NotImplementedError("chainrule: the second derivative of the singular values "
                                  "(svdvals, matrix_norm with ord 2, -2 or 'nuc') is not available")


def svdvals(A) -> Tensor:
    """The singular values of each matrix in the last two dimensions, in descending order."""
    return Svdvals.apply(A)


def _matrix_dims(dim, ndim: int) -> tuple[int, int]:
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dims) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                           f"{' '.join(str(d) for d in dims)}")
    first, second = (normalize_dim(d, ndim) for d in dims)
    if first == second:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dims[0]}, {dims[1]})")
    return first, second


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None) -> Tensor:  # noqa: A002
    """A matrix norm over the two dimensions ``dim``: ``'fro'`` (Frobenius), ``'nuc'`` (the
    sum of the singular values), 2 / -2 (the largest / smallest singular value), 1 / -1 (the
    largest / smallest column sum of ``|A|``) or inf / -inf (the same for rows)."""
    data = A._data
    if data.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    if not is_floating_numpy(data.dtype):
        raise RuntimeError("linalg.matrix_norm: Expected a floating point or complex tensor as "
                           f"input. Got {type_label(data.dtype)}")
    rows, columns = _matrix_dims(dim, data.ndim)
    if dtype is not None:
        A = A.to(dtype)
    if ord == "fro":
        return tensor_norm(A, 2, (rows, columns), keepdim)
    if ord in (1, -1, np.inf, -np.inf):
        # ord 1 sums each column (over the rows), ord inf each row; then the extreme line.
        summed, across = (rows, columns) if abs(ord) == 1 else (columns, rows)
        sums = A.abs().sum(summed, keepdim=keepdim)
        across -= int(not keepdim and across > summed)
        return sums.amax(across, keepdim) if ord > 0 else sums.amin(across, keepdim)
    if ord in ("nuc", 2, -2):
        last = tuple(d for d in range(data.ndim) if d not in (rows, columns)) + (rows, columns)
        values = svdvals(A.permute(last))
        reduce = {"nuc": values.sum, 2: values.amax, -2: values.amin}[ord]
        if not keepdim:
            return reduce(-1)
        kept = reduce(-1, keepdim=True).unsqueeze(-1)
        return kept.permute(tuple(np.argsort(last)))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None) -> Tensor:  # noqa: A002
    """``vector_norm`` or ``matrix_norm``: a matrix norm for a string ``ord``, a 2-tuple ``dim``,
    or a 2-D input with ``ord`` and no ``dim``; else a vector norm (all elements by default).

    >>> import chainrule as torch
    >>> torch.linalg.norm(torch.tensor([[1.0, 2.0], [2.0, 4.0]]))
    tensor(5.)
    """
    ndim = A._data.ndim
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) not in (1, 2):
            raise RuntimeError(
                f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dims)}")
    elif ord is not None and ndim not in (1, 2):
        raise RuntimeError("linalg.norm: If dim is not specified but ord is, the input must be 1D or "
                           f"2D. Got {ndim}D.")
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if isinstance(ord, str) or (dim is not None and len(dims) == 2) or (dim is None and ndim == 2):
        return matrix_norm(A, ord, (-2, -1) if dim is None else dims, keepdim, dtype=dtype)
    return vector_norm(A, ord, dim, keepdim, dtype=dtype)
