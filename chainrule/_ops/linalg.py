"""Matrix products: ``matmul``/``@`` (batch-broadcasting), ``mm``, ``bmm``, ``mv``, ``dot``, ..."""

from __future__ import annotations

import numpy as np

from chainrule._ops._util import (
    Tensor,
    broadcast_error,
    make_tensor,
    matmul_arrays,
    tensor_method,
    type_label,
)
from chainrule._ops.shape import UnsafeView
from chainrule.amp.autocast_mode import autocast_inputs
from chainrule.autograd.function import Function


def _check_same_dtype(x: np.ndarray, y: np.ndarray) -> None:
    if x.dtype != y.dtype:
        raise RuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: {np.dtype(x.dtype).name} != "
            f"{np.dtype(y.dtype).name}".replace("float32", "float").replace("float64", "double"))


class _MatrixProduct(Function):
    """The product of the last two dimensions, broadcasting the batch dimensions; the subclasses
    name PyTorch's node for each kind of operand."""

    @staticmethod
    def forward(ctx, a, b):
        x, y = a._data, b._data
        _check_same_dtype(x, y)
        if x.ndim and y.ndim and x.shape[-1] != y.shape[-2 if y.ndim > 1 else 0]:
            left = "x".join(map(str, x.shape[-2:] if x.ndim > 1 else (1, x.shape[0])))
            right = "x".join(map(str, y.shape[-2:] if y.ndim > 1 else (y.shape[0], 1)))
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({left} and {right})")
        ctx.save_for_backward(a, b)
        try:
            return matmul_arrays(x, y)
        except ValueError as error:  # batch dimensions that do not broadcast
            batches = (np.empty(x.shape[:-2], bool), np.empty(y.shape[:-2], bool))
            raise broadcast_error(error, *batches) from None

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


class Mm(_MatrixProduct):
    node_name = "MmBackward0"


class Dot(_MatrixProduct):
    node_name = "DotBackward0"


class Mv(_MatrixProduct):
    node_name = "MvBackward0"


class Bmm(_MatrixProduct):
    node_name = "BmmBackward0"


class VectorMatmul(_MatrixProduct):
    """``vector @ matrix``: PyTorch computes it as a 1-row ``mm`` and squeezes the row away."""

    node_name = "SqueezeBackward4"


def _matmul_node(x: np.ndarray, y: np.ndarray) -> type[Function]:
    if x.ndim == 1 and y.ndim == 1:
        return Dot
    if x.ndim == 2 and y.ndim == 1:
        return Mv
    if x.ndim == 1 and y.ndim == 2:
        return VectorMatmul
    return Mm


def _batched_matmul(input: Tensor, other: Tensor) -> Tensor:
    """PyTorch folds a batched product into one ``mv``, ``mm`` or ``bmm`` and restores the batch
    dimensions with ``_unsafe_view``: the same two nodes, the product computed batched."""
    x, y = input._data, other._data
    if x.ndim == 1 or y.ndim == 1:
        product = Mv.apply(input, other)
    elif x.ndim > 2 and y.ndim > 2:
        product = Bmm.apply(input, other)
    else:
        product = Mm.apply(input, other)
    return UnsafeView.apply(product, shape=product._data.shape)


@tensor_method()
def matmul(input, other) -> Tensor:
    """Matrix product with NumPy/PyTorch broadcasting of batch dimensions.

    >>> import chainrule as torch
    >>> (torch.ones(2, 3) @ torch.ones(3, 4)).shape
    torch.Size([2, 4])
    """
    input, other = autocast_inputs("matmul", input, other)
    if input._data.ndim == 0 or other._data.ndim == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {input._data.ndim}D "
            f"and {other._data.ndim}D")
    if input._data.ndim > 2 or other._data.ndim > 2:
        return _batched_matmul(input, other)
    return _matmul_node(input._data, other._data).apply(input, other)


@tensor_method()
def mm(input, mat2) -> Tensor:
    """Product of two matrices (2-D only)."""
    input, mat2 = autocast_inputs("mm", input, mat2)
    if input._data.ndim != 2 or mat2._data.ndim != 2:
        raise RuntimeError("self must be a matrix" if input._data.ndim != 2 else "mat2 must be a matrix")
    return Mm.apply(input, mat2)


Tensor.__matmul__ = matmul
Tensor.__rmatmul__ = lambda self, other: matmul(other, self)



@tensor_method()
def bmm(input, mat2) -> Tensor:
    """Batched product of two 3-D tensors ``(b, n, m) @ (b, m, p)``."""
    input, mat2 = autocast_inputs("bmm", input, mat2)
    x, y = input._data, mat2._data
    if x.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if y.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if y.shape[:2] != (x.shape[0], x.shape[2]):
        raise RuntimeError(
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{x.shape[0]}, {x.shape[2]}] but got: [{y.shape[0]}, {y.shape[1]}].")
    return Bmm.apply(input, mat2)


@tensor_method()
def mv(input, vec) -> Tensor:
    """Matrix-vector product ``(n, m) @ (m,)``."""
    x, y = input._data, vec._data
    if x.ndim != 2 or y.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {x.ndim}, {y.ndim}")
    if x.shape[1] != y.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({x.shape[0]}), mat ({x.shape[0]}x{x.shape[1]}), "
            f"vec ({y.shape[0]})")
    return Mv.apply(input, vec)


@tensor_method()
def dot(input, tensor) -> Tensor:
    """Inner product of two 1-D tensors of the same size and dtype."""
    x, y = input._data, tensor._data
    if x.ndim != 1 or y.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {x.ndim}D and {y.ndim}D tensors")
    if x.shape != y.shape:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{x.size}] and src [{y.size}] to have the "
            f"same number of elements, but got {x.size} and {y.size} elements respectively")
    if x.dtype != y.dtype:
        raise RuntimeError(
            "dot : expected both vectors to have same dtype, but found "
            f"{type_label(x.dtype)} and {type_label(y.dtype)}")
    return Dot.apply(input, tensor)


@tensor_method("outer", "ger")
def outer(input, vec2) -> Tensor:
    """Outer product of two 1-D tensors: ``out[i, j] = input[i] * vec2[j]``."""
    return input.reshape(-1, 1) * vec2


ger = outer


class Addmm(Function):
    """``beta * input + alpha * (mat1 @ mat2)`` in one node (a linear layer's forward)."""

    node_name = "AddmmBackward0"

    @staticmethod
    def forward(ctx, input, a, b, beta=1, alpha=1):
        x, y = a._data, b._data
        _check_same_dtype(x, y)
        product = matmul_arrays(x, y)
        if alpha != 1:
            product *= alpha
        bias = input._data if isinstance(input, Tensor) else input
        ctx.save_for_backward(a, b)
        ctx.beta, ctx.alpha = beta, alpha
        if beta == 0:
            return product
        return product + (bias if beta == 1 else beta * bias)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        need_input, need_a, need_b = ctx.needs_input_grad
        scaled = grad if ctx.alpha == 1 else grad * ctx.alpha
        grad_input = (grad if ctx.beta == 1 else grad * ctx.beta) if need_input else None
        return (grad_input, scaled @ b.mT if need_a else None,
                a.mT @ scaled if need_b else None)


class Baddbmm(Addmm):
    node_name = "BaddbmmBackward0"


@tensor_method()
def addmm(input, mat1, mat2, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``; ``input`` broadcasts to the product's shape."""
    input, mat1, mat2 = autocast_inputs("addmm", input, mat1, mat2)
    if mat1._data.ndim != 2 or mat2._data.ndim != 2:
        raise RuntimeError("mat1 must be a matrix" if mat1._data.ndim != 2 else "mat2 must be a matrix")
    _check_product_shapes(mat1._data, mat2._data)
    return Addmm.apply(input, mat1, mat2, beta=beta, alpha=alpha)


@tensor_method()
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)``."""
    input, batch1, batch2 = autocast_inputs("baddbmm", input, batch1, batch2)
    if batch1._data.ndim != 3 or batch2._data.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor" if batch1._data.ndim != 3
                           else "batch2 must be a 3D tensor")
    _check_product_shapes(batch1._data, batch2._data)
    return Baddbmm.apply(input, batch1, batch2, beta=beta, alpha=alpha)


def _check_product_shapes(x: np.ndarray, y: np.ndarray) -> None:
    if x.shape[-1] != y.shape[-2]:
        left, right = "x".join(map(str, x.shape[-2:])), "x".join(map(str, y.shape[-2:]))
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({left} and {right})")


# ---------------------------------------------------------------------- einsum
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(equation: str, shapes: list[tuple]) -> tuple[list[str], str]:
    """Operand and output subscripts with ``...`` spelled out as letters, and the output explicit."""
    equation = equation.replace(" ", "")
    inputs_part, arrow, output = equation.partition("->")
    inputs = inputs_part.split(",")
    if len(inputs) != len(shapes):
        raise RuntimeError(
            "einsum(): more operands were provided than specified in the equation"
            if len(shapes) > len(inputs) else
            "einsum(): fewer operands were provided than specified in the equation")
    unused = [c for c in _LETTERS if c not in equation]
    ellipsis_ndim = max((len(s) - len(t.replace("...", "")) for t, s in zip(inputs, shapes)
                         if "..." in t), default=0)
    ellipsis = "".join(unused[:ellipsis_ndim])
    spelled = []
    for term, shape in zip(inputs, shapes):
        if "..." in term:
            term = term.replace("...", ellipsis[ellipsis_ndim - (len(shape) - len(term) + 3):])
        if len(term) != len(shape):
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({len(term)}) does not match "
                f"the number of dimensions ({len(shape)}) for operand {len(spelled)}"
                + (" and no ellipsis was given" if "..." not in term else ""))
        spelled.append(term)
    if arrow:
        output = output.replace("...", ellipsis)
    else:
        counts = {c: "".join(spelled).count(c) for c in "".join(spelled)}
        output = ellipsis + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ellipsis))
    return spelled, output


class Einsum(Function):
    node_name = "EinsumBackward0"

    @staticmethod
    def forward(ctx, subscripts, output, *operands):
        arrays = [t._data for t in operands]
        ctx.save_for_backward(*operands)
        ctx.subscripts, ctx.output = subscripts, output
        sizes = {}
        for index, (term, array) in enumerate(zip(subscripts, arrays)):
            for c, n in zip(term, array.shape):
                seen = sizes.get(c, 1)
                if n not in (1, seen) and seen != 1:
                    raise RuntimeError(
                        f"einsum(): subscript {c} has size {n} for operand {index} which does not "
                        f"broadcast with previously seen size {seen}")
                sizes[c] = n if seen == 1 else seen  # a broadcast 1 yields
        ctx.sizes = sizes
        equation = ",".join(subscripts) + "->" + output
        # The optimised path (BLAS, pairwise order) pays off except for small two-operand cases.
        optimize = len(arrays) > 2 or sum(a.size for a in arrays) > 4096
        return np.asarray(np.einsum(equation, *arrays, optimize=optimize))

    @staticmethod
    def backward(ctx, grad):
        operands = ctx.saved_tensors
        grads = [None, None]
        for i, term in enumerate(ctx.subscripts):
            if not ctx.needs_input_grad[i + 2]:
                grads.append(None)
                continue
            grads.append(_einsum_input_grad(ctx, grad, operands, i, term))
        return tuple(grads)


def _einsum_input_grad(ctx, grad, operands, index: int, term: str) -> Tensor:
    """Contract the output gradient with the other operands, back onto operand ``index``'s subscripts."""
    others = [(t, o) for j, (t, o) in enumerate(zip(ctx.subscripts, operands)) if j != index]
    available = set(ctx.output).union(*(set(t) for t, _ in others))
    unique = "".join(dict.fromkeys(term))
    kept = "".join(c for c in unique if c in available)
    result = Einsum.apply([ctx.output] + [t for t, _ in others], kept, grad, *(o for _, o in others))
    if kept != unique:
        # Letters summed within this operand alone: the gradient is constant along them.
        shape = tuple(ctx.sizes[c] if c in kept else 1 for c in unique)
        result = result.reshape(shape).expand(tuple(ctx.sizes[c] for c in unique))
    if unique != term:
        result = _onto_diagonals(result, unique, term, ctx)
    return result


def _onto_diagonals(grad: Tensor, unique: str, term: str, ctx) -> Tensor:
    """Place a gradient over ``unique`` letters onto the diagonals of a repeated-letter ``term``."""
    used = set("".join(ctx.subscripts) + ctx.output)
    fresh = iter(c for c in _LETTERS if c not in used)
    spread, seen, identities = [], set(), []
    for c in term:
        if c in seen:
            letter = next(fresh)
            identities.append((c + letter, make_tensor(np.eye(ctx.sizes[c], dtype=grad._data.dtype))))
            spread.append(letter)
        else:
            seen.add(c)
            spread.append(c)
    return Einsum.apply([unique] + [t for t, _ in identities], "".join(spread), grad,
                        *(eye for _, eye in identities))


def einsum(equation: str, *operands) -> Tensor:
    """Sum of products over the indices named by ``equation`` (``'ij,jk->ik'``), as ``numpy.einsum``.

    >>> import chainrule as torch
    >>> torch.einsum("ij,j->i", torch.ones(2, 3), torch.ones(3))
    tensor([3., 3.])
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    subscripts, output = _parse_einsum(equation, [t._data.shape for t in operands])
    return Einsum.apply(subscripts, output, *operands)


__all__ = ["matmul", "mm", "bmm", "mv", "dot", "outer", "ger", "addmm", "baddbmm", "einsum"]
