"""The legacy typed constructors: ``torch.FloatTensor``, ``torch.LongTensor``, ...

Old tutorials still write ``torch.LongTensor([1, 2])``, ``x.type(torch.FloatTensor)`` and
``isinstance(x, torch.FloatTensor)``. Each name is a class whose call makes a plain
``Tensor`` of its dtype and whose ``isinstance`` checks that dtype, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from chainrule._dtype import dtype, to_dtype
from chainrule._ops._util import shape_from_args
from chainrule._size import Size
from chainrule._tensor import Tensor, make_tensor

__all__ = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
           "CharTensor", "ByteTensor", "BoolTensor", "legacy_type_dtype"]


class _LegacyTensorType(type):
    dtype: dtype

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __call__(cls, *args) -> Tensor:
        """``FloatTensor(2, 3)`` is uninitialised, ``FloatTensor([1, 2])`` copies the data."""
        if not args:
            return make_tensor(np.empty((0,), cls.dtype.numpy))
        if len(args) == 1 and not isinstance(args[0], (int, np.integer, Size)):
            data = args[0]
            if isinstance(data, Tensor):
                if data.dtype != cls.dtype:
                    raise TypeError(f"expected {cls.dtype} (got {data.dtype})")
                return data
            return make_tensor(np.array(data, dtype=cls.dtype.numpy))
        return make_tensor(np.empty(shape_from_args(args), cls.dtype.numpy))

    def __repr__(cls) -> str:
        return f"<class 'torch.{cls.__name__}'>"


def _legacy(name: str, dtype_name: str) -> type:
    return _LegacyTensorType(name, (), {"dtype": to_dtype(dtype_name), "__module__": "torch"})


FloatTensor = _legacy("FloatTensor", "float32")
DoubleTensor = _legacy("DoubleTensor", "float64")
HalfTensor = _legacy("HalfTensor", "float16")
LongTensor = _legacy("LongTensor", "int64")
IntTensor = _legacy("IntTensor", "int32")
ShortTensor = _legacy("ShortTensor", "int16")
CharTensor = _legacy("CharTensor", "int8")
ByteTensor = _legacy("ByteTensor", "uint8")
BoolTensor = _legacy("BoolTensor", "bool")

_BY_NAME = {t.__name__: t for t in (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor,
                                     ShortTensor, CharTensor, ByteTensor, BoolTensor)}


def legacy_type_dtype(value) -> dtype | None:
    """The dtype named by ``torch.FloatTensor`` or ``'torch.FloatTensor'``; None for anything else."""
    if isinstance(value, _LegacyTensorType):
        return value.dtype
    if isinstance(value, str) and value.rsplit(".", 1)[-1] in _BY_NAME:
        return _BY_NAME[value.rsplit(".", 1)[-1]].dtype
    return None
