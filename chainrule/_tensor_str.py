"""Printing tensors in PyTorch's format (placeholder until the full formatter lands)."""

from __future__ import annotations

import numpy as np

_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def type_name(t) -> str:
    """``'torch.FloatTensor'`` and friends, as ``Tensor.type()`` returns."""
    return "torch." + _TYPE_NAMES[np.dtype(t._data.dtype).name]


def tensor_repr(t) -> str:
    body = np.array2string(t._data, separator=", ", precision=4, prefix="tensor(")
    suffix = []
    if t.dtype.name not in ("float32", "int64", "bool"):
        suffix.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        suffix.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        suffix.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + s for s in suffix) + ")"
