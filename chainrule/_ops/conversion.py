"""Type and copy conversions: ``to``, ``float``, ``long``, ``clone``, ``type_as``, ``copy_``, ..."""

from __future__ import annotations

import numpy as np

from chainrule._device import check_device, device
from chainrule._dtype import dtype as dtype_class
from chainrule._dtype import to_dtype
from chainrule._ops._util import Tensor, broadcast_error, tensor_method, torch_namespaced
from chainrule.autograd.function import Function

__all__ = ["clone"]


class ToCopy(Function):
    node_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, a, dtype=None):
        ctx.input_dtype = a._data.dtype
        return a._data.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.to(ctx.input_dtype)


class Clone(Function):
    node_name = "CloneBackward0"

    @staticmethod
    def forward(ctx, a):
        return a._data.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad

    @staticmethod
    def backward_arrays(ctx, grad):
        return grad


def parse_to_args(args, kwargs):
    """The dtype ``Tensor.to(...)`` / ``Module.to(...)`` converts to (None: keep), from their
    call forms; a device other than the CPU raises."""
    target_dtype = kwargs.get("dtype")
    for arg in args:
        if isinstance(arg, Tensor):
            target_dtype = arg.dtype
        elif isinstance(arg, (str, device)):
            check_device(arg)
        elif arg is not None:
            target_dtype = arg
    if "device" in kwargs:
        check_device(kwargs["device"])
    return None if target_dtype is None else to_dtype(target_dtype)


@tensor_method()
def to(self, *args, **kwargs) -> Tensor:
    """Convert dtype (and accept ``device='cpu'``): ``t.to(torch.float64)``, ``t.to('cpu')``."""
    target = parse_to_args(args, kwargs)
    copy = kwargs.get("copy", False)
    if target is None or target.numpy == self._data.dtype:
        return clone(self) if copy else self
    return ToCopy.apply(self, dtype=target.numpy)


def _converter(target: dtype_class):
    def convert(self, memory_format=None) -> Tensor:
        return to(self, target)

    convert.__doc__ = f"``self.to({target!r})``"
    return convert


for _name, _target in (("float", "float32"), ("double", "float64"), ("half", "float16"),
                       ("bfloat16", "bfloat16"),
                       ("long", "int64"), ("int", "int32"), ("short", "int16"), ("char", "int8"),
                       ("byte", "uint8"), ("bool", "bool")):
    setattr(Tensor, _name, _converter(to_dtype(_target)))


@tensor_method()
def type_as(self, other: Tensor) -> Tensor:
    return to(self, other.dtype)


@tensor_method()
def type(self, dtype=None, non_blocking=False, **kwargs):
    """With no argument, the type name (``'torch.FloatTensor'``); else convert."""
    if dtype is None:
        from chainrule._tensor_str import type_name

        return type_name(self)
    from chainrule._tensor_types import legacy_type_dtype

    return to(self, legacy_type_dtype(dtype) or to_dtype(dtype))


@tensor_method()
def clone(input, *, memory_format=None) -> Tensor:
    """A copy with its own memory; gradients flow back to ``input``."""
    return Clone.apply(input)


def view_as_dtype(self, target) -> Tensor:
    return _reinterpret(self, to_dtype(target))


def _reinterpret(self: Tensor, target: dtype_class) -> Tensor:
    from chainrule._tensor import make_view

    return make_view(self, self._data.view(target.numpy))


@tensor_method()
def copy_(self, src, non_blocking=False) -> Tensor:
    """Copy ``src`` (broadcast, cast) into this tensor's memory."""
    from chainrule._ops.inplace import apply_inplace

    source = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
    return apply_inplace(self, _copy_from, (source,), None, "copy_")


class CopyFrom(Function):
    node_name = "CopyBackwards"

    @staticmethod
    def forward(ctx, a, src):
        ctx.src_dtype = src._data.dtype
        try:
            return np.broadcast_to(src._data, a._data.shape).astype(a._data.dtype)
        except ValueError as error:
            conflict = broadcast_error(error, a, src)
            if conflict is error:  # the shapes broadcast, but to more than the target holds
                conflict = RuntimeError(
                    f"output with shape {list(a._data.shape)} doesn't match the broadcast shape "
                    f"{list(np.broadcast_shapes(a._data.shape, src._data.shape))}")
            raise conflict from None

    @staticmethod
    def backward(ctx, grad):
        return grad * 0, grad.to(ctx.src_dtype)


torch_namespaced(CopyFrom)


def _copy_from(self: Tensor, src: Tensor) -> Tensor:
    return CopyFrom.apply(self, src)

