"""Shape ops: views (``view``, ``transpose``, ``expand``, ...) and copies (``cat``, ``stack``, ...).

A view's gradient is the inverse rearrangement of the incoming gradient.
Views share memory and the version counter with their base, as in PyTorch.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule._dtype import result_type
from chainrule._ops._util import (
    Tensor,
    broadcast_view,
    normalize_dim,
    shape_from_args,
    tensor_method,
    type_label,
)
from chainrule._ops.inplace import maybe_out
from chainrule._tensor import make_view
from chainrule._tensor_str import type_name
from chainrule.autograd.function import Function


def _infer_shape(shape: tuple, numel: int, current: tuple) -> tuple:
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


class Reshape(Function):
    node_name = "ViewBackward0"

    @staticmethod
    def forward(ctx, a, shape=()):
        ctx.input_shape = a._data.shape
        return a._data.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.input_shape)

    @staticmethod
    def backward_arrays(ctx, grad):
        return grad.reshape(ctx.input_shape)


class UnsafeView(Reshape):
    node_name = "UnsafeViewBackward0"


def mark_view(a: Tensor, result: Tensor, known_view: bool = False) -> Tensor:
    """Mark ``result`` as a view of ``a`` when it shares its memory (``known_view``: no need to check)."""
    if known_view or (result._data.base is not None and np.shares_memory(result._data, a._data)):
        result._vc = a._version_counter()
        result._base = a if a._base is None else a._base
    return result


@tensor_method()
def view(self, *shape) -> Tensor:
    """The same data with another shape (no copy; ``-1`` infers one size)."""
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)):
        from chainrule._ops.conversion import view_as_dtype

        return view_as_dtype(self, shape[0])
    target = _infer_shape(shape_from_args(shape), self._data.size, self._data.shape)
    if not self._data.flags.c_contiguous and self._data.ndim > 1 and target != self._data.shape:
        probe = self._data.view()
        try:
            probe.shape = target
        except AttributeError:
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) instead.") from None
    return mark_view(self, Reshape.apply(self, shape=target))


@tensor_method()
def reshape(input, *shape) -> Tensor:
    """The same data with another shape (a view when possible, else a copy)."""
    target = _infer_shape(shape_from_args(shape), input._data.size, input._data.shape)
    if target == input._data.shape:
        return mark_view(input, Reshape.apply(input, shape=target))
    node = Reshape if input._data.flags.c_contiguous else UnsafeView
    return mark_view(input, node.apply(input, shape=target))


@tensor_method()
def view_as(self, other: Tensor) -> Tensor:
    return view(self, other._data.shape)


@tensor_method()
def reshape_as(self, other: Tensor) -> Tensor:
    return reshape(self, other._data.shape)


class Expand(Function):
    """``a`` broadcast to ``shape`` without copying. The gradients of ``sum`` and ``mean`` are
    one too: ``kept_shape`` first puts back the reduced dims, ``scale`` multiplies (1 / count)."""

    node_name = "ExpandBackward0"

    @staticmethod
    def forward(ctx, a, shape=(), kept_shape=None, scale=1.0):
        data = a._data
        ctx.input_shape, ctx.kept_shape, ctx.scale = data.shape, kept_shape, scale
        if kept_shape is not None:
            data = data.reshape(kept_shape)
        if scale != 1.0:
            data = data * data.dtype.type(scale)
        return broadcast_view(data, shape)

    @staticmethod
    def backward(ctx, grad):
        if ctx.kept_shape is None:
            total = grad.sum_to_size(ctx.input_shape)
        else:
            total = grad.sum_to_size(ctx.kept_shape).reshape(ctx.input_shape)
        return total * ctx.scale if ctx.scale != 1.0 else total


@tensor_method()
def expand(self, *sizes) -> Tensor:
    """Broadcast to a larger shape without copying (``-1`` keeps a size)."""
    sizes = shape_from_args(sizes)
    data = self._data
    if len(sizes) < data.ndim:
        raise RuntimeError(
            f"expand({type_name(self)}{{{list(data.shape)}}}, size={list(sizes)}): the number of "
            f"sizes provided ({len(sizes)}) must be greater or equal to the number of dimensions in "
            f"the tensor ({data.ndim})")
    lead = len(sizes) - data.ndim
    target = tuple(data.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    for i in range(data.ndim):
        if data.shape[i] != 1 and data.shape[i] != target[lead + i]:
            raise RuntimeError(
                f"The expanded size of the tensor ({target[lead + i]}) must match the existing size "
                f"({data.shape[i]}) at non-singleton dimension {lead + i}.  Target sizes: "
                f"{list(sizes)}.  Tensor sizes: {list(data.shape)}")
    if target == data.shape:
        return self if not self._requires_grad else mark_view(self, Expand.apply(self, shape=target))
    return mark_view(self, Expand.apply(self, shape=target))


@tensor_method()
def expand_as(self, other: Tensor) -> Tensor:
    return expand(self, other._data.shape)


class Transpose(Function):
    node_name = "TransposeBackward0"

    @staticmethod
    def forward(ctx, a, dim0=0, dim1=1):
        ctx.dims = (dim0, dim1)
        if a._data.ndim < 2 and dim0 == dim1:  # t() of a vector, transpose(0, -1) of a scalar
            return a._data.view()
        return np.swapaxes(a._data, dim0, dim1)

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(*ctx.dims)

    @staticmethod
    def backward_arrays(ctx, grad):
        return np.swapaxes(grad, *ctx.dims) if grad.ndim >= 2 else grad


class T(Transpose):
    node_name = "TBackward0"


@tensor_method("transpose", "swapaxes", "swapdims")
def transpose(input, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions (a view)."""
    ndim = input._data.ndim
    return mark_view(input, Transpose.apply(input, dim0=normalize_dim(dim0, ndim),
                                          dim1=normalize_dim(dim1, ndim)))


@tensor_method()
def t(input) -> Tensor:
    """Transpose of a matrix (0-D and 1-D tensors are returned as they are)."""
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input._data.ndim}D")
    if input._data.ndim < 2:
        return mark_view(input, T.apply(input, dim0=0, dim1=0), True)
    return mark_view(input, T.apply(input, dim0=0, dim1=1))


Tensor.T = property(lambda self: permute(self, tuple(reversed(range(self._data.ndim)))))
Tensor.mT = property(lambda self: transpose(self, -2, -1))


class Permute(Function):
    node_name = "PermuteBackward0"

    @staticmethod
    def forward(ctx, a, dims=()):
        ctx.dims = dims
        return np.transpose(a._data, dims)

    @staticmethod
    def backward(ctx, grad):
        return grad.permute(tuple(np.argsort(ctx.dims)))


@tensor_method()
def permute(input, *dims) -> Tensor:
    """Reorder the dimensions (a view)."""
    ndim = input._data.ndim
    dims = tuple(normalize_dim(d, ndim) for d in shape_from_args(dims))
    if sorted(dims) != list(range(ndim)):
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {ndim} is not equal "
            f"to len(dims) = {len(dims)}")
    return mark_view(input, Permute.apply(input, dims=dims))


class Unsqueeze(Function):
    node_name = "UnsqueezeBackward0"

    @staticmethod
    def forward(ctx, a, dim=0):
        ctx.dim = dim
        return np.expand_dims(a._data, dim)

    @staticmethod
    def backward(ctx, grad):
        return grad.squeeze(ctx.dim)


@tensor_method()
def unsqueeze(input, dim: int) -> Tensor:
    """Insert a dimension of size 1 at ``dim`` (a view)."""
    return mark_view(input, Unsqueeze.apply(input, dim=normalize_dim(dim, input._data.ndim + 1)))


class Squeeze(Function):
    node_name = "SqueezeBackward0"

    @staticmethod
    def forward(ctx, a, dims=None):
        ctx.input_shape = a._data.shape
        return np.squeeze(a._data, axis=dims)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.input_shape)


class SqueezeDim(Squeeze):
    node_name = "SqueezeBackward1"


class SqueezeDims(Squeeze):
    node_name = "SqueezeBackward2"


@tensor_method()
def squeeze(input, dim=None) -> Tensor:
    """Remove dimensions of size 1 (all of them, or those in ``dim`` that have size 1)."""
    shape = input._data.shape
    if dim is None:
        return mark_view(input, Squeeze.apply(input))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    node = SqueezeDim if isinstance(dim, int) else SqueezeDims
    dims = tuple(d for d in (normalize_dim(d, len(shape)) for d in dims) if shape and shape[d] == 1)
    return mark_view(input, node.apply(input, dims=dims))


@tensor_method()
def flatten(input, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` into one."""
    shape = input._data.shape
    if not shape:
        return reshape(input, 1)
    start, end = normalize_dim(start_dim, len(shape)), normalize_dim(end_dim, len(shape))
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:
        return input
    return reshape(input, shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:])


@tensor_method()
def contiguous(self, memory_format=None) -> Tensor:
    """A tensor with C-contiguous memory (``self`` when it already is)."""
    if self._data.flags.c_contiguous:
        return self
    from chainrule._ops.conversion import clone

    return clone(self)




@tensor_method()
def unflatten(input, dim: int, sizes) -> Tensor:
    """Split dimension ``dim`` into ``sizes`` (one of which may be ``-1``)."""
    shape = input._data.shape
    dim = normalize_dim(dim, len(shape))
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    try:
        inner = _infer_shape(sizes, shape[dim], (shape[dim],))
    except RuntimeError as error:
        if str(error).startswith("only one"):
            raise
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
            f"({shape[dim]}) in the input tensor") from None
    return view(input, shape[:dim] + inner + shape[dim + 1:])


@tensor_method()
def movedim(input, source, destination) -> Tensor:
    """Move the dimensions ``source`` to the positions ``destination`` (a view)."""
    ndim = input._data.ndim
    source = [source] if isinstance(source, int) else list(source)
    destination = [destination] if isinstance(destination, int) else list(destination)
    if len(source) != len(destination):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({source} dims) should contain "
            f"the same number of dims as destination ({destination} dims)")
    return mark_view(input, Permute.apply(input, dims=_moved_order(ndim, source, destination)))


def _moved_order(ndim: int, source: list, destination: list) -> tuple:
    source = [normalize_dim(d, ndim) for d in source]
    destination = [normalize_dim(d, ndim) for d in destination]
    order = [None] * ndim
    for s, d in zip(source, destination, strict=True):
        order[d] = s
    rest = iter(d for d in range(ndim) if d not in source)
    return tuple(next(rest) if o is None else o for o in order)


moveaxis = Tensor.moveaxis = movedim
swapaxes = swapdims = transpose


@tensor_method()
def resize_(self, *sizes) -> Tensor:
    """Change the shape in place, keeping the values in memory order (data only, no autograd)."""
    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    shape = shape_from_args(sizes)
    numel = math.prod(shape)
    flat = self._data.reshape(-1)
    if numel <= flat.size:
        data = flat[:numel].reshape(shape)
    else:
        data = np.zeros(numel, dtype=flat.dtype)
        data[:flat.size] = flat
        data = data.reshape(shape)
    self._data = data
    self._bump_version()
    return self


@tensor_method()
def resize_as_(self, other: Tensor) -> Tensor:
    return resize_(self, other._data.shape)


class Cat(Function):
    node_name = "CatBackward0"

    @staticmethod
    def forward(ctx, *tensors, dim=0, dtype=None):
        result = np.concatenate([t._data for t in tensors], axis=dim, dtype=dtype)
        ctx.dim = dim
        ctx.sizes = [t._data.shape[dim] if t._data.ndim else 0 for t in tensors]
        return result

    @staticmethod
    def backward(ctx, grad):
        return tuple(grad.split(ctx.sizes, ctx.dim))

    @staticmethod
    def backward_arrays(ctx, grad):
        return _pieces(grad, ctx.sizes, ctx.dim)


def _pieces(data: np.ndarray, sizes, dim: int) -> tuple:
    """Consecutive views of ``data`` along ``dim``, of the given sizes."""
    lead = (slice(None),) * dim
    pieces, start = [], 0
    for size in sizes:
        pieces.append(data[lead + (slice(start, start + size),)])
        start += size
    return tuple(pieces)


_LEGACY_EMPTY = (0,)  # PyTorch still accepts legacy empty 1-D tensors of this shape in ``cat``


def _castable_for_cat(result_dtype: np.dtype, out_dtype: np.dtype) -> None:
    """``cat``'s and ``stack``'s ``out=`` dtype error (both name ``torch.cat``)."""
    if not np.can_cast(result_dtype, out_dtype, "same_kind"):
        raise TypeError("torch.cat(): input types can't be cast to the desired output type "
                        f"{type_label(out_dtype)}")


def _joined_out(result: Tensor, out: Tensor | None, name: str) -> Tensor:
    return maybe_out(result, out, name, check_dtype=_castable_for_cat)


@tensor_method()
def cat(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Join tensors along an existing dimension.

    >>> import chainrule as torch
    >>> torch.cat([torch.zeros(1, 2), torch.ones(1, 2)]).shape
    torch.Size([2, 2])
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    shapes = _shapes_of(tensors)
    dtype = _joined_dtype(tensors)
    kept = ([t for t, shape in zip(tensors, shapes) if shape != _LEGACY_EMPTY]
            if _LEGACY_EMPTY in shapes else tensors)
    if not kept:
        return _joined_out(Cat.apply(*tensors, dim=0, dtype=dtype), out, "cat")
    reference = kept[0]._data.shape
    if not reference:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    dim = normalize_dim(dim, len(reference))
    try:
        result = Cat.apply(*kept, dim=dim, dtype=dtype)
    except ValueError:  # NumPy found the shapes mismatched: word PyTorch's error
        _check_cat_shapes(reference, shapes, dim)
        raise
    return result if out is None else _joined_out(result, out, "cat")


def _shapes_of(tensors: list) -> list:
    try:
        return [t._data.shape for t in tensors]
    except AttributeError:
        position = next(i for i, t in enumerate(tensors) if not isinstance(t, Tensor))
        raise TypeError(f"expected Tensor as element {position} in argument 0, but got "
                        f"{_python_type_name(tensors[position])}") from None


def _python_type_name(value) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _joined_dtype(tensors: list) -> np.dtype:
    """The result dtype of ``cat``/``stack``: the common one, else PyTorch's promotion."""
    dtype = tensors[0]._data.dtype
    for t in tensors:
        if t._data.dtype != dtype:
            return result_type(*tensors).numpy
    return dtype


def _check_cat_shapes(reference: tuple, shapes: list, dim: int) -> None:
    """Raise PyTorch's error for the first tensor whose shape cannot join ``reference``'s."""
    outside = (reference[:dim], reference[dim + 1:])
    for position, shape in enumerate(shapes):
        if shape == _LEGACY_EMPTY:
            continue
        if not shape:
            raise RuntimeError(
                f"zero-dimensional tensor (at position {position}) cannot be concatenated")
        if len(shape) != len(reference) or (shape[:dim], shape[dim + 1:]) != outside:
            _raise_cat_mismatch(reference, shape, dim, position)


def _raise_cat_mismatch(reference: tuple, shape: tuple, dim: int, position: int) -> None:
    if len(shape) != len(reference):
        raise RuntimeError(
            f"Tensors must have same number of dimensions: got {len(reference)} and {len(shape)}")
    for d, (expected, got) in enumerate(zip(reference, shape, strict=True)):
        if d != dim and expected != got:
            raise RuntimeError(
                f"Sizes of tensors must match except in dimension {dim}. Expected size "
                f"{expected} but got size {got} for tensor number {position} in the list.")


concat = concatenate = cat


class Stack(Function):
    node_name = "StackBackward0"

    @staticmethod
    def forward(ctx, *tensors, dim=0, dtype=None):
        ctx.dim = dim
        return np.stack([t._data for t in tensors], axis=dim, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.unbind(ctx.dim)


def stack(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Join tensors of the same shape along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    reference = tensors[0]._data.shape
    for position, t in enumerate(tensors):
        if t._data.shape != reference:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(reference)} at entry 0 "
                f"and {list(t._data.shape)} at entry {position}")
    dim = normalize_dim(dim, len(reference) + 1)
    return _joined_out(Stack.apply(*tensors, dim=dim, dtype=result_type(*tensors).numpy), out,
                       "stack")


def hstack(tensors) -> Tensor:
    tensors = [t if t._data.ndim else t.reshape(1) for t in tensors]
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    return cat([t if t._data.ndim >= 2 else t.reshape(1, -1) for t in tensors], 0)


row_stack = vstack


class Split(Function):
    node_name = "SplitBackward0"

    @staticmethod
    def forward(ctx, a, sizes=(), dim=0):
        ctx.dim = dim
        return _pieces(a._data, sizes, dim)

    @staticmethod
    def backward(ctx, *grads):
        return cat(grads, ctx.dim)

    @staticmethod
    def backward_arrays(ctx, *grads):
        joined = _adjacent_parts(grads, ctx.dim)
        return joined if joined is not None else np.concatenate(grads, axis=ctx.dim)


def _adjacent_parts(parts: tuple, dim: int) -> np.ndarray | None:
    """``parts`` as one array without a copy, if they lie one after another along ``dim`` in one
    array's memory (as the gradients of query, key and value split off one product can); else
    ``None``."""
    first = parts[0]
    if first.base is None or len(parts) < 2:
        return None
    strides, address = first.strides, first.ctypes.data
    for part in parts:
        if (part.base is not first.base or part.strides != strides or part.ctypes.data != address
                or part.shape[:dim] + part.shape[dim + 1:] != first.shape[:dim] + first.shape[dim + 1:]):
            return None
        address += part.shape[dim] * strides[dim]
    shape = first.shape[:dim] + (sum(part.shape[dim] for part in parts),) + first.shape[dim + 1:]
    return np.lib.stride_tricks.as_strided(first, shape, strides, writeable=False)


class SplitWithSizes(Split):
    node_name = "SplitWithSizesBackward0"


def _split_views(input: Tensor, node: type[Split], sizes: list, dim: int) -> tuple:
    return tuple(mark_view(input, part, True) for part in node.apply(input, sizes=tuple(sizes), dim=dim))


@tensor_method()
def split(tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Cut into pieces of ``split_size`` (the last may be smaller) or of the listed sizes (views)."""
    if not tensor._data.ndim:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    dim = normalize_dim(dim, tensor._data.ndim)
    length = tensor._data.shape[dim]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
        if size == 0 and length:
            raise RuntimeError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of {length}")
        count = max(-(-length // size), 1) if size else 1
        sizes = [size] * (count - 1) + [length - size * (count - 1)]
        return _split_views(tensor, Split, sizes, dim)
    sizes = [int(s) for s in split_size_or_sections]
    if sum(sizes) != length or any(s < 0 for s in sizes):
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {length} (input tensor's size at "
            f"dimension {dim}), but got split_sizes={sizes}")
    return _split_views(tensor, SplitWithSizes, sizes, dim)


@tensor_method()
def chunk(input, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of equal size (the last may be smaller, or fewer pieces)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    length = input.size(dim)
    return split(input, max(-(-length // chunks), 1) if length else 0, dim)


class Unbind(Function):
    node_name = "UnbindBackward0"

    @staticmethod
    def forward(ctx, a, dim=0):
        ctx.dim = dim
        data = a._data
        return tuple(data[(slice(None),) * dim + (i,)] for i in range(data.shape[dim]))

    @staticmethod
    def backward(ctx, *grads):
        return stack(grads, ctx.dim)


@tensor_method()
def unbind(input, dim: int = 0) -> tuple:
    """The slices along ``dim``, as a tuple of views."""
    if not input._data.ndim:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    dim = normalize_dim(dim, input._data.ndim)
    if input._data.shape[dim] == 0:
        return ()
    return tuple(mark_view(input, part, True) for part in Unbind.apply(input, dim=dim))


@tensor_method()
def narrow(input, dim: int, start: int, length: int) -> Tensor:
    """The slice ``start:start + length`` along ``dim`` (a view)."""
    if not input._data.ndim:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    dim = normalize_dim(dim, input._data.ndim)
    size = input._data.shape[dim]
    start = int(start)
    if not -size <= start <= size:
        raise IndexError(
            f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    start %= size if size else 1
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return input[(slice(None),) * dim + (slice(start, start + length),)]


class Flip(Function):
    node_name = "FlipBackward0"

    @staticmethod
    def forward(ctx, a, dims=()):
        ctx.dims = dims
        return np.array(np.flip(a._data, dims))

    @staticmethod
    def backward(ctx, grad):
        return grad.flip(ctx.dims)


@tensor_method()
def flip(input, *dims) -> Tensor:
    """Reverse the order of elements along ``dims`` (a copy, as in PyTorch)."""
    ndim = input._data.ndim
    dims = tuple(normalize_dim(d, ndim) for d in shape_from_args(dims))
    return Flip.apply(input, dims=dims if ndim else ())


@tensor_method()
def fliplr(input) -> Tensor:
    return flip(input, 1)


@tensor_method()
def flipud(input) -> Tensor:
    return flip(input, 0)


class Roll(Function):
    node_name = "RollBackward0"

    @staticmethod
    def forward(ctx, a, shifts=(), dims=None):
        ctx.shifts, ctx.dims = shifts, dims
        return np.roll(a._data, shifts, axis=dims)

    @staticmethod
    def backward(ctx, grad):
        return Roll.apply(grad, shifts=tuple(-s for s in ctx.shifts), dims=ctx.dims)


@tensor_method()
def roll(input, shifts, dims=None) -> Tensor:
    """Rotate elements along ``dims`` by ``shifts`` (over the flattened tensor without ``dims``)."""
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if dims is not None:
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        if len(dims) != len(shifts):
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
        dims = tuple(normalize_dim(d, input._data.ndim) for d in dims)
    elif len(shifts) != 1:
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
    return Roll.apply(input, shifts=shifts, dims=dims)


class Repeat(Function):
    node_name = "RepeatBackward0"

    @staticmethod
    def forward(ctx, a, repeats=()):
        ctx.input_shape = a._data.shape
        ctx.repeats = repeats
        return np.tile(a._data, repeats)

    @staticmethod
    def backward(ctx, grad):
        repeats = ctx.repeats
        sizes = (1,) * (len(repeats) - len(ctx.input_shape)) + ctx.input_shape
        interleaved = tuple(n for pair in zip(repeats, sizes, strict=True) for n in pair)
        if not interleaved:
            return grad
        summed = grad.reshape(interleaved).sum(tuple(range(0, len(interleaved), 2)))
        return summed.reshape(ctx.input_shape)


@tensor_method()
def repeat(self, *sizes) -> Tensor:
    """Tile the tensor ``sizes[i]`` times along each dimension (a copy)."""
    repeats = shape_from_args(sizes)
    if len(repeats) < self._data.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    return Repeat.apply(self, repeats=repeats)


@tensor_method()
def tile(input, *dims) -> Tensor:
    """Like ``repeat``, but missing leading ``dims`` count as 1."""
    dims = shape_from_args(dims)
    return repeat(input, (1,) * (input._data.ndim - len(dims)) + dims)


__all__ = ["make_view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "transpose",
           "swapaxes", "swapdims", "t", "permute", "movedim", "moveaxis", "cat", "concat",
           "concatenate", "stack", "hstack", "vstack", "row_stack", "split", "chunk", "unbind",
           "narrow", "flip", "fliplr", "flipud", "roll", "tile"]


# ------------------------------------------------------ in-place shape changes (t_, squeeze_ ...)
def _restrided_in_place(self: Tensor, view: Tensor, op_name: str) -> Tensor:
    """``self`` takes ``view``'s shape and strides (same memory) and, if recorded, its history."""
    from chainrule._ops.inplace import check_inplace_allowed

    if view.grad_fn is not None:
        check_inplace_allowed(self, op_name)
        self.grad_fn, self._output_nr = view.grad_fn, view._output_nr
    self._data = view._data
    self._bump_version()
    return self


@tensor_method()
def t_(self) -> Tensor:
    """In-place ``t()``: ``self`` becomes its transpose (a 2-D tensor's strides swap)."""
    return _restrided_in_place(self, t(self), "t_")


@tensor_method()
def transpose_(self, dim0: int, dim1: int) -> Tensor:
    return _restrided_in_place(self, transpose(self, dim0, dim1), "transpose_")


@tensor_method()
def squeeze_(self, dim=None) -> Tensor:
    return _restrided_in_place(self, squeeze(self, dim), "squeeze_")


@tensor_method()
def unsqueeze_(self, dim: int) -> Tensor:
    return _restrided_in_place(self, unsqueeze(self, dim), "unsqueeze_")
