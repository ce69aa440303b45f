"""Type promotion of binary ops, checked pair by pair against torch: every dtype against every
dtype as a tensor (dim > 0), a 0-dim tensor, and every Python scalar kind."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")
# Division by a zero element: torch is silent; NumPy warns (reported to the lead).
pytestmark = pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning",
                                        "ignore:invalid value:RuntimeWarning")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
          "float64"]
SCALARS = {"int": 3, "float": 2.5, "bool": True}
OPS = {"add": operator.add, "mul": operator.mul, "truediv": operator.truediv}


def operand(lib, dtype: str, kind: str):
    """A small tensor of ``dtype``: ``kind`` is "tensor" (shape (2,)) or "0-dim"."""
    values = [True, False] if dtype == "bool" else [1, 2]
    t = lib.tensor(values, dtype=getattr(lib, dtype))
    return t if kind == "tensor" else lib.tensor(values[0], dtype=getattr(lib, dtype))


def assert_same_result(fn, ours: tuple, theirs: tuple):
    """``fn`` on chainrule operands gives torch's dtype and values (or fails where torch does)."""
    try:
        expected = fn(*theirs)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            fn(*ours)
        return
    result = fn(*ours)
    assert str(result.dtype) == str(expected.dtype)
    np.testing.assert_allclose(result.double().numpy(),
                               expected.double().numpy(), rtol=1e-3)


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("kinds", [("tensor", "tensor"), ("tensor", "0-dim"), ("0-dim", "tensor"),
                                   ("0-dim", "0-dim")])
@pytest.mark.parametrize("left", DTYPES)
def test_tensor_tensor(op, kinds, left):
    fn = OPS[op]
    for right in DTYPES:
        assert_same_result(
            fn, (operand(chainrule, left, kinds[0]), operand(chainrule, right, kinds[1])),
            (operand(torch, left, kinds[0]), operand(torch, right, kinds[1])))


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("kind", ["tensor", "0-dim"])
@pytest.mark.parametrize("scalar", list(SCALARS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_tensor_scalar_both_orders(op, kind, scalar, dtype):
    fn, value = OPS[op], SCALARS[scalar]
    assert_same_result(fn, (operand(chainrule, dtype, kind), value), (operand(torch, dtype, kind), value))
    assert_same_result(fn, (value, operand(chainrule, dtype, kind)), (value, operand(torch, dtype, kind)))


@pytest.mark.parametrize("left", DTYPES)
def test_promote_types_and_result_type(left):
    for right in DTYPES:
        ours = chainrule.promote_types(getattr(chainrule, left), getattr(chainrule, right))
        theirs = torch.promote_types(getattr(torch, left), getattr(torch, right))
        assert str(ours) == str(theirs)
        for kind in ("tensor", "0-dim"):
            ours = chainrule.result_type(operand(chainrule, left, "tensor"), operand(chainrule, right, kind))
            theirs = torch.result_type(operand(torch, left, "tensor"), operand(torch, right, kind))
            assert str(ours) == str(theirs)
    for value in SCALARS.values():
        assert str(chainrule.result_type(operand(chainrule, left, "tensor"), value)) == \
            str(torch.result_type(operand(torch, left, "tensor"), value))


@pytest.mark.parametrize("default", ["float32", "float64"])
def test_default_dtype_governs_int_true_division_and_float_scalars(default):
    previous = chainrule.get_default_dtype()
    chainrule.set_default_dtype(getattr(chainrule, default))
    try:
        ints = chainrule.tensor([1, 2])
        assert str((ints / 2).dtype) == f"torch.{default}"
        assert str((ints * 1.5).dtype) == f"torch.{default}"
        assert str(chainrule.tensor([1.0]).dtype) == f"torch.{default}"
    finally:
        chainrule.set_default_dtype(previous)


def test_inplace_cannot_downcast_result():
    ints = chainrule.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        ints.add_(1.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        torch.tensor([1, 2]).add_(1.5)
    floats = chainrule.tensor([1.0, 2.0], dtype=chainrule.float32)
    floats.add_(chainrule.tensor([1.0, 1.0], dtype=chainrule.float64))
    assert floats.dtype == chainrule.float32


# (torch's handling of np.bool_ and of NumPy ints beside bool tensors is idiosyncratic; not copied)
NUMPY_SCALARS = {"float64": np.float64(2.5), "float32": np.float32(2.5), "int64": np.int64(3)}


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("scalar", list(NUMPY_SCALARS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_scalars_promote_like_python_numbers(op, scalar, dtype):
    """PyTorch treats NumPy scalars as weak numbers (NumPy 2 does not): float32 * np.float64 is float32."""
    fn, value = OPS[op], NUMPY_SCALARS[scalar]
    assert_same_result(fn, (operand(chainrule, dtype, "tensor"), value), (operand(torch, dtype, "tensor"), value))


@pytest.mark.parametrize("array", [np.ones(2), np.ones(2, np.float32), np.array(2.5)],
                         ids=["float64", "float32", "0-d-float64"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_numpy_array_operands_count_as_tensors(array, dtype):
    """A NumPy array operand promotes as a dimensioned tensor would, even when 0-d."""
    assert_same_result(operator.mul, (operand(chainrule, dtype, "tensor"), array),
                       (operand(torch, dtype, "tensor"), array))
