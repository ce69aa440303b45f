"""Shape ops: views (``view``, ``transpose``, ``expand``, ...) and copies (``cat``, ``stack``, ...).

A view's gradient is the inverse rearrangement of the incoming gradient.
Views share memory and the version counter with their base, as in PyTorch.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule._ops._util import Tensor, normalize_dim, shape_from_args, tensor_method
from chainrule._tensor import make_view
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


class UnsafeView(Reshape):
    node_name = "UnsafeViewBackward0"


def _viewed(a: Tensor, result: Tensor) -> Tensor:
    """Mark ``result`` as a view of ``a`` when it shares its memory."""
    if result._data.base is not None and np.shares_memory(result._data, a._data):
        counter = a._vc
        if counter is None:
            counter = a._vc = [0]
        result._vc = counter
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
    return _viewed(self, Reshape.apply(self, shape=target))


@tensor_method()
def reshape(input, *shape) -> Tensor:
    """The same data with another shape (a view when possible, else a copy)."""
    target = _infer_shape(shape_from_args(shape), input._data.size, input._data.shape)
    if target == input._data.shape:
        return _viewed(input, Reshape.apply(input, shape=target))
    node = Reshape if input._data.flags.c_contiguous else UnsafeView
    return _viewed(input, node.apply(input, shape=target))


@tensor_method()
def view_as(self, other: Tensor) -> Tensor:
    return view(self, other._data.shape)


@tensor_method()
def reshape_as(self, other: Tensor) -> Tensor:
    return reshape(self, other._data.shape)


class Expand(Function):
    node_name = "ExpandBackward0"

    @staticmethod
    def forward(ctx, a, shape=()):
        ctx.input_shape = a._data.shape
        return np.broadcast_to(a._data, shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.sum_to_size(ctx.input_shape)


@tensor_method()
def expand(self, *sizes) -> Tensor:
    """Broadcast to a larger shape without copying (``-1`` keeps a size)."""
    sizes = shape_from_args(sizes)
    data = self._data
    if len(sizes) < data.ndim:
        raise RuntimeError(
            f"expand(torch.FloatTensor{{{list(data.shape)}}}, size={list(sizes)}): the number of "
            "sizes provided ({len(sizes)}) must be greater or equal to the number of dimensions in "
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
        return self if not self._requires_grad else _viewed(self, Expand.apply(self, shape=target))
    return _viewed(self, Expand.apply(self, shape=target))


@tensor_method()
def expand_as(self, other: Tensor) -> Tensor:
    return expand(self, other._data.shape)


class Transpose(Function):
    node_name = "TransposeBackward0"

    @staticmethod
    def forward(ctx, a, dim0=0, dim1=1):
        ctx.dims = (dim0, dim1)
        return np.swapaxes(a._data, dim0, dim1)

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(*ctx.dims)


class T(Transpose):
    node_name = "TBackward0"


@tensor_method("transpose", "swapaxes", "swapdims")
def transpose(input, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions (a view)."""
    ndim = input._data.ndim
    return _viewed(input, Transpose.apply(input, dim0=normalize_dim(dim0, ndim),
                                          dim1=normalize_dim(dim1, ndim)))


@tensor_method()
def t(input) -> Tensor:
    """Transpose of a matrix (0-D and 1-D tensors are returned as they are)."""
    if input._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input._data.ndim}D")
    if input._data.ndim < 2:
        return input
    return _viewed(input, T.apply(input, dim0=0, dim1=1))


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
    return _viewed(input, Permute.apply(input, dims=dims))


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
    return _viewed(input, Unsqueeze.apply(input, dim=normalize_dim(dim, input._data.ndim + 1)))


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


@tensor_method()
def squeeze(input, dim=None) -> Tensor:
    """Remove dimensions of size 1 (all of them, or those in ``dim`` that have size 1)."""
    shape = input._data.shape
    if dim is None:
        return _viewed(input, Squeeze.apply(input))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    dims = tuple(d for d in (normalize_dim(d, len(shape)) for d in dims) if shape and shape[d] == 1)
    return _viewed(input, SqueezeDim.apply(input, dims=dims))


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


__all__ = ["make_view"]
