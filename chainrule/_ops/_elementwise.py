"""The one way to write an elementwise function: a ``Function`` that names its NumPy ``ufunc``
and writes its ``backward``, from a base that says what forward saves.

``_SavesInput`` when the derivative is simplest in the input (``log``, ``sin``), ``_SavesResult``
when it is simplest in the result (``exp``, ``tanh``). Integer and bool inputs compute in the
default float dtype. A ufunc that meets zeros or the outside of its domain (``log``, ``sqrt``)
is wrapped in ``quietly``: PyTorch gives inf or NaN there without a warning.
``_PiecewiseConstant`` is for the rounding functions, whose derivative is zero, and
``_SavesOperands`` for functions of two broadcast tensors (``maximum``, ``fmod``), and
``_SavesOperandsAndResult`` for those whose derivative reads the result too (``pow``, ``hypot``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from chainrule._ops._util import binary_arrays, broadcasting, float_array
from chainrule.autograd.function import Function


def quietly(ufunc) -> staticmethod:
    """``ufunc`` without NumPy's divide-by-zero and invalid-value warnings, as a class attribute
    (a context manager per call costs microseconds, so only these ufuncs pay for it)."""

    def quiet(x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return ufunc(x)

    quiet.__name__ = getattr(ufunc, "__name__", "quiet")
    return staticmethod(quiet)


class _SavesInput(Function):
    """``ufunc`` of each element; ``backward`` reads the input from ``ctx.saved_tensors``."""

    ufunc: ClassVar = None

    @classmethod
    def forward(cls, ctx, a):
        ctx.save_for_backward(a)
        return cls.ufunc(float_array(a))


class _SavesResult(Function):
    """``ufunc`` of each element; ``backward`` reads the result from ``ctx.saved_tensors``."""

    ufunc: ClassVar = None

    @classmethod
    def forward(cls, ctx, a):
        result = cls.ufunc(float_array(a))
        ctx.save_for_backward(result)
        return result


class _PiecewiseConstant(Function):
    """Rounding to integers with ``ufunc`` (integer inputs are kept): the derivative is zero
    wherever it exists, and PyTorch sends back zeros."""

    ufunc: ClassVar = None

    @classmethod
    def forward(cls, ctx, a):
        data = a._data
        return data.copy() if data.dtype.kind in "iub" else cls.ufunc(data)

    @staticmethod
    def backward(ctx, grad):
        return grad * 0


class _SavesOperands(Function):
    """``ufunc`` of two operands, promoted to PyTorch's result dtype and broadcast; ``backward``
    reads both from ``ctx.saved_tensors``."""

    ufunc: ClassVar = None

    @classmethod
    def forward(cls, ctx, a, b):
        x, y = binary_arrays(a, b)
        ctx.save_for_backward(a, b)
        return broadcasting(cls.ufunc, x, y)


class _SavesOperandsAndResult(Function):
    """``ufunc`` of two broadcast operands, made arrays by ``operands(a, b)``; ``backward``
    reads both operands and the result from ``ctx.saved_tensors``."""

    ufunc: ClassVar = None
    operands: ClassVar = staticmethod(binary_arrays)

    @classmethod
    def forward(cls, ctx, a, b):
        x, y = cls.operands(a, b)
        result = broadcasting(cls.ufunc, x, y)
        ctx.save_for_backward(a, b, result)
        return result
