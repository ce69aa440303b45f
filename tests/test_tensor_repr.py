"""``repr(tensor)`` matches PyTorch's character for character."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")


def _arrays():
    rng = np.random.default_rng(0)
    cases = {
        "scalar": np.array(3.25), "scalar_int": np.array(7), "scalar_neg_zero": np.array(-0.0),
        "ints": np.array([1, -20, 300]), "bools": np.array([True, False]),
        "int_valued": np.array([1.0, 2.0, -3.0]), "neg_zero": np.array([-0.0, 1.0]),
        "mixed": np.array([1.5, -2.25, 3.0]), "nan_inf": np.array([np.nan, np.inf, -np.inf, 1.0]),
        "nan_only": np.array([np.nan]), "zeros": np.zeros((2, 3)),
        "small": np.array([1e-5, 2.0]), "big": np.array([1e9, 1.0]),
        "spread": np.array([0.001, 10.0]), "int_spread": np.array([1.0, 5000.0]),
        "int_big": np.array([1e9, 3.0]),
        "randn_2d": rng.standard_normal((4, 5)), "randn_3d": rng.standard_normal((2, 3, 4)),
        "randn_4d": rng.standard_normal((2, 2, 2, 3)), "wide": rng.standard_normal(30),
        "large_1d": rng.standard_normal(2000), "large_2d": rng.standard_normal((50, 40)) * 100,
        "large_3d": rng.standard_normal((20, 10, 8)), "large_int": rng.integers(-50, 50, (40, 30)),
        "large_sci": rng.standard_normal((1001,)) * 1e-6, "int_wide": rng.integers(0, 10**6, 40),
        "tiny_values": rng.standard_normal((3, 3)) * 1e-8, "huge": rng.standard_normal(5) * 1e12,
        "bool_2d": rng.standard_normal((3, 4)) > 0,
    }
    return cases


CASES = _arrays()
DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16}


def _pair(array):
    return chainrule.from_numpy(np.array(array)), torch.from_numpy(np.array(array))


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_repr_matches_torch(name, dtype):
    array = CASES[name]
    if array.dtype.kind == "f":
        if dtype == "float16" and np.nanmax(np.abs(array), initial=0) > 6e4:
            pytest.skip("outside float16's range")
        array = array.astype(DTYPES[dtype])
    elif dtype != "float32":
        pytest.skip("integer and bool cases run once")
    ours, theirs = _pair(array)
    assert repr(ours) == repr(theirs)
    assert str(ours) == str(theirs)


@pytest.mark.parametrize("dtype", ["int32", "int8", "uint8", "int16"])
def test_integer_dtypes_show_their_dtype(dtype):
    ours, theirs = _pair(np.arange(5).astype(dtype))
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0, 1)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_empty(shape, dtype):
    ours, theirs = _pair(np.zeros(shape, dtype=dtype))
    assert repr(ours) == repr(theirs)


def test_requires_grad_and_grad_fn():
    ours = chainrule.tensor([1.0, 2.0], requires_grad=True)
    theirs = torch.tensor([1.0, 2.0], requires_grad=True)
    assert repr(ours) == repr(theirs)
    assert repr(ours ** 2) == repr(theirs ** 2)
    assert repr(ours.double() * 3) == repr(theirs.double() * 3)


def test_suffix_wraps_to_next_line():
    values = np.linspace(0.1, 1.3, 14)
    ours = chainrule.tensor(values, requires_grad=True)
    theirs = torch.tensor(values, requires_grad=True)
    assert repr(ours.sum() * ours) == repr(theirs.sum() * theirs)


@pytest.mark.parametrize("options", [
    {"precision": 2}, {"precision": 6}, {"sci_mode": True}, {"sci_mode": False},
    {"threshold": 5}, {"edgeitems": 1, "threshold": 5}, {"linewidth": 40}, {"profile": "short"},
])
def test_set_printoptions(options):
    array = np.random.default_rng(1).standard_normal((6, 7)) * 10
    ours, theirs = _pair(array)
    try:
        chainrule._tensor_str.set_printoptions(**options)
        torch.set_printoptions(**options)
        assert repr(ours) == repr(theirs)
    finally:
        chainrule._tensor_str.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")


hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@hypothesis.settings(deadline=None)
@hypothesis.given(shape=st.lists(st.integers(1, 12), min_size=0, max_size=4),
                  exponent=st.integers(-9, 9), integral=st.booleans(),
                  dtype=st.sampled_from(["float32", "float64", "int64"]), seed=st.integers(0, 99))
def test_repr_matches_torch_for_random_tensors(shape, exponent, integral, dtype, seed):
    array = np.asarray(np.random.default_rng(seed).standard_normal(shape) * 10.0 ** exponent)
    if integral:
        array = np.round(array)
    if dtype == "int64":
        array = np.clip(array, -1e15, 1e15)
    ours, theirs = _pair(array.astype(dtype))
    assert repr(ours) == repr(theirs)
