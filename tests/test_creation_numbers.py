"""torch.tensor's dtype inference for lists of Python and NumPy numbers, and an explicit dtype."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")

NUMBERS = {
    "numpy_int32": [np.int32(1), np.int32(2)],
    "numpy_int32_scalar": np.int32(4),
    "numpy_int64_and_float32": [np.int64(1), np.float32(2.5)],
    "numpy_float32_and_python_float": [np.float32(1.5), 2.7],
    "numpy_float64_and_python_int": [np.float64(1.5), 2],
    "numpy_int8_and_uint8": [[np.int8(1)], [np.uint8(2)]],
    "numpy_uint8_and_bool": [np.uint8(3), True],
    "python_mixed": [1, 2.7, True],
}
EXPLICIT = [([2.7, 1], "float64"), ([np.float32(1.1), 2.7], "float64"), ([True, 2.5], "int64"),
            (2.7, "float64"), ([[1.5, 2], [3, 4]], "float16")]


def _same(ours, theirs):
    assert str(ours.dtype) == str(theirs.dtype)
    assert ours.tolist() == theirs.tolist()


@pytest.mark.parametrize("name", list(NUMBERS))
def test_inferred_dtype_matches_torch(name):
    _same(chainrule.tensor(NUMBERS[name]), torch.tensor(NUMBERS[name]))
    _same(chainrule.as_tensor(NUMBERS[name]), torch.as_tensor(NUMBERS[name]))


@pytest.mark.parametrize("data, dtype", EXPLICIT)
def test_explicit_dtype_converts_each_number_directly(data, dtype):
    # Not through the default float32: tensor([2.7], dtype=float64) holds 2.7 exactly.
    _same(chainrule.tensor(data, dtype=getattr(chainrule, dtype)),
          torch.tensor(data, dtype=getattr(torch, dtype)))
