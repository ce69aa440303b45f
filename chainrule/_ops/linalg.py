"""Matrix products: ``matmul``/``@`` (batch-broadcasting), ``mm``, ``bmm``, ``mv``, ``dot``, ..."""

from __future__ import annotations

import numpy as np

from chainrule._ops._util import Tensor, _type_label, tensor_method
from chainrule.autograd.function import Function


def _check_same_dtype(x: np.ndarray, y: np.ndarray) -> None:
    if x.dtype != y.dtype:
        raise RuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: {np.dtype(x.dtype).name} != "
            f"{np.dtype(y.dtype).name}".replace("float32", "float").replace("float64", "double"))


class Matmul(Function):
    """The product of the last two dimensions, broadcasting the batch dimensions."""

    node_name = "MmBackward0"

    @staticmethod
    def forward(ctx, a, b):
        x, y = a._data, b._data
        _check_same_dtype(x, y)
        if x.ndim and y.ndim and x.shape[-1] != y.shape[-2 if y.ndim > 1 else 0]:
            left = "x".join(map(str, x.shape[-2:] if x.ndim > 1 else (1, x.shape[0])))
            right = "x".join(map(str, y.shape[-2:] if y.ndim > 1 else (y.shape[0], 1)))
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({left} and {right})")
        ctx.save_for_backward(a, b)
        return np.matmul(x, y)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        grad_a = grad_b = None
        if a.ndim == 1 and b.ndim == 1:
            return (grad * b if need_a else None), (grad * a if need_b else None)
        if a.ndim == 1:
            g = grad.unsqueeze(-2)
            if need_a:
                grad_a = (g @ b.mT).squeeze(-2)
            if need_b:
                grad_b = a.unsqueeze(-1) @ g
            return grad_a, grad_b
        if b.ndim == 1:
            g = grad.unsqueeze(-1)
            if need_a:
                grad_a = g @ b.unsqueeze(-2)
            if need_b:
                grad_b = (a.mT @ g).squeeze(-1)
            return grad_a, grad_b
        if need_a:
            grad_a = grad @ b.mT
        if need_b:
            grad_b = a.mT @ grad
        return grad_a, grad_b


class Dot(Matmul):
    node_name = "DotBackward0"


class Mv(Matmul):
    node_name = "MvBackward0"


class Bmm(Matmul):
    node_name = "BmmBackward0"


class BatchedMatmul(Matmul):
    node_name = "UnsafeViewBackward0"


def _matmul_node(x: np.ndarray, y: np.ndarray) -> type[Function]:
    if x.ndim == 1 and y.ndim == 1:
        return Dot
    if x.ndim == 2 and y.ndim == 1:
        return Mv
    if x.ndim <= 2 and y.ndim <= 2:
        return Matmul
    if x.ndim == 3 and y.ndim == 3:
        return Bmm
    return BatchedMatmul


@tensor_method()
def matmul(input, other) -> Tensor:
    """Matrix product with NumPy/PyTorch broadcasting of batch dimensions.

    >>> import chainrule as torch
    >>> (torch.ones(2, 3) @ torch.ones(3, 4)).shape
    torch.Size([2, 4])
    """
    if input._data.ndim == 0 or other._data.ndim == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {input._data.ndim}D "
            f"and {other._data.ndim}D")
    return _matmul_node(input._data, other._data).apply(input, other)


@tensor_method()
def mm(input, mat2) -> Tensor:
    """Product of two matrices (2-D only)."""
    if input._data.ndim != 2 or mat2._data.ndim != 2:
        raise RuntimeError(f"self must be a matrix" if input._data.ndim != 2 else "mat2 must be a matrix")
    return Matmul.apply(input, mat2)


Tensor.__matmul__ = matmul
Tensor.__rmatmul__ = lambda self, other: matmul(other, self)

__all__ = ["matmul", "mm", "_type_label"]
