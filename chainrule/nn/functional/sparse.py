"""``F.embedding`` (a table lookup whose gradient adds rows back) and ``F.one_hot``.

>>> import chainrule as torch
>>> import chainrule.nn.functional as F
>>> F.one_hot(torch.tensor([0, 2]), num_classes=3)
tensor([[1, 0, 0],
        [0, 0, 1]])
"""

from __future__ import annotations

import numpy as np

from chainrule._ops._util import Tensor, make_tensor
from chainrule._tensor_str import type_name
from chainrule.autograd.function import Function
from chainrule.backends.cpu import embedding as cpu_embedding

__all__ = ["embedding", "one_hot"]


def _check_indices(input: Tensor, num_embeddings: int) -> np.ndarray:
    indices = input._data
    if indices.dtype not in (np.int64, np.int32):
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar types: "
            f"Long, Int; but got {type_name(input)} instead (while checking arguments for embedding)")
    if indices.size and (indices.min() < 0 or indices.max() >= num_embeddings):
        raise IndexError("index out of range in self")
    return indices


class Embedding(Function):
    node_name = "EmbeddingBackward0"

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        ctx.lookup = (indices, padding_idx, scale_grad_by_freq, weight._data.shape)
        return weight._data[indices]

    @staticmethod
    def backward(ctx, grad):
        indices, padding_idx, scale_grad_by_freq, shape = ctx.lookup
        rows = grad._data.reshape(-1, shape[1])
        flat = indices.reshape(-1)
        if scale_grad_by_freq:
            counts = np.bincount(flat, minlength=shape[0])
            rows = rows / counts[flat, None].astype(rows.dtype)
        grad_weight = cpu_embedding.add_rows_at(rows, flat, shape)
        if grad_weight is None:
            grad_weight = _sum_rows_by_index(rows, flat, shape)
        if padding_idx is not None:
            grad_weight[padding_idx] = 0
        return make_tensor(grad_weight), None, None, None


def _sum_rows_by_index(rows: np.ndarray, indices: np.ndarray, shape: tuple) -> np.ndarray:
    """``out[i] = sum of rows[k] where indices[k] == i`` (zeros for indices never used). The
    rows are sorted by index so that each run of equal indices is one ``np.add.reduceat``
    segment: 1.55 -> 0.25 ms against ``np.add.at``, which adds one row at a time, for the GPT
    benchmark's 768 tokens (benchmarks/RESULTS.md)."""
    out = np.zeros(shape, rows.dtype)
    if indices.size == 0:
        return out
    order = np.argsort(indices, kind="stable")
    sorted_indices = indices[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_indices[1:] != sorted_indices[:-1])))
    out[sorted_indices[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


def _renormalize_(weight: Tensor, indices: np.ndarray, max_norm: float, norm_type: float) -> None:
    rows = np.unique(indices)
    table = weight._data
    norms = np.linalg.norm(table[rows], ord=norm_type, axis=1)
    too_long = norms > max_norm
    scale = (max_norm / (norms[too_long] + 1e-7)).astype(table.dtype)
    table[rows[too_long]] *= scale[:, None]


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` picked by the integer ``input``; output shape ``(*input.shape, dim)``.

    >>> import chainrule as torch
    >>> torch.nn.functional.embedding(torch.tensor([1]), torch.eye(3))
    tensor([[0., 1., 0.]])
    """
    num_embeddings = weight.shape[0]
    if padding_idx is not None:
        if not -num_embeddings <= padding_idx < num_embeddings:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= num_embeddings
    indices = _check_indices(input, num_embeddings)
    if max_norm is not None:
        _renormalize_(weight, indices, max_norm, norm_type)
    return Embedding.apply(weight, indices, padding_idx, scale_grad_by_freq)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """An int64 tensor with a trailing dimension of size ``num_classes`` holding a single 1."""
    labels = tensor._data
    if labels.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if labels.size and labels.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        if labels.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(labels.max()) + 1
    elif labels.size and labels.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    result = np.zeros(labels.shape + (num_classes,), np.int64)
    np.put_along_axis(result, labels[..., None], 1, axis=-1)
    return make_tensor(result)
