"""A linear map of one tensor, with one non-tensor setting, whose gradient is its adjoint.

For a linear ``f``, the chain rule sends ``grad`` back as ``f.T @ grad``: the adjoint map, which
is itself an op (``im2col``'s is ``col2im``, ``pixel_shuffle``'s is ``pixel_unshuffle``, and
ReLU's gradient mask is its own). Recording the adjoint as an op keeps the backward
differentiable. A subclass names its node and ``array_map(array, setting)``; its ``adjoint``
class is set once both exist.
"""

from __future__ import annotations

from typing import ClassVar

from chainrule.autograd.function import Function


class LinearMap(Function):
    array_map: ClassVar = None
    adjoint: ClassVar[type[LinearMap]]

    @classmethod
    def forward(cls, ctx, x, setting):
        ctx.setting = setting
        return cls.array_map(x._data, setting)

    @classmethod
    def backward(cls, ctx, grad):
        return cls.adjoint.apply(grad, ctx.setting), None
