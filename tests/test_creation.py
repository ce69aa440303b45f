"""Creating tensors: dtype inference of ``tensor``, the filled and random factories (shapes and
dtypes against torch), and reproducible random numbers from seeds and generators."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")
from tests.torch_compare import raises_like_torch  # noqa: E402


def assert_like_torch(ours, theirs, values: bool = True):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype)
    assert ours.requires_grad == theirs.requires_grad
    if values:
        np.testing.assert_allclose(ours.detach().numpy().astype(np.float64),
                                   theirs.detach().numpy().astype(np.float64), rtol=1e-6)


DATA = {
    "int": 3,
    "float": 3.5,
    "bool": True,
    "int_list": [1, 2, 3],
    "mixed_list": [1, 2.5],
    "bool_list": [True, False],
    "bool_int_list": [True, 2],
    "nested": [[1.0, 2.0], [3.0, 4.0]],
    "nested_ints": [[1, 2], [3, 4]],
    "empty": [],
    "empty_nested": [[], []],
    "np_float64": np.array([1.5, 2.5]),
    "np_float32": np.array([1.5, 2.5], dtype=np.float32),
    "np_int32": np.array([1, 2], dtype=np.int32),
    "np_bool": np.array([True, False]),
    "np_scalar_float64": np.float64(2.5),
    "list_of_np_float64": [np.float64(1.0), np.float64(2.0)],
}


@pytest.mark.parametrize("name", list(DATA))
def test_tensor_infers_dtype_like_torch(name):
    assert_like_torch(chainrule.tensor(DATA[name]), torch.tensor(DATA[name]))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int64", "uint8", "bool"])
def test_tensor_with_explicit_dtype(dtype):
    data = [[0, 1], [2, 3]]
    assert_like_torch(chainrule.tensor(data, dtype=getattr(chainrule, dtype)),
                      torch.tensor(data, dtype=getattr(torch, dtype)))


def test_tensor_copies_but_as_tensor_and_from_numpy_share():
    array = np.zeros(3)
    copied, shared, from_np = chainrule.tensor(array), chainrule.as_tensor(array), chainrule.from_numpy(array)
    array[0] = 7
    assert copied.tolist()[0] == 0
    assert shared.tolist()[0] == 7 and from_np.tolist()[0] == 7


def test_tensor_requires_grad():
    assert_like_torch(chainrule.tensor([1.0, 2.0], requires_grad=True),
                      torch.tensor([1.0, 2.0], requires_grad=True))
    with pytest.raises(RuntimeError, match="floating point"):
        chainrule.tensor([1, 2], requires_grad=True)


FILLED = {
    "zeros": lambda lib: lib.zeros(2, 3),
    "zeros_tuple": lambda lib: lib.zeros((2, 3), dtype=lib.int64),
    "zeros_0d": lambda lib: lib.zeros(()),
    "zeros_empty": lambda lib: lib.zeros(0, 4),
    "ones": lambda lib: lib.ones([4], dtype=lib.float64),
    "ones_grad": lambda lib: lib.ones(2, requires_grad=True),
    "full_float": lambda lib: lib.full((2, 2), 1.5),
    "full_int": lambda lib: lib.full((2,), 7),
    "full_bool": lambda lib: lib.full((2,), True),
    "arange_int": lambda lib: lib.arange(5),
    "arange_start_stop": lambda lib: lib.arange(2, 9, 3),
    "arange_float": lambda lib: lib.arange(0, 1, 0.25),
    "arange_float_start": lambda lib: lib.arange(1.0, 4),
    "arange_negative_step": lambda lib: lib.arange(5, 0, -2),
    "arange_dtype": lambda lib: lib.arange(4, dtype=lib.float64),
    "linspace": lambda lib: lib.linspace(0, 1, 5),
    "linspace_one": lambda lib: lib.linspace(-2, 2, 1),
    "logspace": lambda lib: lib.logspace(0, 2, 3),
    "eye": lambda lib: lib.eye(3),
    "eye_rect": lambda lib: lib.eye(2, 4, dtype=lib.int64),
    "zeros_like": lambda lib: lib.zeros_like(lib.ones(2, 3, dtype=lib.float64)),
    "ones_like_dtype": lambda lib: lib.ones_like(lib.ones(2), dtype=lib.int32),
    "full_like": lambda lib: lib.full_like(lib.ones(3, dtype=lib.int64), 4),
    "scalar_tensor": lambda lib: lib.scalar_tensor(3),
}


@pytest.mark.parametrize("name", list(FILLED))
def test_filled_factories(name):
    assert_like_torch(FILLED[name](chainrule), FILLED[name](torch))


EMPTY = {
    "empty": lambda lib: lib.empty(2, 3),
    "empty_dtype": lambda lib: lib.empty((4,), dtype=lib.int16),
    "empty_like": lambda lib: lib.empty_like(lib.ones(2, dtype=lib.float64)),
}


@pytest.mark.parametrize("name", list(EMPTY))
def test_uninitialised_factories(name):
    assert_like_torch(EMPTY[name](chainrule), EMPTY[name](torch), values=False)


RANDOM = {
    "rand": lambda lib: lib.rand(3, 4),
    "rand_tuple_dtype": lambda lib: lib.rand((2, 2), dtype=lib.float64),
    "randn": lambda lib: lib.randn(5),
    "randn_grad": lambda lib: lib.randn(2, 3, requires_grad=True),
    "randint": lambda lib: lib.randint(0, 10, (3, 2)),
    "randint_high_only": lambda lib: lib.randint(5, (4,)),
    "randint_dtype": lambda lib: lib.randint(0, 3, (2,), dtype=lib.int32),
    "randperm": lambda lib: lib.randperm(6),
    "normal_floats": lambda lib: lib.normal(0.0, 1.0, (2, 3)),
    "normal_tensors": lambda lib: lib.normal(lib.zeros(3), lib.ones(3)),
    "rand_like": lambda lib: lib.rand_like(lib.ones(2, 2, dtype=lib.float64)),
    "randn_like": lambda lib: lib.randn_like(lib.ones(3)),
    "randint_like": lambda lib: lib.randint_like(lib.ones(3), 0, 4),
}


@pytest.mark.parametrize("name", list(RANDOM))
def test_random_factories_shapes_and_dtypes(name):
    assert_like_torch(RANDOM[name](chainrule), RANDOM[name](torch), values=False)


def test_random_value_ranges():
    u = chainrule.rand(10_000).numpy()
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.02
    n = chainrule.randn(10_000).numpy()
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05
    ints = chainrule.randint(3, 7, (1000,)).numpy()
    assert set(ints.tolist()) == {3, 4, 5, 6}
    assert sorted(chainrule.randperm(50).tolist()) == list(range(50))
    shifted = chainrule.normal(10.0, 0.1, (1000,)).numpy()
    assert abs(shifted.mean() - 10) < 0.05


@pytest.mark.parametrize("make", [lambda: chainrule.rand(4), lambda: chainrule.randn(2, 2),
                                  lambda: chainrule.randint(0, 100, (5,)), lambda: chainrule.randperm(8)])
def test_manual_seed_reproduces(make):
    chainrule.manual_seed(123)
    first = make().tolist()
    second = make().tolist()
    chainrule.manual_seed(123)
    assert make().tolist() == first
    assert first != second


def test_generator_is_independent_of_global_state():
    g = chainrule.Generator().manual_seed(7)
    first = chainrule.randn(3, generator=g).tolist()
    chainrule.manual_seed(0)
    chainrule.randn(10)
    g.manual_seed(7)
    assert chainrule.randn(3, generator=g).tolist() == first
    assert g.initial_seed() == 7


def test_rng_state_round_trip():
    state = chainrule.get_rng_state()
    first = chainrule.rand(3).tolist()
    chainrule.set_rng_state(state)
    assert chainrule.rand(3).tolist() == first


def test_default_dtype_applies_to_factories():
    previous = chainrule.get_default_dtype()
    chainrule.set_default_dtype(chainrule.float64)
    try:
        for t in (chainrule.zeros(1), chainrule.rand(1), chainrule.tensor([1.0]), chainrule.arange(0.0, 1.0)):
            assert t.dtype == chainrule.float64
        assert chainrule.arange(3).dtype == chainrule.int64
    finally:
        chainrule.set_default_dtype(previous)


@pytest.mark.parametrize("call, error", [
    (lambda lib: lib.ones(2, -1), RuntimeError),
    (lambda lib: lib.empty(-1), RuntimeError),
    (lambda lib: lib.randn(-2), RuntimeError),
    (lambda lib: lib.full((-1,), 1.0), RuntimeError),
    (lambda lib: lib.randint(0, 3, (-1,)), RuntimeError),
    (lambda lib: lib.randint(5, 2, (3,)), RuntimeError),
    (lambda lib: lib.tensor([[1, 2], [3]]), ValueError),
    (lambda lib: lib.tensor([[[1], [2]], [[1], [2, 3]]]), ValueError),
])
def test_creation_errors_match_torch(call, error):
    raises_like_torch(lambda: call(chainrule), lambda: call(torch), error)


@pytest.mark.parametrize("make", [
    lambda lib: lib.LongTensor([1, 2]), lambda lib: lib.FloatTensor([1, 2]),
    lambda lib: lib.ByteTensor([3]), lambda lib: lib.DoubleTensor((2, 3)),
    lambda lib: lib.FloatTensor(), lambda lib: lib.Tensor(), lambda lib: lib.BoolTensor([1, 0]),
    lambda lib: lib.IntTensor(lib.Size([2, 3])).shape, lambda lib: lib.FloatTensor(2, 3).shape,
    lambda lib: lib.zeros(2).type(lib.LongTensor), lambda lib: lib.zeros(2).type("torch.DoubleTensor"),
    lambda lib: [isinstance(lib.zeros(1), t) for t in (lib.FloatTensor, lib.LongTensor, lib.Tensor)],
    lambda lib: repr(lib.LongTensor),
])
def test_legacy_typed_constructors_match_torch(make):
    assert str(make(chainrule)) == str(make(torch))


# ------------------------------------------------------------------ out= and linspace's values

OUT_CASES = {
    "zeros": lambda lib, out: lib.zeros(3, out=out),
    "ones": lambda lib, out: lib.ones(2, 2, out=out),
    "full": lambda lib, out: lib.full((2,), 7, out=out),
    "arange": lambda lib, out: lib.arange(5, out=out),
    "linspace": lambda lib, out: lib.linspace(0, 1, 5, out=out),
    "logspace": lambda lib, out: lib.logspace(0, 2, 3, out=out),
    "eye": lambda lib, out: lib.eye(2, out=out),
}


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("case", sorted(OUT_CASES))
def test_factories_write_into_out_with_its_dtype(case, dtype):
    results = []
    for lib in (chainrule, torch):
        out = lib.empty(1, dtype=getattr(lib, dtype))
        result = OUT_CASES[case](lib, out)
        assert result is out
        results.append(out)
    assert_like_torch(*results)


def test_random_factories_write_into_out_and_refuse_another_dtype():
    for lib in (chainrule, torch):
        out = lib.empty(0, dtype=lib.float64)
        assert lib.randn(2, 3, out=out) is out and out.shape == (2, 3) and out.dtype == lib.float64
        assert lib.randint(5, (4,), out=lib.empty(0, dtype=lib.int64)).shape == (4,)
        with pytest.raises(RuntimeError, match=r"dtype Float does not match dtype of out parameter \(Double\)"):
            lib.zeros(3, dtype=lib.float32, out=out)


def test_randint_takes_the_high_end_alone_with_size_by_keyword():
    for lib in (chainrule, torch):
        values = lib.randint(10, size=(50,))
        assert values.shape == (50,) and values.dtype == lib.int64
        assert 0 <= values.min().item() and values.max().item() < 10


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("args", [(-np.pi, np.pi, 2000), (-3.3, 17.1, 101), (1, 0, 10),
                                  (0.1, 0.7, 4000), (1e-3, 1e3, 33), (0, 1, 1), (0, 1, 0)])
def test_linspace_gives_torchs_values_bit_for_bit(args, dtype):
    if dtype == "float64" and np.finfo(np.longdouble).nmant <= 52:
        pytest.skip("float64 linspace is exact only where np.longdouble is wider than float64")
    ours = chainrule.linspace(*args, dtype=getattr(chainrule, dtype)).numpy()
    theirs = torch.linspace(*args, dtype=getattr(torch, dtype)).numpy()
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("args", [(0, 10, 5), (-7, 13, 9), (-np.pi, np.pi, 2000)])
def test_integer_linspace_matches_torch(args):
    ours = chainrule.linspace(*args, dtype=chainrule.int64).numpy()
    np.testing.assert_array_equal(ours, torch.linspace(*args, dtype=torch.int64).numpy())
