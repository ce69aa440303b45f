"""dtypes and PyTorch's type-promotion rules.

A ``dtype`` wraps a NumPy dtype. ``bfloat16`` is one more row: its NumPy dtype comes from the
optional ``ml_dtypes`` package (``chainrule[bf16]``), loaded the first time a bfloat16 array is
made. Promotion follows PyTorch, not NumPy: an int
tensor combined with a Python float gives the default float dtype (float32),
and 0-dim tensors only decide the result when they are of a higher category
(bool < integer < floating) than the dimensioned operands.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "dtype", "float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
    "uint8", "bool_", "half", "float", "double", "short", "int", "long",
    "get_default_dtype", "set_default_dtype", "promote_types", "result_type",
    "to_dtype", "from_numpy_dtype",
]


class dtype:
    """A tensor element type, e.g. ``chainrule.float32``. Prints as PyTorch does."""

    __slots__ = ("name", "numpy", "is_floating_point", "is_signed", "itemsize", "_category",
                 "_load_numpy")

    def __init__(self, name: str, numpy_dtype: np.dtype | None, category: int, *,
                 itemsize: int = 0, load_numpy=None) -> None:
        self.name = name
        self._category = category  # 0 bool, 1 integer, 2 floating
        self.is_floating_point = category == 2
        if numpy_dtype is not None:
            self.numpy = np.dtype(numpy_dtype)
            itemsize = self.numpy.itemsize
        self._load_numpy = load_numpy  # for a dtype from an optional package: () -> NumPy dtype
        self.is_signed = category == 2 or (numpy_dtype is not None and self.numpy.kind == "i")
        self.itemsize = itemsize

    def __getattr__(self, name: str):
        # Only reached while a slot is unset: an optional dtype's ``numpy``, loaded on first use.
        if name != "numpy" or self._load_numpy is None:
            raise AttributeError(f"'torch.dtype' object has no attribute '{name}'")
        self.numpy = np.dtype(self._load_numpy())
        _register(self)
        return self.numpy

    @property
    def is_complex(self) -> bool:
        return False

    def to_real(self) -> dtype:
        return self

    def __repr__(self) -> str:
        return f"torch.{self.name}"

    def __reduce__(self):
        return self.name


bool_ = dtype("bool", np.bool_, 0)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)


def _load_bfloat16():
    from chainrule._optional import import_optional

    return import_optional("ml_dtypes", "bf16", "bfloat16 tensors").bfloat16


bfloat16 = dtype("bfloat16", None, 2, itemsize=2, load_numpy=_load_bfloat16)

half, float, double = float16, float32, float64  # noqa: A001 - PyTorch's aliases
short, int, long = int16, int32, int64  # noqa: A001

_ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
_BY_NUMPY = {d.numpy: d for d in _ALL}
_FLOATING_NUMPY = {d.numpy for d in _ALL if d.is_floating_point}
_BY_NAME = {d.name: d for d in (*_ALL, bfloat16)}
_BY_NAME.update({"float": float32, "double": float64, "half": float16, "long": int64,
                 "int": int32, "short": int16, "bool": bool_})

_default_float = float32


def _register(d: dtype) -> None:
    _BY_NUMPY[d.numpy] = d
    if d.is_floating_point:
        _FLOATING_NUMPY.add(d.numpy)


def is_floating_numpy(np_dtype: np.dtype) -> bool:
    """Whether arrays of this NumPy dtype are floating point tensors (bfloat16's NumPy kind is
    'V', so ``kind == "f"`` alone misses it)."""
    return np_dtype in _FLOATING_NUMPY


def compute_numpy(np_dtype: np.dtype) -> np.dtype:
    """The NumPy dtype an op computes in before rounding its result back to ``np_dtype``:
    float32 for bfloat16, whose ml_dtypes arithmetic would round at every step, as PyTorch's
    CPU kernels do not; ``np_dtype`` itself otherwise."""
    return _FLOAT32_NUMPY if np_dtype.kind == "V" and np_dtype in _FLOATING_NUMPY else np_dtype


def get_default_dtype() -> dtype:
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(d: dtype) -> None:
    """Set the dtype used for Python floats: a floating dtype (float32 unless changed)."""
    global _default_float
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float = d


def from_numpy_dtype(np_dtype) -> dtype:
    """The chainrule dtype of a NumPy dtype; TypeError for ones PyTorch lacks."""
    try:
        return _BY_NUMPY[np_dtype]
    except KeyError:
        pass
    try:
        return _BY_NUMPY[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(
            f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only supported types are: "
            "float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
        ) from None


def to_dtype(d) -> dtype:
    """Normalise a dtype given as a chainrule dtype, a NumPy dtype, a Python type or a name."""
    if type(d) is dtype:
        return d
    if d is builtins_float:
        return _default_float
    if d is builtins_int:
        return int64
    if d is builtins_bool:
        return bool_
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    if isinstance(d, str) and d.startswith("torch.") and d[6:] in _BY_NAME:
        return _BY_NAME[d[6:]]
    try:
        return from_numpy_dtype(np.dtype(d))
    except TypeError:
        raise TypeError(f"expected a dtype, got {d!r}") from None


import builtins as _builtins  # noqa: E402

_FLOAT32_NUMPY = np.dtype(np.float32)

builtins_float, builtins_int, builtins_bool = _builtins.float, _builtins.int, _builtins.bool

_INT_ORDER = {bool_: 0, uint8: 1, int8: 1, int16: 2, int32: 3, int64: 4}


def promote_types(a: dtype, b: dtype) -> dtype:
    """The smallest dtype both ``a`` and ``b`` convert to, by PyTorch's table."""
    if a is b:
        return a
    if a._category != b._category:
        return a if a._category > b._category else b
    if a._category == 2:
        if a.itemsize == b.itemsize:  # float16 with bfloat16: neither holds the other
            return float32
        return a if a.itemsize > b.itemsize else b
    if a._category == 0:
        return a
    return _BY_NUMPY[np.promote_types(a.numpy, b.numpy)]


def _scalar_dtype(value) -> dtype:
    if isinstance(value, _builtins.bool):
        return bool_
    if isinstance(value, _builtins.int):
        return int64
    if isinstance(value, _builtins.float):
        return _default_float
    if isinstance(value, np.generic):
        return from_numpy_dtype(value.dtype)
    raise TypeError(f"unsupported operand type {type(value).__name__}")


def _combine(higher: dtype | None, lower: dtype | None) -> dtype | None:
    if higher is None:
        return lower
    if lower is None or higher._category >= lower._category:
        return higher
    return promote_types(higher, lower)


def result_type(*operands) -> dtype:
    """The dtype of a binary/n-ary op's result, following PyTorch.

    Operands are tensors (anything with ``_data``) or Python numbers. Dimensioned
    tensors rank above 0-dim tensors, which rank above Python numbers; a lower
    rank only changes the result when it brings a higher category.

    >>> import chainrule as torch
    >>> torch.result_type(torch.tensor([1, 2]), 2.5)
    torch.float32
    """
    dimensioned = zero_dim = scalars = None
    for op in operands:
        if type(op) is np.ndarray:  # PyTorch takes a NumPy operand as a dimensioned tensor
            d = from_numpy_dtype(op.dtype)
            dimensioned = d if dimensioned is None else promote_types(dimensioned, d)
            continue
        data = getattr(op, "_data", None)
        if data is None:
            d = _scalar_dtype(op)
            if d._category == 2:
                d = _default_float
            scalars = d if scalars is None else promote_types(scalars, d)
            continue
        d = _BY_NUMPY[data.dtype]
        if data.ndim:
            dimensioned = d if dimensioned is None else promote_types(dimensioned, d)
        else:
            zero_dim = d if zero_dim is None else promote_types(zero_dim, d)
    return _combine(dimensioned, _combine(zero_dim, scalars))
