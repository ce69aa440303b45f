"""``linalg.cholesky``: the lower-triangular ``L`` with ``L @ L.mT == A`` for each symmetric
positive-definite ``A``, batched over leading dimensions.

``A`` is taken to be symmetric and only its lower triangle is read. The gradient (Murray,
2016) is ``A_bar = L^-T Phi(L^T L_bar) L^-1``, symmetrised, where ``Phi`` keeps the lower
triangle and halves the diagonal; it is written with chainrule ops, so it can be
differentiated again.

>>> import chainrule as torch
>>> torch.linalg.cholesky(torch.tensor([[4.0, 2.0], [2.0, 2.0]]))
tensor([[2., 0.],
        [1., 1.]])
"""

from __future__ import annotations

import numpy as np

from chainrule._ops._util import Tensor, make_tensor
from chainrule._ops.inplace import maybe_out, same_dtype
from chainrule.autograd.function import Function
from chainrule.linalg.inverse import (
    LinAlgError,
    check_square,
    failure_error,
    inverse,
    lapack_result,
)

__all__ = ["cholesky"]


def _symmetric_from_lower(data: np.ndarray) -> np.ndarray:
    """The symmetric matrices whose lower triangles are those of ``data`` (the part read)."""
    return np.tril(data) + np.swapaxes(np.tril(data, -1), -1, -2)


def _first_failing_minor(matrix: np.ndarray) -> int | None:
    """The order of the first leading minor that is not positive-definite; None if none."""
    for order in range(1, matrix.shape[-1] + 1):
        try:
            np.linalg.cholesky(matrix[:order, :order])
        except np.linalg.LinAlgError:
            return order
    return None


def _not_positive_definite(symmetric: np.ndarray) -> LinAlgError:
    return failure_error("cholesky", symmetric, _first_failing_minor, lambda order: (
        "The factorization could not be completed because the input is not positive-definite "
        f"(the leading minor of order {order} is not positive-definite)."),
        "the input is not positive-definite.")


class Cholesky(Function):
    node_name = "LinalgCholeskyExBackward0"

    @staticmethod
    def forward(ctx, a):
        symmetric = _symmetric_from_lower(a._data)
        factor = lapack_result(np.linalg.cholesky, symmetric, _not_positive_definite)
        ctx.save_for_backward(factor)
        return factor

    @staticmethod
    def backward(ctx, grad):
        (factor,) = ctx.saved_tensors
        n = factor.shape[-1]
        lower_half_diagonal = make_tensor(
            (np.tril(np.ones((n, n))) - 0.5 * np.eye(n)).astype(factor._data.dtype))
        phi = (factor.mT @ grad) * lower_half_diagonal
        factor_inverse = inverse(factor)
        grad_a = factor_inverse.mT @ phi @ factor_inverse
        return 0.5 * (grad_a + grad_a.mT)


def cholesky(A: Tensor, *, upper: bool = False, out=None) -> Tensor:
    """The Cholesky factor of each symmetric positive-definite matrix (``L`` lower
    triangular, or ``L.mT`` with ``upper``); ``LinAlgError`` if a matrix is not
    positive-definite."""
    check_square("cholesky", A._data)
    factor = Cholesky.apply(A)
    return maybe_out(factor.mT if upper else factor, out, "linalg_cholesky_ex", check_dtype=same_dtype)
