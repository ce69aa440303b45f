"""``Parameter``: a tensor that a ``Module`` registers as one of its learnable weights.

Assigning a ``Parameter`` to a module attribute (``self.weight = Parameter(...)``)
is what makes it appear in ``module.parameters()`` and ``state_dict()``; a
``Buffer`` does the same for state that is not learned (running statistics).
``UninitializedParameter`` and ``UninitializedBuffer`` are the placeholders of lazy modules
until the first input tells them their shape.
"""

from __future__ import annotations

from chainrule._tensor import Tensor, _blank_tensor

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"]


def _shared_data(data: Tensor | None):
    if data is None:
        from chainrule._creation import empty

        data = empty(0)
    if not isinstance(data, Tensor):
        raise TypeError(f"Parameter data must be a Tensor, got {type(data).__name__}")
    return data._data


class Parameter(Tensor):
    """A leaf tensor, sharing ``data``'s memory, that modules register as learnable.

    >>> import chainrule as torch
    >>> torch.nn.Parameter(torch.ones(2))
    Parameter containing:
    tensor([1., 1.], requires_grad=True)
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        param = _blank_tensor(cls, _shared_data(data))
        if isinstance(data, Tensor):
            # Sharing the version counter keeps in-place checks correct through either name.
            param._vc = data._version_counter()
        param.requires_grad = requires_grad
        return param

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (type(self), self._data, self._requires_grad))


def _rebuild_parameter(cls, data, requires_grad):
    param = _blank_tensor(cls, data)
    param._requires_grad = requires_grad
    return param


class Buffer(Tensor):
    """Marks a tensor to be registered as a module buffer when assigned as an attribute.

    The module stores a plain ``Tensor``; ``persistent=False`` keeps it out of ``state_dict``.
    """

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True) -> Buffer:
        buffer = _blank_tensor(cls, _shared_data(data))
        if isinstance(data, Tensor):
            buffer._requires_grad = data._requires_grad and data.grad_fn is None
        buffer.persistent = persistent
        return buffer


class _UninitializedMixin:
    """``materialize(shape)`` gives the placeholder its storage and turns it into a
    ``cls_to_become``; until then it holds no elements."""

    __slots__ = ()
    cls_to_become: type

    def materialize(self, shape, device=None, dtype=None) -> None:
        import numpy as np

        from chainrule._dtype import to_dtype

        numpy_dtype = self._data.dtype if dtype is None else to_dtype(dtype).numpy
        self._data = np.empty(tuple(shape), numpy_dtype)
        self.__class__ = self.cls_to_become

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    __str__ = __repr__


class UninitializedParameter(_UninitializedMixin, Parameter):
    """A parameter of a lazy module whose shape is not known yet.

    >>> from chainrule import nn
    >>> nn.LazyLinear(3).weight
    <UninitializedParameter>
    """

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None) -> UninitializedParameter:
        from chainrule._creation import empty

        return super().__new__(cls, empty(0, dtype=dtype), requires_grad)


class UninitializedBuffer(_UninitializedMixin, Tensor):
    """A buffer of a lazy module (a running statistic) whose shape is not known yet."""

    __slots__ = ()
    cls_to_become = Tensor

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None) -> UninitializedBuffer:
        from chainrule._creation import empty

        buffer = _blank_tensor(cls, empty(0, dtype=dtype)._data)
        buffer._requires_grad = requires_grad
        return buffer
