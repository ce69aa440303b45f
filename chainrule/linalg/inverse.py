"""Square-matrix functions with their gradients: ``inv``, ``det``, ``slogdet`` and ``solve``,
batched over leading dimensions. Also ``torch.inverse``/``torch.det`` and their methods.

Each gradient is written with chainrule ops (``inv`` and ``solve`` themselves), so it can be
differentiated again.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from chainrule._dtype import is_floating_numpy
from chainrule._ops._util import Tensor, make_tensor, tensor_method, type_label
from chainrule._ops.inplace import maybe_out, same_dtype
from chainrule._ops.selection import where
from chainrule.autograd.function import Function

__all__ = ["LinAlgError", "inv", "inverse", "det", "slogdet", "logdet", "solve"]


class LinAlgError(RuntimeError):
    """A matrix function failed on its input (a singular matrix): ``torch.linalg.LinAlgError``."""


def check_square(name: str, data: np.ndarray) -> None:
    """PyTorch's errors for a ``linalg`` input that is not a (batch of) float square matrices."""
    if not is_floating_numpy(data.dtype):
        raise RuntimeError(f"linalg.{name}: Expected a floating point or complex tensor as input. "
                           f"Got {type_label(data.dtype)}")
    if data.ndim < 2:
        raise RuntimeError(f"linalg.{name}: The input tensor A must have at least 2 dimensions.")
    if data.shape[-1] != data.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are "
                           f"{data.shape[-2]} by {data.shape[-1]} matrices")


def _first_zero_pivot(matrix: np.ndarray) -> int | None:
    """The 1-based position of the first zero pivot of LU with partial pivoting (LAPACK's
    ``getrf`` info, which PyTorch's singular-matrix message names); None if there is none."""
    lu = matrix.astype(np.float64, copy=True)
    first = None
    for k in range(len(lu)):
        pivot = k + int(np.argmax(np.abs(lu[k:, k])))
        lu[[k, pivot]] = lu[[pivot, k]]
        if lu[k, k] == 0:
            first = first or k + 1
            continue
        lu[k + 1:, k:] -= np.outer(lu[k + 1:, k] / lu[k, k], lu[k, k:])
    return first


def failure_error(name: str, data: np.ndarray, locate, describe, fallback: str) -> LinAlgError:
    """``linalg.<name>``'s error for the first matrix of a batch where ``locate(matrix)`` finds
    what failed (not None): PyTorch's ``"(Batch element i): "`` prefix (none for a single
    matrix), then ``describe(finding)``; ``fallback`` if no matrix is found to fail."""
    for index, matrix in enumerate(data.reshape((-1,) + data.shape[-2:])):
        found = locate(matrix)
        if found is not None:
            batch = f"(Batch element {index}): " if data.ndim > 2 else ""
            return LinAlgError(f"linalg.{name}: {batch}{describe(found)}")
    return LinAlgError(f"linalg.{name}: {fallback}")


def lapack_result(function, data: np.ndarray, error) -> np.ndarray:
    """``function(data)`` (an empty batch: a copy), raising ``error(data)`` where LAPACK fails."""
    try:
        return function(data) if data.size else data.copy()
    except np.linalg.LinAlgError:
        raise error(data) from None


def _singular_error(data: np.ndarray) -> LinAlgError:
    return failure_error("inv", data, _first_zero_pivot, lambda position: (
        f"The diagonal element {position} is zero, the inversion could not be completed because "
        "the input matrix is singular."), "the input matrix is singular.")


class Inverse(Function):
    node_name = "LinalgInvExBackward0"

    @staticmethod
    def forward(ctx, a):
        result = lapack_result(np.linalg.inv, a._data, _singular_error)
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad):
        (result,) = ctx.saved_tensors
        # d(A^-1) = -A^-1 dA A^-1, so the gradient is -A^-T grad A^-T.
        inverse_t = result.mT
        return -(inverse_t @ grad @ inverse_t)


@tensor_method()
def inverse(input) -> Tensor:
    """The inverse of each square matrix in the last two dimensions (``torch.inverse``).

    >>> import chainrule as torch
    >>> torch.linalg.inv(torch.tensor([[2.0, 0.0], [0.0, 4.0]]))
    tensor([[0.5000, 0.0000],
            [0.0000, 0.2500]])
    """
    check_square("inv", input._data)
    return Inverse.apply(input)


def inv(A, *, out=None) -> Tensor:
    """``torch.linalg.inv``: the inverse of each square matrix; LinAlgError if singular."""
    return maybe_out(inverse(A), out, "linalg_inv_ex", check_dtype=same_dtype)


class Det(Function):
    node_name = "LinalgDetBackward0"

    @staticmethod
    def forward(ctx, a):
        data = a._data
        result = np.asarray(np.linalg.det(data) if data.shape[-1] else np.ones(data.shape[:-2]),
                            dtype=data.dtype)
        ctx.save_for_backward(a, result)
        return result

    @staticmethod
    def backward(ctx, grad):
        a, result = ctx.saved_tensors
        if (result._data != 0).all():
            # d det(A) / dA = det(A) A^-T
            return (grad * result).unsqueeze(-1).unsqueeze(-1) * inverse(a).mT
        # A singular matrix has no inverse, but it has an adjugate (computed here, so a second
        # derivative through it is not available): d det(A) / dA = adj(A)^T.
        return grad.unsqueeze(-1).unsqueeze(-1) * make_tensor(_adjugate(a._data)).mT


def _adjugate(data: np.ndarray) -> np.ndarray:
    """adj(A) = det(V^T) V adj(S) det(U) U^T from the SVD A = U S V^T: defined for singular A."""
    u, s, vt = np.linalg.svd(data)
    n = s.shape[-1]
    others = np.stack([np.prod(np.delete(s, i, axis=-1), axis=-1) for i in range(n)], axis=-1)
    signs = np.linalg.det(u) * np.linalg.det(vt)
    adj = np.swapaxes(vt, -1, -2) @ (others[..., :, None] * np.swapaxes(u, -1, -2))
    return (adj * signs[..., None, None]).astype(data.dtype)


@tensor_method()
def det(input) -> Tensor:
    """The determinant of each square matrix in the last two dimensions.

    >>> import chainrule as torch
    >>> torch.det(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor(-2.)
    """
    check_square("det", input._data)
    return Det.apply(input)


def _sign_logabsdet_type(name: str) -> type:
    """A ``(sign, logabsdet)`` named tuple printed like ``torch.return_types.<name>``."""
    base = namedtuple(name, ["sign", "logabsdet"])

    def __repr__(self) -> str:
        return (f"torch.return_types.{name}(\nsign={self.sign!r},\n"
                f"logabsdet={self.logabsdet!r})")

    return type(name, (base,), {"__slots__": (), "__repr__": __repr__,
                                "__module__": "torch.return_types"})


linalg_slogdet_return = _sign_logabsdet_type("linalg_slogdet")
slogdet_return = _sign_logabsdet_type("slogdet")


class Slogdet(Function):
    """``(sign, log|det|)``; only ``log|det|`` is differentiable: its gradient is ``A^-T``."""

    node_name = "LinalgSlogdetBackward0"

    @staticmethod
    def forward(ctx, a):
        sign, logabsdet = np.linalg.slogdet(a._data)
        sign = np.asarray(sign, dtype=a._data.dtype)
        ctx.save_for_backward(a)
        ctx.set_materialize_grads(False)  # a gradient of the sign alone reaches nothing
        return sign, np.asarray(logabsdet, dtype=a._data.dtype)

    @staticmethod
    def backward(ctx, grad_sign, grad_logabsdet):
        if grad_logabsdet is None:
            return None
        (a,) = ctx.saved_tensors
        return grad_logabsdet.unsqueeze(-1).unsqueeze(-1) * inverse(a).mT


@tensor_method()
def slogdet(input):
    """``(sign, logabsdet)`` of each square matrix: the determinant without overflow."""
    check_square("slogdet", input._data)
    return slogdet_return(*Slogdet.apply(input))


def linalg_slogdet(A):
    """``torch.linalg.slogdet``: ``slogdet`` with the ``linalg_slogdet`` result type."""
    check_square("slogdet", A._data)
    return linalg_slogdet_return(*Slogdet.apply(A))


@tensor_method()
def logdet(input) -> Tensor:
    """``log(det(A))``: NaN for a negative determinant, -inf for a singular matrix."""
    sign, logabsdet = slogdet(input)
    return where(sign == -1, np.nan, logabsdet)


class Solve(Function):
    """``X`` with ``A X = B`` (``X A = B`` when not ``left``), batched and broadcasting."""

    node_name = "LinalgSolveExBackward0"

    @staticmethod
    def forward(ctx, a, b, left=True, vector=False):
        x, y = a._data, b._data
        if not left:
            x = np.swapaxes(x, -1, -2)
            y = np.swapaxes(y, -1, -2)
        try:
            result = np.linalg.solve(x, y[..., None] if vector else y)
        except np.linalg.LinAlgError:
            raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is "
                              "singular.") from None
        if vector:
            result = result[..., 0]
        elif not left:
            result = np.ascontiguousarray(np.swapaxes(result, -1, -2))
        ctx.save_for_backward(a, result)  # the output itself, so a second derivative sees X
        ctx.left, ctx.vector = left, vector
        return result

    @staticmethod
    def backward(ctx, grad):
        a, result = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        if ctx.left:
            # A X = B: dB flows back as A^-T grad, and dA as -(A^-T grad) X^T.
            grad_b = Solve.apply(a.mT, grad, vector=ctx.vector)
            grad_a = -(grad_b.unsqueeze(-1) * result.unsqueeze(-2) if ctx.vector
                       else grad_b @ result.mT)
        else:
            # X A = B: dB flows back as grad A^-T, and dA as -X^T (grad A^-T).
            grad_b = Solve.apply(a.mT, grad, left=False)
            grad_a = -(result.mT @ grad_b)
        return (grad_a if need_a else None), (grad_b if need_b else None)


def solve(A, B, *, left=True, out=None) -> Tensor:
    """The solution ``X`` of ``A X = B`` (or ``X A = B`` with ``left=False``); ``B`` may be a
    (batch of) vector(s) ``(*, n)`` or matrices ``(*, n, k)``.

    >>> import chainrule as torch
    >>> torch.linalg.solve(torch.tensor([[2.0, 0.0], [0.0, 4.0]]), torch.tensor([1.0, 1.0]))
    tensor([0.5000, 0.2500])
    """
    x, y = A._data, B._data
    check_square("solve", x)
    if y.dtype != x.dtype:
        raise RuntimeError(
            "linalg.solve: Expected A and B to have the same dtype, but found A of type "
            f"{type_label(x.dtype)} and B of type {type_label(y.dtype)} instead")
    vector = left and (y.ndim == 1 or (y.ndim == x.ndim - 1 and y.shape == x.shape[:-1]))
    rows = y.shape[-1] if vector else y.shape[-2 if left else -1]
    if y.ndim < 1 or rows != x.shape[-1]:
        shown = f"{y.shape[-1]}x1" if vector or y.ndim == 1 else "x".join(map(str, y.shape[-2:]))
        raise RuntimeError("linalg.solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({x.shape[-2]}x{x.shape[-1]} and {shown})")
    return maybe_out(Solve.apply(A, B, left=left, vector=vector), out, "_linalg_solve_ex",
                     check_dtype=same_dtype)
