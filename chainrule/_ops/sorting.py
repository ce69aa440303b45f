"""Ordering ops: ``sort``, ``argsort``, ``topk``, ``kthvalue``, ``median``, ``unique``,
``count_nonzero``, ``searchsorted`` and ``bucketize``.

The ops that pick elements (``sort``, ``topk``, ``kthvalue``, ``median(dim)``) return the
indices they picked, and their gradient is the incoming gradient placed back at those
indices (zeros elsewhere). Sorting is stable, NaN sorts above every number, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from chainrule._dtype import is_floating_numpy
from chainrule._ops._util import Tensor, make_tensor, normalize_dim, tensor_method
from chainrule._ops.indexing import gather_coordinates, scatter_into
from chainrule._ops.reduction import reduction_dims, return_type
from chainrule._ops.selection import where
from chainrule.autograd.function import Function

__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian", "unique",
           "unique_consecutive", "count_nonzero", "searchsorted", "bucketize"]

sort_return = return_type("sort")
topk_return = return_type("topk")
kthvalue_return = return_type("kthvalue")
median_return = return_type("median")
nanmedian_return = return_type("nanmedian")


def stable_argsort(data: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    """Indices that sort ``data`` along ``dim``; equal elements keep their order either way."""
    if not descending:
        return np.argsort(data, axis=dim, kind="stable")
    # Sorting the reversed line ascending and reading it backwards puts NaN first and keeps ties
    # in their original order (negating would fail for unsigned and bool tensors).
    flipped = np.argsort(np.flip(data, dim), axis=dim, kind="stable")
    return data.shape[dim] - 1 - np.flip(flipped, dim)


def place_at_indices(grad: Tensor, indices: np.ndarray, dim: int, shape: tuple) -> Tensor:
    """Zeros of ``shape`` with ``grad`` added at ``indices`` along ``dim`` (both of ``shape``'s
    rank): the gradient of an op that picked those elements."""
    if not shape:
        return grad.reshape(())
    return scatter_into(grad, gather_coordinates(indices, dim, "scatter", shape), shape)


class _PickAlongDim(Function):
    """Base of the element-picking ops: forward sets ``ctx.indices`` (kept dims) and ``ctx.dim``."""

    @staticmethod
    def backward(ctx, grad, grad_indices):
        if not ctx.keepdim and ctx.input_shape:
            grad = grad.unsqueeze(ctx.dim)
        return place_at_indices(grad, ctx.indices, ctx.dim, ctx.input_shape)

    @staticmethod
    def finish(ctx, data: np.ndarray, indices: np.ndarray, dim: int, keepdim: bool) -> tuple:
        """``(values, indices)`` for the picked ``indices`` (kept dims), saving what backward needs."""
        ctx.input_shape, ctx.dim, ctx.keepdim, ctx.indices = data.shape, dim, keepdim, indices
        values = np.take_along_axis(data, indices, axis=dim) if data.ndim else data.copy()
        if not keepdim and data.ndim:
            values, indices = np.squeeze(values, dim), np.squeeze(indices, dim)
        ctx.mark_non_differentiable(indices)
        return values, indices.astype(np.int64, copy=False)

    @staticmethod
    def pick_sorted(ctx, data: np.ndarray, dim: int, descending: bool, keepdim: bool,
                    positions=None) -> tuple:
        """``finish`` for the elements at ``positions`` (all if ``None``) of the stable sorted
        order along ``dim``."""
        if not data.ndim:
            return _PickAlongDim.finish(ctx, data, np.zeros((), np.int64), 0, keepdim)
        order = stable_argsort(data, dim, descending)
        if positions is not None:
            order = np.take(order, positions, axis=dim)
        return _PickAlongDim.finish(ctx, data, order, dim, keepdim)


class Sort(_PickAlongDim):
    node_name = "SortBackward0"

    @staticmethod
    def forward(ctx, a, dim=-1, descending=False):
        return _PickAlongDim.pick_sorted(ctx, a._data, dim, descending, True)


class StableSort(Sort):
    node_name = "SortBackward1"


class Topk(_PickAlongDim):
    node_name = "TopkBackward0"

    @staticmethod
    def forward(ctx, a, k=1, dim=-1, largest=True):
        return _PickAlongDim.pick_sorted(ctx, a._data, dim, largest, True, np.arange(k))


class Kthvalue(_PickAlongDim):
    node_name = "KthvalueBackward0"

    @staticmethod
    def forward(ctx, a, k=1, dim=-1, keepdim=False):
        return _PickAlongDim.pick_sorted(ctx, a._data, dim, False, keepdim, [k - 1])


class MedianDim(_PickAlongDim):
    """The lower median along ``dim``: the element at position ``(n - 1) // 2`` once sorted.
    A line holding NaN has its first NaN as median; ``nanmedian`` counts the numbers only."""

    node_name = "MedianBackward1"

    @staticmethod
    def forward(ctx, a, dim=-1, keepdim=False, ignore_nan=False):
        data = a._data
        if not data.ndim:
            return _PickAlongDim.finish(ctx, data, np.zeros((), np.int64), 0, keepdim)
        size = data.shape[dim]
        nans = np.isnan(data).sum(axis=dim, keepdims=True) if is_floating_numpy(data.dtype) else 0
        numbers = size - nans
        if ignore_nan:
            position = np.where(numbers > 0, (numbers - 1) // 2, (size - 1) // 2)
        else:
            # NaN sorts right after the numbers, so position ``numbers`` is a line's first NaN.
            position = np.where(numbers < size, numbers, (size - 1) // 2)
        order = stable_argsort(data, dim, descending=False)
        indices = np.take_along_axis(order, np.broadcast_to(position, _one_along(data.shape, dim)),
                                     axis=dim)
        return _PickAlongDim.finish(ctx, data, indices, dim, keepdim)


def _one_along(shape: tuple, dim: int) -> tuple:
    return shape[:dim] + (1,) + shape[dim + 1:]


class NanmedianDim(MedianDim):
    node_name = "NanmedianBackward1"


class Median(Function):
    """The lower median of all elements; ties share the gradient evenly, as in PyTorch."""

    node_name = "MedianBackward0"

    @staticmethod
    def forward(ctx, a, ignore_nan=False):
        data = a._data
        values = data.reshape(-1)
        if is_floating_numpy(data.dtype):
            nans = np.isnan(values)
            if nans.any():
                values = values[~nans] if ignore_nan else values[nans][:1]
        if values.size:
            result = np.sort(values)[(values.size - 1) // 2]
        else:  # PyTorch's median of nothing: NaN, or the smallest integer
            result = np.nan if is_floating_numpy(data.dtype) else np.iinfo(data.dtype).min
        result = np.asarray(result, data.dtype)
        ctx.save_for_backward(a, result)
        return result

    @staticmethod
    def backward(ctx, grad):
        a, result = ctx.saved_tensors
        chosen = a.isnan() if bool(result.isnan()) else a == result.detach()
        return where(chosen, grad / chosen.sum(), 0.0)


class Nanmedian(Median):
    node_name = "NanmedianBackward0"


# ----------------------------------------------------------------- public forms
def _pick_dim(input: Tensor, dim: int) -> int:
    return normalize_dim(dim, input._data.ndim) if input._data.ndim else 0


@tensor_method()
def sort(input, dim=-1, descending=False, *, stable=None):
    """``(values, indices)`` of ``input`` sorted along ``dim``; the sort is stable.

    >>> import chainrule as torch
    >>> torch.sort(torch.tensor([3.0, 1.0, 2.0])).indices
    tensor([1, 2, 0])
    """
    node = Sort if stable is None else StableSort
    return sort_return(*node.apply(input, dim=_pick_dim(input, dim), descending=descending))


@tensor_method()
def argsort(input, dim=-1, descending=False, *, stable=False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (int64)."""
    data = input._data
    if not data.ndim:
        return make_tensor(np.zeros((), np.int64))
    return make_tensor(stable_argsort(data, _pick_dim(input, dim), descending).astype(np.int64))


@tensor_method()
def msort(input) -> Tensor:
    """``sort(input, dim=0).values``."""
    return Sort.apply(input, dim=0)[0]


@tensor_method()
def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002 - PyTorch's name
    """``(values, indices)`` of the ``k`` largest (or smallest) elements along ``dim``, in order.

    >>> import chainrule as torch
    >>> torch.topk(torch.tensor([1.0, 4.0, 2.0, 3.0]), 2).values
    tensor([4., 3.])
    """
    dim = _pick_dim(input, dim)
    if input._data.dtype == np.bool_:
        raise RuntimeError("topk does not support bool dtypes on CPU")
    size = input._data.shape[dim] if input._data.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    return topk_return(*Topk.apply(input, k=int(k), dim=dim, largest=largest))


@tensor_method()
def kthvalue(input, k, dim=-1, keepdim=False):
    """``(values, indices)`` of the ``k``-th smallest element (from 1) along ``dim``."""
    dim = _pick_dim(input, dim)
    _check_not_bool("kthvalue_cpu", input)
    size = input._data.shape[dim] if input._data.ndim else 1
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim}")
    return kthvalue_return(*Kthvalue.apply(input, k=int(k), dim=dim, keepdim=keepdim))


def _check_not_bool(kernel: str, input: Tensor) -> None:
    if input._data.dtype == np.bool_:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def _median(name: str, all_node, dim_node, result_type, input, dim, keepdim):
    ignore_nan = name == "nanmedian"
    _check_not_bool("median_cpu" if dim is None else "median_out", input)
    if dim is None:
        return all_node.apply(input, ignore_nan=ignore_nan)
    dim = _pick_dim(input, dim)
    if input._data.ndim and input._data.shape[dim] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
    return result_type(*dim_node.apply(input, dim=dim, keepdim=keepdim, ignore_nan=ignore_nan))


@tensor_method()
def median(input, dim=None, keepdim=False):
    """The lower median of all elements (NaN if any is NaN), or ``(values, indices)`` along ``dim``.

    >>> import chainrule as torch
    >>> torch.median(torch.tensor([4.0, 1.0, 3.0, 2.0]))
    tensor(2.)
    """
    return _median("median", Median, MedianDim, median_return, input, dim, keepdim)


@tensor_method()
def nanmedian(input, dim=None, keepdim=False):
    """``median`` that ignores NaN (the median of a line of NaN only is NaN)."""
    return _median("nanmedian", Nanmedian, NanmedianDim, nanmedian_return, input, dim, keepdim)


# ------------------------------------------------------------------ unique
class _NotDifferentiable(Function):
    """An op PyTorch records but cannot differentiate: backward names it."""

    @staticmethod
    def forward(ctx, a, compute=None, op=""):
        ctx.op = op
        return compute(a._data)

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError(f"the derivative for '{ctx.op}' is not implemented.")


class Unique(_NotDifferentiable):
    node_name = "Unique2Backward0"


class UniqueDim(_NotDifferentiable):
    node_name = "UniqueDimBackward0"


class UniqueConsecutive(_NotDifferentiable):
    node_name = "UniqueConsecutiveBackward0"


def _unique_arrays(data: np.ndarray, dim, consecutive: bool) -> tuple:
    """Unique values (or slices along ``dim``), the inverse (the position of each input in
    them) and their counts. Every NaN is distinct, as in PyTorch."""
    if dim is None:
        flat = data.reshape(-1)
        if consecutive:
            starts = np.concatenate([[True], flat[1:] != flat[:-1]]) if flat.size else np.zeros(0, bool)
            values = flat[starts]
            inverse = np.cumsum(starts) - 1
            counts = np.diff(np.append(np.flatnonzero(starts), flat.size))
        else:
            values, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True,
                                                equal_nan=False)
        return values, inverse.reshape(data.shape), counts
    moved = np.moveaxis(data, dim, 0).reshape(data.shape[dim], -1)
    if consecutive:
        differs = (moved[1:] != moved[:-1]).any(axis=1)
        starts = np.concatenate([[True], differs]) if len(moved) else np.zeros(0, bool)
        rows = moved[starts]
        inverse = np.cumsum(starts) - 1
        counts = np.diff(np.append(np.flatnonzero(starts), len(moved)))
    else:
        rows, inverse, counts = np.unique(moved, axis=0, return_inverse=True, return_counts=True)
    shape = list(np.moveaxis(data, dim, 0).shape)
    shape[0] = len(rows)
    values = np.moveaxis(rows.reshape(shape), 0, dim)
    return np.ascontiguousarray(values), inverse.reshape(-1), counts


def _unique(node, op: str, input, return_inverse, return_counts, dim, consecutive):
    if dim is not None:
        dim = normalize_dim(dim, input._data.ndim)

    def compute(data):
        values, inverse, counts = _unique_arrays(data, dim, consecutive)
        return values, inverse.astype(np.int64), counts.astype(np.int64)

    values, inverse, counts = node.apply(input, compute=compute, op=op)
    if return_inverse and return_counts:
        return values, inverse, counts
    if return_inverse:
        return values, inverse
    if return_counts:
        return values, counts
    return values


@tensor_method()
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The distinct values (sorted), optionally with the inverse and the counts; with ``dim``,
    the distinct slices along it. Not differentiable.

    >>> import chainrule as torch
    >>> torch.unique(torch.tensor([3, 1, 3]), return_counts=True)
    (tensor([1, 3]), tensor([1, 2]))
    """
    if dim is None:
        return _unique(Unique, "_unique2", input, return_inverse, return_counts, None, False)
    return _unique(UniqueDim, "unique_dim", input, return_inverse, return_counts, dim, False)


@tensor_method()
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse each run of equal consecutive values (or slices along ``dim``) to one."""
    return _unique(UniqueConsecutive, "unique_consecutive", input, return_inverse, return_counts,
                   dim, True)


# ------------------------------------------------------------- counting, search
@tensor_method()
def count_nonzero(input, dim=None) -> Tensor:
    """The number of non-zero elements (over ``dim``, an int or a tuple), as int64."""
    dims = reduction_dims(dim, input._data.ndim)
    counted = np.count_nonzero(input._data, axis=dims)
    return make_tensor(np.asarray(counted, dtype=np.int64))


def _search_dtype(out_int32: bool):
    return np.int32 if out_int32 else np.int64


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None) -> Tensor:
    """For each value of ``input``, the index where it would be inserted into the innermost
    dimension of ``sorted_sequence`` to keep it sorted (after equal values with ``right``)."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError(
                "torch.searchsorted(): side and right can't be set to opposites, got side of left "
                "while right was True")
        right = side == "right"
    boundaries = sorted_sequence._data
    values = input._data if isinstance(input, Tensor) else np.asarray(input)
    if sorter is not None:
        boundaries = np.take_along_axis(boundaries, sorter._data, axis=-1)
    side = "right" if right else "left"
    if boundaries.ndim == 1:
        result = np.searchsorted(boundaries, values, side=side)
    elif values.ndim == 0:
        raise RuntimeError(
            "torch.searchsorted(): input value can be a scalar only when boundaries tensor "
            f"dimension is 1, but we got boundaries tensor dim({boundaries.ndim}) and input "
            "value's dim(0) numel(1)")
    else:
        if values.shape[:-1] != boundaries.shape[:-1]:
            raise RuntimeError(
                "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                "dimensions of boundaries tensor and input value tensor must match, but we got "
                f"boundaries tensor {list(boundaries.shape)} and input value tensor "
                f"{list(values.shape)}")
        rows = boundaries.reshape(-1, boundaries.shape[-1])
        lines = values.reshape(len(rows), -1)
        result = np.stack([np.searchsorted(r, v, side=side) for r, v in zip(rows, lines)])
        result = result.reshape(values.shape)
    return make_tensor(np.asarray(result, dtype=_search_dtype(out_int32)))


def bucketize(input, boundaries, *, out_int32=False, right=False) -> Tensor:
    """The bucket of each value of ``input`` among the 1-D sorted ``boundaries``:
    ``boundaries[i - 1] < x <= boundaries[i]`` (``<=`` then ``<`` with ``right``)."""
    if boundaries._data.ndim != 1:
        raise RuntimeError(
            f"boundaries tensor must be 1 dimension, but got dim({boundaries._data.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)
