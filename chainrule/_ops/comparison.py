"""Comparisons and logical ops. Their results are bool tensors, so no gradient flows through them."""

from __future__ import annotations

import numpy as np

from chainrule._dtype import is_floating_numpy
from chainrule._ops._util import Tensor, binary_arrays, broadcast_error, make_tensor, tensor_method

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "isnan", "isinf", "isfinite", "isclose", "allclose", "equal"]


def _comparison(ufunc, name: str):
    def compare(input, other) -> Tensor:
        x, y = binary_arrays(input, other)
        try:
            return make_tensor(np.asarray(ufunc(x, y)))
        except ValueError as error:
            raise broadcast_error(error, x, y) from None

    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}``, broadcasting; a bool tensor."
    return tensor_method(name)(compare)


eq = _comparison(np.equal, "eq")
ne = _comparison(np.not_equal, "ne")
lt = _comparison(np.less, "lt")
le = _comparison(np.less_equal, "le")
gt = _comparison(np.greater, "gt")
ge = _comparison(np.greater_equal, "ge")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
for _alias, _op in (("greater", gt), ("greater_equal", ge), ("less", lt), ("less_equal", le),
                    ("not_equal", ne)):
    setattr(Tensor, _alias, _op)

Tensor.__eq__ = eq
Tensor.__ne__ = ne
Tensor.__lt__ = lt
Tensor.__le__ = le
Tensor.__gt__ = gt
Tensor.__ge__ = ge


def _as_bool(value) -> np.ndarray:
    return np.asarray(value._data if isinstance(value, Tensor) else value).astype(bool, copy=False)


def _logical(ufunc, input, other) -> Tensor:
    x, y = _as_bool(input), _as_bool(other)
    try:
        return make_tensor(ufunc(x, y))
    except ValueError as error:
        raise broadcast_error(error, x, y) from None


@tensor_method()
def logical_and(input, other) -> Tensor:
    return _logical(np.logical_and, input, other)


@tensor_method()
def logical_or(input, other) -> Tensor:
    return _logical(np.logical_or, input, other)


@tensor_method()
def logical_xor(input, other) -> Tensor:
    return _logical(np.logical_xor, input, other)


@tensor_method()
def logical_not(input) -> Tensor:
    return make_tensor(np.logical_not(_as_bool(input)))


def _bitwise(ufunc, name: str):
    def op(input, other) -> Tensor:
        x, y = binary_arrays(input, other)
        if is_floating_numpy(any(np.asarray(v).dtype) for v in (x, y)):
            raise RuntimeError(f"\"{name}_cpu\" not implemented for 'Float'")
        try:
            return make_tensor(np.asarray(ufunc(x, y)))
        except ValueError as error:
            raise broadcast_error(error, x, y) from None

    op.__name__ = name
    return tensor_method(name)(op)


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")


@tensor_method()
def bitwise_not(input) -> Tensor:
    if is_floating_numpy(input._data.dtype):
        raise RuntimeError("\"bitwise_not_cpu\" not implemented for 'Float'")
    return make_tensor(np.invert(input._data))


Tensor.__and__ = bitwise_and
Tensor.__rand__ = lambda self, other: bitwise_and(other, self)
Tensor.__or__ = bitwise_or
Tensor.__ror__ = lambda self, other: bitwise_or(other, self)
Tensor.__xor__ = bitwise_xor
Tensor.__rxor__ = lambda self, other: bitwise_xor(other, self)
Tensor.__invert__ = bitwise_not


@tensor_method()
def isnan(input) -> Tensor:
    return make_tensor(np.isnan(input._data))


@tensor_method()
def isinf(input) -> Tensor:
    return make_tensor(np.isinf(input._data))


@tensor_method()
def isfinite(input) -> Tensor:
    return make_tensor(np.isfinite(input._data))


@tensor_method()
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
    return make_tensor(np.isclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


@tensor_method()
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """True when every element is close (``|a - b| <= atol + rtol * |b|``)."""
    return bool(np.allclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


@tensor_method()
def equal(input, other) -> bool:
    """True when both tensors have the same shape and elements."""
    return input._data.shape == other._data.shape and bool(np.array_equal(input._data, other._data))
