"""Indexing: ``x[key]``, ``x[key] = value`` and the index ops built on them
(``gather``, ``scatter``, ``index_select``, ``masked_fill``, ``take``, ...).

Every op here is one of two primitives on a NumPy key: *index* (read
``a[key]``) and *index-put* (write ``value`` into a copy of ``a`` at ``key``,
or add it). Each is the other's gradient: the gradient of a read scatters the
incoming gradient back into zeros (adding where an index repeats), and the
gradient of a write reads the written region. ``gather`` and ``scatter`` are
the same primitives with a key of per-element coordinates.
"""

from __future__ import annotations

import numpy as np

from chainrule._dtype import is_floating_numpy
from chainrule._ops._util import (
    CPP_TYPE_NAMES,
    Tensor,
    broadcast_error,
    make_tensor,
    normalize_dim,
    tensor_method,
    torch_namespaced,
)
from chainrule._ops.inplace import apply_inplace, records_inplace
from chainrule._ops.shape import expand, mark_view
from chainrule._tensor import make_view
from chainrule.autograd import function
from chainrule.autograd.function import Function
from chainrule.autograd.grad_mode import state

__all__ = ["gather", "scatter", "scatter_add", "index_select", "index_add", "masked_fill",
           "masked_select", "take", "take_along_dim", "nonzero", "argwhere", "select"]

_BASIC = (int, slice, type(None), type(Ellipsis))


# ----------------------------------------------------------------- keys
def _key_item(item):
    if isinstance(item, Tensor):
        data = item._data
        if is_floating_numpy(data.dtype):
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        if data.ndim == 0 and data.dtype.kind in "iu":
            return int(data)
        return data
    if isinstance(item, slice):
        if item.step is not None and int(item.step) <= 0:
            if int(item.step) == 0:
                raise ValueError("slice step cannot be zero")
            raise ValueError("step must be greater than zero")
        return item
    if isinstance(item, (list, tuple)):
        array = np.asarray([_key_item(i) if isinstance(i, Tensor) else i for i in item])
        if array.dtype.kind not in "iub":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return array
    if isinstance(item, np.integer):
        return int(item)
    return item


def _normalize_key(key) -> tuple:
    """A NumPy key with PyTorch's rules (no negative steps, integer/bool tensors as arrays)."""
    if not isinstance(key, tuple):
        key = (key,)
    return tuple(_key_item(item) for item in key)


def _is_basic(key: tuple) -> bool:
    for item in key:  # a loop, not all(...): every x[i] asks, and a generator costs twice as much
        if not isinstance(item, _BASIC) or isinstance(item, bool):
            return False
    return True


def _scatter_key(key: tuple) -> tuple:
    """Boolean masks as the integer coordinates they select (what ``np.add.at`` needs)."""
    expanded = []
    for item in key:
        if isinstance(item, np.ndarray) and item.dtype.kind == "b" and item.ndim:
            expanded.extend(np.nonzero(item))
        else:
            expanded.append(item)
    return tuple(expanded)


def _read(data: np.ndarray, key: tuple) -> np.ndarray:
    """``data[key]``, always an array (a view for basic keys), with PyTorch's IndexErrors."""
    try:
        if _is_basic(key) and Ellipsis not in key:
            return data[key + (Ellipsis,)]
        return data[key]
    except IndexError as error:
        raise _torch_index_error(error, data.ndim) from None


def _torch_index_error(error: IndexError, ndim: int) -> IndexError:
    message = str(error)
    if message.startswith("too many indices") and ndim == 0:
        return IndexError(
            "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` "
            "in C++ to convert a 0-dim tensor to a number")
    if message.startswith("too many indices"):
        return IndexError(f"too many indices for tensor of dimension {ndim}")
    return IndexError(message.replace("axis", "dimension"))


# ----------------------------------------------------------- primitives
class Index(Function):
    """``a[key]`` (advanced indexing, a copy); the subclasses only rename the node."""

    node_name = "IndexBackward0"

    @staticmethod
    def forward(ctx, a, key=()):
        ctx.key = key
        ctx.input_shape = a._data.shape
        return _read(a._data, key)

    @staticmethod
    def backward(ctx, grad):
        return scatter_into(grad, ctx.key, ctx.input_shape)


class Select(Index):
    node_name = "SelectBackward0"


class Slice(Index):
    node_name = "SliceBackward0"


class IndexUnsqueeze(Index):
    node_name = "UnsqueezeBackward0"


class Alias(Index):
    node_name = "AliasBackward0"


class AsStrided(Index):
    """A view's history after an in-place op on it: its region, read from the rebased base."""

    node_name = "AsStridedBackward0"


class Gather(Index):
    node_name = "GatherBackward0"


class Take(Index):
    node_name = "TakeBackward0"


class IndexSelect(Index):
    node_name = "IndexSelectBackward0"


class MaskedSelect(Index):
    node_name = "MaskedSelectBackward0"


def scatter_into(grad: Tensor, key: tuple, shape: tuple) -> Tensor:
    """Zeros of ``shape`` with ``grad`` added at ``key``: the gradient of ``Index``."""
    return IndexPut.apply(None, grad, key=key, accumulate=True, shape=shape)


class IndexPut(Function):
    """A copy of ``a`` with ``value`` written (or, with ``accumulate``, added) at ``key``;
    ``a`` None: zeros of ``shape``."""

    node_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, a, value, key=(), accumulate=False, shape=()):
        ctx.key, ctx.accumulate = key, accumulate
        ctx.value_shape = value._data.shape if isinstance(value, Tensor) else None
        source = value._data if isinstance(value, Tensor) else value
        out = np.zeros(shape, dtype=source.dtype) if a is None else a._data.copy()
        # Adding to zeros at a basic key, which reaches each element once, is writing.
        if accumulate and not (a is None and _is_basic(key)):
            np.add.at(out, _scatter_key(key), source)
        else:
            _write(out, key, source)
        return out

    @staticmethod
    def backward(ctx, grad):
        need_a, need_value = ctx.needs_input_grad
        grad_a = grad_value = None
        if need_a:
            grad_a = grad if ctx.accumulate else IndexPut.apply(grad, 0.0, key=ctx.key)
        if need_value:
            grad_value = Index.apply(grad, key=ctx.key)
            extra = len(ctx.value_shape) - grad_value.ndim
            if extra > 0:  # NumPy and PyTorch let a value carry extra leading 1-sized dims
                grad_value = grad_value.reshape((1,) * extra + tuple(grad_value.shape))
        return grad_a, grad_value


class CopySlices(IndexPut):
    node_name = "CopySlices"


torch_namespaced(CopySlices)


class Scatter(IndexPut):
    node_name = "ScatterBackward0"


class ScatterValue(IndexPut):
    node_name = "ScatterBackward1"


class ScatterAdd(IndexPut):
    node_name = "ScatterAddBackward0"


class IndexAdd(IndexPut):
    node_name = "IndexAddBackward0"


def _write(out: np.ndarray, key: tuple, source) -> None:
    try:
        out[key] = source
    except ValueError as error:
        if "broadcast" not in str(error):
            raise
        region = _read(out, key).shape
        if _is_basic(key):
            raise _expand_error(np.shape(source), region) from None
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(np.shape(source))} cannot be broadcast to "
            f"indexing result of shape {list(region)}") from None
    except IndexError as error:
        raise _torch_index_error(error, out.ndim) from None


def _expand_error(value_shape: tuple, region: tuple) -> RuntimeError:
    """PyTorch copies into a basic-indexed region by expanding the value, and fails as expand does."""
    lead = len(region) - len(value_shape)
    for i, size in enumerate(value_shape):
        if lead + i >= 0 and size not in (1, region[lead + i]):
            return RuntimeError(
                f"The expanded size of the tensor ({region[lead + i]}) must match the existing size "
                f"({size}) at non-singleton dimension {lead + i}.  Target sizes: {list(region)}.  "
                f"Tensor sizes: {list(value_shape)}")
    return RuntimeError(
        f"shape mismatch: value tensor of shape {list(value_shape)} cannot be broadcast to indexing "
        f"result of shape {list(region)}")


# ------------------------------------------------------- x[key], x[key] = v
def _basic_node(key: tuple) -> type[Index]:
    """PyTorch applies a basic key item by item; the node shown is the last one that acted."""
    for item in reversed(key):
        if isinstance(item, int):
            return Select
        if item is None:
            return IndexUnsqueeze
        if isinstance(item, slice) and item != slice(None):
            return Slice
    return Alias


def __getitem__(self, key) -> Tensor:
    """``x[key]``: ints, slices, ``None`` and ``...`` give a view; integer/bool tensors or lists a copy.

    >>> import chainrule as torch
    >>> x = torch.arange(6).reshape(2, 3)
    >>> x[1, ::2], x[x > 3]
    (tensor([3, 5]), tensor([4, 5]))
    """
    kind = type(key)
    if kind is int:
        if (self._requires_grad and state.enabled) or function.trace_hook:
            return mark_view(self, Select.apply(self, key=(key,)), True)
        return make_view(self, _read(self._data, (key,)))  # nothing to record: no node
    if kind is slice:
        return mark_view(self, Slice.apply(self, key=(_key_item(key),)), True)
    key = _normalize_key(key)
    if _is_basic(key):
        return mark_view(self, _basic_node(key).apply(self, key=key), True)
    return Index.apply(self, key=key)


def __setitem__(self, key, value) -> None:
    """``x[key] = value`` (broadcast); recorded as ``CopySlices`` when autograd is watching."""
    key = _normalize_key(key)
    if records_inplace(self, (value,)):
        if self.grad_fn is None and self._requires_grad:
            raise RuntimeError(
                "a view of a leaf Variable that requires grad is being used in an in-place operation.")
        node = CopySlices if _is_basic(key) else IndexPut
        apply_inplace(self, node.apply, (value,), {"key": key}, "CopySlices")
        return
    if not self._data.flags.writeable:
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location. Please clone() the tensor before performing the operation.")
    _write(self._data, key, value._data if isinstance(value, Tensor) else value)
    self._bump_version()


Tensor.__getitem__ = __getitem__
Tensor.__setitem__ = __setitem__


@tensor_method()
def select(input, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim``, without that dimension (a view): ``x[:, index]``."""
    shape = input._data.shape
    dim = normalize_dim(dim, len(shape))
    if not shape or not -shape[dim] <= index < shape[dim]:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(shape)} "
                         f"at dimension {dim}")
    return mark_view(input, Select.apply(input, key=(slice(None),) * dim + (int(index),)), True)


# ------------------------------------------------------ gather / scatter
def _index_array(index, op: str) -> np.ndarray:
    data = index._data if isinstance(index, Tensor) else np.asarray(index)
    if data.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int64 for index")
    return data


def gather_coordinates(index: np.ndarray, dim: int, op: str, input_shape: tuple) -> tuple:
    """The key of ``gather``/``scatter``: ``index`` along ``dim``, each element's own position elsewhere."""
    if index.ndim == 0 and len(input_shape) <= 1:  # PyTorch reads a 0-d index as 1-d here
        if not input_shape and index != 0:
            raise RuntimeError(f"index {index} is out of bounds for dimension 0 with size 1")
        return (index,) if input_shape else ()
    if index.ndim != len(input_shape) and index.size and input_shape:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for d, (i, s) in enumerate(zip(index.shape, input_shape, strict=False)):
        if d != dim and i > s:
            raise RuntimeError(
                f"Size does not match at dimension {d} expected index {list(index.shape)} to be "
                f"smaller than self {list(input_shape)} apart from dimension {dim}")
    key = list(np.indices(index.shape, sparse=True))
    key[dim] = index
    return tuple(key)


@tensor_method()
def gather(input, dim: int, index, *, sparse_grad: bool = False) -> Tensor:
    """``out[i][j] = input[index[i][j]][j]`` for ``dim=0`` (and likewise for other dims)."""
    dim = normalize_dim(dim, input._data.ndim)
    index = _index_array(index, "gather")
    try:
        return Gather.apply(input, key=gather_coordinates(index, dim, "gather", input._data.shape))
    except IndexError as error:
        raise RuntimeError(str(error)) from None


@tensor_method()
def take_along_dim(input, indices, dim: int | None = None) -> Tensor:
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    return gather(input, dim, indices)


@tensor_method()
def scatter(input, dim: int, index, src=None, *, value=None, reduce=None) -> Tensor:
    """A copy of ``input`` with ``src`` (a tensor or a number) written at ``index`` along ``dim``."""
    if reduce is not None:
        raise NotImplementedError("scatter(reduce=...) is not supported by chainrule; use scatter_reduce")
    dim = normalize_dim(dim, input._data.ndim)
    index = _index_array(index, "scatter")
    key = gather_coordinates(index, dim, "scatter", input._data.shape)
    source = value if src is None else src
    if isinstance(source, Tensor):
        source = source[tuple(slice(0, n) for n in index.shape)]
        return Scatter.apply(input, source, key=key)
    return ScatterValue.apply(input, source, key=key)


@tensor_method()
def scatter_add(input, dim: int, index, src) -> Tensor:
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeats accumulate)."""
    dim = normalize_dim(dim, input._data.ndim)
    index = _index_array(index, "scatter_add")
    key = gather_coordinates(index, dim, "scatter_add", input._data.shape)
    source = src[tuple(slice(0, n) for n in index.shape)]
    return ScatterAdd.apply(input, source, key=key, accumulate=True)


@tensor_method()
def scatter_(self, dim: int, index, src=None, *, value=None, reduce=None) -> Tensor:
    return apply_inplace(self, scatter, (dim, index, src), {"value": value, "reduce": reduce},
                         "ScatterBackward0")


@tensor_method()
def scatter_add_(self, dim: int, index, src) -> Tensor:
    return apply_inplace(self, scatter_add, (dim, index, src), None, "ScatterAddBackward0")


# ----------------------------------------------------- index_select / add
def _along(dim: int, index: np.ndarray) -> tuple:
    return (slice(None),) * dim + (index,)


@tensor_method()
def index_select(input, dim: int, index) -> Tensor:
    """The entries ``index`` (1-D) along ``dim``."""
    index = _index_array(index, "index_select")
    if index.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    dim = normalize_dim(dim, input._data.ndim)
    return IndexSelect.apply(input, key=_along(dim, index.reshape(-1)))


@tensor_method()
def index_add(input, dim: int, index, source, *, alpha=1) -> Tensor:
    """A copy of ``input`` with ``alpha * source`` added at ``index`` along ``dim``."""
    index = _index_array(index, "index_add").reshape(-1)
    dim = normalize_dim(dim, input._data.ndim)
    if alpha != 1:
        source = source * alpha
    return IndexAdd.apply(input, source, key=_along(dim, index), accumulate=True)


@tensor_method()
def index_add_(self, dim: int, index, source, *, alpha=1) -> Tensor:
    return apply_inplace(self, index_add, (dim, index, source), {"alpha": alpha}, "IndexAddBackward0")


@tensor_method()
def take(input, index) -> Tensor:
    """The entries of the flattened ``input`` at ``index`` (the result has ``index``'s shape)."""
    index = _index_array(index, "take")
    numel = input._data.size
    if index.size and (index.max() >= numel or index.min() < -numel):
        bad = int(index.max()) if index.max() >= numel else int(index.min())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {numel} elements.")
    key = np.unravel_index(index % max(numel, 1), input._data.shape)
    return Take.apply(input, key=tuple(key))


# --------------------------------------------------------------- masks
def _mask_array(mask, op: str) -> np.ndarray:
    data = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if data.dtype != np.bool_:
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype {_dtype_name(data)}")
    return data


def _dtype_name(data: np.ndarray) -> str:
    return CPP_TYPE_NAMES.get(data.dtype.name, data.dtype.name)


class MaskedFill(Function):
    node_name = "MaskedFillBackward0"

    @staticmethod
    def forward(ctx, a, value, mask=None):
        ctx.mask = mask
        fill = value._data if isinstance(value, Tensor) else value
        try:
            return np.where(mask, np.asarray(fill, dtype=a._data.dtype), a._data)
        except ValueError as error:
            raise broadcast_error(error, mask, a) from None

    @staticmethod
    def backward(ctx, grad):
        need_a, need_value = ctx.needs_input_grad
        mask = make_tensor(ctx.mask)
        grad_a = grad.masked_fill(mask, 0) if need_a else None
        grad_value = grad.masked_fill(~mask, 0).sum() if need_value else None
        return grad_a, grad_value


class MaskedFillTensor(MaskedFill):
    """``masked_fill`` with a 0-d tensor value, which receives the gradient of the filled entries."""

    node_name = "MaskedFillBackward1"


@tensor_method()
def masked_fill(input, mask, value) -> Tensor:
    """A copy of ``input`` with ``value`` wherever ``mask`` (broadcast) is True."""
    mask = _mask_array(mask, "masked_fill_")
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError(
            f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
            f"{value._data.ndim} dimension(s).")
    return (MaskedFillTensor if isinstance(value, Tensor) else MaskedFill).apply(input, value, mask=mask)


@tensor_method()
def masked_fill_(self, mask, value) -> Tensor:
    return apply_inplace(self, masked_fill, (mask, value), None, "MaskedFillBackward0")


@tensor_method()
def masked_select(input, mask) -> Tensor:
    """The entries of ``input`` where ``mask`` is True, as a 1-D tensor."""
    mask = _mask_array(mask, "masked_select:")
    shape = np.broadcast_shapes(input._data.shape, mask.shape)
    if input._data.shape != shape:
        input = expand(input, shape)
    return MaskedSelect.apply(input, key=np.nonzero(np.broadcast_to(mask, shape)))


# ------------------------------------------------------------- nonzero
@tensor_method()
def nonzero(input, *, as_tuple: bool = False):
    """The indices of the non-zero entries: an ``(n, ndim)`` tensor, or one 1-D tensor per dim."""
    if as_tuple:
        data = input._data if input._data.ndim else input._data.reshape(1)
        return tuple(make_tensor(i.astype(np.int64, copy=False)) for i in np.nonzero(data))
    return make_tensor(np.argwhere(input._data).astype(np.int64, copy=False))


@tensor_method()
def argwhere(input) -> Tensor:
    return nonzero(input)
