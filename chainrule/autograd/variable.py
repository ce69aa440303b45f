"""``Variable``: the wrapper of PyTorch before 0.4, kept for old tutorials.

Since 0.4 every tensor is a Variable: ``Variable(t, requires_grad=True)`` is a tensor sharing
``t``'s data, detached from its history, that requires grad.

>>> import chainrule as torch
>>> from chainrule.autograd import Variable
>>> Variable(torch.ones(2), requires_grad=True)
tensor([1., 1.], requires_grad=True)
>>> isinstance(torch.ones(1), Variable)
True
"""

from __future__ import annotations

from chainrule._tensor import Tensor


class _AnyTensor(type):
    def __instancecheck__(cls, instance) -> bool:
        return isinstance(instance, Tensor)


class Variable(metaclass=_AnyTensor):
    def __new__(cls, data: Tensor | None = None, requires_grad: bool = False,
                volatile: bool = False) -> Tensor:
        from chainrule._creation import empty

        tensor = empty(0) if data is None else data.detach()
        return tensor.requires_grad_(requires_grad)
