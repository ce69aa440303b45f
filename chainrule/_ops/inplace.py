"""In-place ops (``add_``, ``mul_``, ``x[i] = v``, ...) and ``out=``: the out-of-place op,
written back.

Every in-place op runs its out-of-place twin and copies the result into the
tensor's memory, so each gradient formula exists once. When autograd records,
the tensor's history is rebased onto the new node (as in PyTorch) and the op
reads a snapshot of the old values, since the write would otherwise change
what its backward saved. The version counter is bumped, so any *other*
backward that saved this tensor fails loudly instead of computing garbage.

An in-place op on a *view* changes its base too, so the base's history is
rebased as well, onto a ``CopySlices`` node that writes the op's result into
the viewed region (PyTorch's scheme); the view then reads its region back
from the new base (``AsStridedBackward0``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from chainrule._float_errors import ignore_float_errors, restore_float_errors
from chainrule._ops._util import CPP_TYPE_NAMES, tensor_method, type_label
from chainrule._tensor import Tensor, make_tensor
from chainrule.autograd import function
from chainrule.autograd.grad_mode import state


def records_inplace(self: Tensor, args) -> bool:
    """Whether autograd records an in-place op on ``self`` with these arguments."""
    if not state.enabled:
        return False
    if self._requires_grad:
        return True
    for a in args:  # a loop, not any(...): a generator costs twice as much on every in-place op
        if isinstance(a, Tensor) and a._requires_grad:
            return True
    return False


def check_inplace_allowed(self: Tensor, op_name: str) -> None:
    """The errors PyTorch raises for in-place changes autograd cannot follow."""
    if self.grad_fn is None and self._requires_grad:
        raise RuntimeError(
            f"a leaf Variable that requires grad is being used in an in-place operation ({op_name}).")
    base = self._base
    if base is not None and base._requires_grad and base.grad_fn is None:
        raise RuntimeError(
            f"a view of a leaf Variable that requires grad is being used in an in-place "
            f"operation ({op_name}).")


def write_result(self: Tensor, data: np.ndarray, op_name: str) -> None:
    """Copy ``data`` into ``self``'s memory with PyTorch's shape and dtype checks."""
    target = self._data
    if data.shape != target.shape:
        try:
            broadcast = np.broadcast_shapes(data.shape, target.shape)
        except ValueError:
            broadcast = data.shape
        if broadcast != target.shape:
            raise RuntimeError(
                f"output with shape {list(target.shape)} doesn't match the broadcast shape "
                f"{list(broadcast)}")
    if data.dtype != target.dtype and not np.can_cast(data.dtype, target.dtype, "same_kind"):
        raise RuntimeError(
            f"result type {type_label(data.dtype)} can't be cast to the desired output type "
            f"{type_label(target.dtype)}")
    if not target.flags.writeable:
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location. Please clone() the tensor before performing the operation.")
    np.copyto(target, data, casting="unsafe")
    self._bump_version()


def maybe_out(result: Tensor, out: Tensor | None, name: str = "", *,
              check_dtype: Callable[[np.dtype, np.dtype], None] | None = None) -> Tensor:
    """``result``, or ``out`` overwritten with it (resized if its shape differs, as in PyTorch):
    every op's ``out=`` goes through here. ``check_dtype(result_dtype, out_dtype)`` raises the
    op's own error for an ``out`` of the wrong dtype (default: any dtype the result casts to)."""
    if out is None:
        return result
    if result._requires_grad or (state.enabled and out._requires_grad):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    if check_dtype is not None:
        check_dtype(result._data.dtype, out._data.dtype)
    if out._data.shape != result._data.shape:
        out._data = np.empty_like(result._data, dtype=out._data.dtype)
    write_result(out, result._data, "out=")
    return out


def same_dtype(result_dtype: np.dtype, out_dtype: np.dtype) -> None:
    """``torch.linalg``'s rule for ``out=``: exactly the result's dtype."""
    if out_dtype != result_dtype:
        raise RuntimeError(f"Expected out tensor to have dtype {CPP_TYPE_NAMES[result_dtype.name]}, "
                           f"but got {CPP_TYPE_NAMES[out_dtype.name]} instead")


def apply_inplace(self: Tensor, op, args: tuple = (), kwargs: dict | None = None,
                  op_name: str = "") -> Tensor:
    """Run ``op(self, *args, **kwargs)`` out of place and write the result into ``self``."""
    kwargs = kwargs or {}
    if records_inplace(self, args):
        check_inplace_allowed(self, op_name or getattr(op, "__name__", "op") + "_")
        if self._base is not None and self._data.size:
            return _apply_inplace_on_view(self, op, args, kwargs, op_name)
        snapshot = make_tensor(self._data.copy(), self._requires_grad, self.grad_fn, self._output_nr)
        result = op(snapshot, *args, **kwargs)
        write_result(self, result._data, op_name)
        if result.grad_fn is not None:
            self.grad_fn = result.grad_fn
            self._output_nr = result._output_nr
            self._requires_grad = True
        return self
    result = op(self, *args, **kwargs)
    write_result(self, result._data, op_name)
    return self


def add_in_place(self: Tensor, other, alpha) -> bool:
    """``self += alpha * other`` straight into ``self``'s memory, for the common untracked case
    (the optimizer-style ``p.data.add_(p.grad.data, alpha=-lr)``): same floating dtype and shape,
    a Python number ``alpha``. Returns False, having done nothing, when ``apply_inplace`` must run.
    The values equal ``Add``'s ``x + alpha * y`` exactly."""
    if type(other) is not Tensor or type(alpha) not in (float, int) or function.trace_hook:
        return False
    x, y = self._data, other._data
    if (x.dtype != y.dtype or x.dtype.kind != "f" or x.shape != y.shape
            or not x.flags.writeable or records_inplace(self, (other,))):
        return False
    token = ignore_float_errors()  # overflow gives inf silently, as in every op
    try:
        np.add(x, y if alpha == 1 else alpha * y, out=x)
    finally:
        restore_float_errors(token)
    self._bump_version()
    return True


def inplace_form(op: Callable, *names: str) -> Callable:
    """The in-place method ``x.<op>_(...)`` of ``op`` (an op function, or a ``Function``'s
    ``apply`` for a node of its own), attached to ``Tensor`` as ``names`` (default: op's name + _)."""
    names = names or (op.__name__ + "_",)

    def inplace(self: Tensor, *args, **kwargs) -> Tensor:
        return apply_inplace(self, op, args, kwargs, names[0])

    inplace.__name__, inplace.__qualname__ = names[0], names[0]
    inplace.__doc__ = f"In-place ``{names[0][:-1]}``."
    return tensor_method(*names)(inplace)


def _apply_inplace_on_view(self: Tensor, op, args: tuple, kwargs: dict, op_name: str) -> Tensor:
    """``op`` in place on the view ``self``: write it, then rebase the base's history and the view's."""
    from chainrule._ops.indexing import AsStrided, CopySlices

    base = self._base
    key = _region_in_base(self._data, base._data)
    if key is None:
        raise NotImplementedError(
            f"in-place {op_name} on this view is not supported by chainrule (its base's memory "
            "is not one contiguous block); apply the operation to the base, or out of place")
    snapshot = make_tensor(self._data.copy(), self._requires_grad, self.grad_fn, self._output_nr)
    result = op(snapshot, *args, **kwargs)
    write_result(self, result._data, op_name)  # writes the base's memory too, bumps the shared version
    # The base now holds its new values; CopySlices records "old base with the region replaced".
    old_base = make_tensor(base._data, base._requires_grad, base.grad_fn, base._output_nr)
    new_base = CopySlices.apply(old_base, result, key=key)
    if new_base.grad_fn is not None:
        base.grad_fn, base._output_nr, base._requires_grad = new_base.grad_fn, 0, True
        view = AsStrided.apply(base, key=key)
        self.grad_fn, self._output_nr, self._requires_grad = view.grad_fn, 0, True
    return self


def _region_in_base(view: np.ndarray, base: np.ndarray) -> tuple | None:
    """Index arrays into ``base`` of each element of ``view``, which lies in ``base``'s memory;
    None where that cannot be read off the strides (a non-contiguous or 0-d base)."""
    itemsize = base.itemsize
    if not base.ndim or not base.flags.c_contiguous or view.dtype != base.dtype:
        return None
    offset, misaligned = divmod(view.__array_interface__["data"][0] - base.__array_interface__["data"][0],
                                itemsize)
    steps = [s // itemsize for s in view.strides]
    if misaligned or any(s % itemsize for s in view.strides) or any(s < 0 for s in steps):
        return None
    last = offset + sum((n - 1) * s for n, s in zip(view.shape, steps))
    if offset < 0 or last >= base.size:
        return None
    positions = np.arange(base.size, dtype=np.int64)[offset:]
    flat = np.lib.stride_tricks.as_strided(positions, view.shape,
                                           tuple(s * positions.itemsize for s in steps))
    return np.unravel_index(flat, base.shape)
