"""Reductions (sum, prod, max/min, amax, argmax, var/std, norm, logsumexp, cumsum, all/any) against torch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule

torch = pytest.importorskip("torch")

from torch_compare import compare_with_torch  # noqa: E402

DTYPES = [np.float32, np.float64]


def sample(shape, dtype, low=-3.0, high=3.0, seed=0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


# (shape, dim) pairs: full reductions, single dims, negative dims, tuples, 0-d and empty inputs.
DIM_CASES = [((2, 3, 4), None), ((2, 3, 4), 1), ((2, 3, 4), -1), ((2, 3, 4), (0, 2)), ((5,), 0),
             ((), None), ((), 0), ((0, 3), 1), ((0, 3), 0)]


@pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0")
@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "logsumexp", "norm", "var", "std"])
@pytest.mark.parametrize("shape, dim", DIM_CASES)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dim_reductions_match_torch(name, shape, dim, keepdim, dtype):
    if name in ("amax", "amin") and 0 in shape and dim in (0, None):
        pytest.skip("covered by the empty-input error test")
    x = sample(shape, dtype)
    if dim is None and name == "logsumexp":
        dim = tuple(range(len(shape)))
    if dim is None:
        compare_with_torch(lambda lib, t: getattr(lib, name)(t), x)
        compare_with_torch(lambda lib, t: getattr(t, name)(), x)
    else:
        compare_with_torch(lambda lib, t: getattr(lib, name)(t, dim=dim, keepdim=keepdim), x)
        compare_with_torch(lambda lib, t: getattr(t, name)(dim=dim, keepdim=keepdim), x)


@pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0")
@settings(deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data(),
       name=st.sampled_from(["sum", "mean", "amax", "amin", "var", "std", "logsumexp", "norm", "prod"]),
       keepdim=st.booleans())
def test_reductions_over_random_dims_hypothesis(shape, data, name, keepdim):
    dims = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1, max_size=len(shape),
                              unique_by=lambda d: d % len(shape)))
    dim = dims[0] if name == "prod" else tuple(dims)
    if name == "norm" and len(dim) > 2:
        with pytest.raises(RuntimeError, match="matrix_norm: dim must be a 2-tuple"):
            chainrule.ones(shape).norm(dim=dim)
        return
    x = np.round(sample(tuple(shape), np.float64, 0.5, 2.0, seed=len(dims)), 1)  # ties for amax
    compare_with_torch(lambda lib, t: getattr(t, name)(dim=dim, keepdim=keepdim), x)


@pytest.mark.parametrize("shape, dim", [((2, 3, 4), None), ((2, 3, 4), 1), ((4,), -1), ((), None),
                                        ((), 0), ((), -1), ((0, 3), 1), ((3, 0), None)])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_prod_matches_torch(shape, dim, keepdim, dtype):
    x = sample(shape, dtype, 0.5, 1.5)
    if dim is None:
        compare_with_torch(lambda lib, t: lib.prod(t), x)
    else:
        compare_with_torch(lambda lib, t: t.prod(dim, keepdim=keepdim), x)


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_prod_gradient_with_zeros(dim):
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 3.0]])
    op = (lambda lib, t: t.prod()) if dim is None else (lambda lib, t: t.prod(dim))
    compare_with_torch(op, x)
    compare_with_torch(op, np.array([[1.0, 0.0], [2.0, 3.0]]))


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_min_full_reduction_splits_ties(name, dtype):
    x = np.array([[1.0, 3.0, 3.0], [-2.0, 3.0, -2.0]], dtype=dtype)
    compare_with_torch(lambda lib, t: getattr(lib, name)(t), x)
    compare_with_torch(lambda lib, t: getattr(t, name)(), x)
    compare_with_torch(lambda lib, t: getattr(t, "a" + name)(1), x)
    compare_with_torch(lambda lib, t: getattr(t, "a" + name)((0, 1), keepdim=True), x)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("shape, dim", [((2, 3, 4), 1), ((2, 3, 4), -1), ((5,), 0), ((3, 4), 0),
                                        ((), 0), ((), -1)])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_min_with_dim_return_values_and_indices(name, shape, dim, keepdim, dtype):
    x = np.round(sample(shape, dtype))  # ties: the gradient goes to the index returned
    ours = getattr(chainrule, name)(chainrule.tensor(x), dim, keepdim)
    theirs = getattr(torch, name)(torch.tensor(x), dim, keepdim)
    values, indices = ours
    assert type(ours).__name__ == name and ours.values is values and ours.indices is indices
    np.testing.assert_array_equal(values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), theirs.indices.numpy())
    assert indices.dtype == chainrule.int64
    compare_with_torch(lambda lib, t: getattr(t, name)(dim=dim, keepdim=keepdim).values, x)
    compare_with_torch(lambda lib, t: getattr(lib, name)(t, dim, keepdim)[0], x)


def test_max_return_type_repr_and_binary_form():
    x = chainrule.tensor([[1.0, 5.0], [7.0, 2.0]])
    assert repr(x.max(1)) == repr(torch.tensor([[1.0, 5.0], [7.0, 2.0]]).max(1))
    a, b = np.array([1.0, 4.0, 2.0]), np.array([3.0, 4.0, 0.0])
    compare_with_torch(lambda lib, s, t: lib.max(s, t), a, b)
    compare_with_torch(lambda lib, s, t: s.min(t), a, b)


@pytest.mark.parametrize("name", ["max", "min", "argmax", "argmin", "amax", "prod", "sum", "cumsum"])
def test_integer_reductions_keep_torch_dtypes(name):
    x = np.array([[3, 1, 4], [1, 5, 9]], dtype=np.int32)
    theirs = getattr(torch, name)(torch.tensor(x), 1)
    ours = getattr(chainrule, name)(chainrule.tensor(x), 1)
    if isinstance(theirs, tuple):
        theirs, ours = theirs.values, ours.values
    assert str(ours.dtype) == str(theirs.dtype)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [None, 0, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin_match_torch(name, dim, keepdim):
    x = np.round(sample((3, 4), np.float32))
    ours = getattr(chainrule, name)(chainrule.tensor(x), dim=dim, keepdim=keepdim)
    theirs = getattr(torch.tensor(x), name)(dim=dim, keepdim=keepdim)
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype == chainrule.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("kwargs", [{"correction": 0}, {"correction": 2}, {"unbiased": False},
                                    {"unbiased": True}])
def test_var_std_corrections_match_torch(name, kwargs):
    x = sample((3, 5), np.float64)
    compare_with_torch(lambda lib, t: getattr(t, name)(1, keepdim=True, **kwargs), x)
    compare_with_torch(lambda lib, t: getattr(lib, name)(t, **kwargs), x)


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_warn_without_degrees_of_freedom(name):
    with pytest.warns(UserWarning, match=f"{name}\\(\\): degrees of freedom is <= 0"):
        result = getattr(chainrule.ones(3), name)(correction=3)
    assert np.isnan(result.item()) or np.isinf(result.item())


@pytest.mark.parametrize("name", ["sum", "mean"])
def test_sum_mean_with_dim_none_keepdim_keep_every_dim(name):
    x = sample((2, 3, 4), np.float64)
    compare_with_torch(lambda lib, t: getattr(t, name)(dim=None, keepdim=True), x)
    compare_with_torch(lambda lib, t: getattr(lib, name)(t, None, True), x)


@pytest.mark.parametrize("name", ["sum", "mean"])
@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
def test_sum_mean_double_backward_matches_torch(name, dim):
    x = sample((2, 3, 4), np.float64)
    results = []
    for lib in (chainrule, torch):
        t = lib.tensor(x, requires_grad=True)
        out = getattr((t * t), name)() if dim is None else getattr((t * t), name)(dim)
        w = lib.tensor(np.random.default_rng(2).standard_normal(tuple(out.shape)), requires_grad=True)
        (g,) = lib.autograd.grad(out, t, w, create_graph=True)
        (g.sin().sum()).backward()
        results.append((g.detach().numpy(), t.grad.numpy(), w.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dim", [None, 1, (0, 1)])
def test_std_of_constant_input_has_zero_gradient(dim):
    x = np.array([[1.5, 1.5, 1.5], [0.5, 2.0, -1.0]])  # row 0 has zero spread
    compare_with_torch(lambda lib, t: t.std(dim=dim), x)
    compare_with_torch(lambda lib, t: t.std(dim=dim), np.full((2, 3), 1.2))


def test_var_std_positional_unbiased():
    x = sample((3, 5), np.float64)
    compare_with_torch(lambda lib, t: t.var(False), x)
    compare_with_torch(lambda lib, t: lib.std(t, 0, False, True), x)


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, float("inf"), float("-inf"), 0, "fro"])
@pytest.mark.parametrize("dim", [None, 1, (0, 1)])
def test_norm_orders_match_torch(p, dim):
    x = sample((3, 4), np.float64)
    x[0, 0] = x[0, 1] = 2.5  # ties for the infinity norms
    x[2, 1] = -2.5
    compare_with_torch(lambda lib, t: t.norm(p=p, dim=dim), x)
    compare_with_torch(lambda lib, t: lib.norm(t, p, dim, True), x)


def test_norm_of_zero_vector_has_zero_gradient():
    compare_with_torch(lambda lib, t: t.norm(), np.zeros(3))


def test_logsumexp_is_stable_and_handles_infinities():
    x = np.array([[1000.0, 1000.0, -1000.0], [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, 1.0]])
    compare_with_torch(lambda lib, t: lib.logsumexp(t, 1), x, grad=False)
    compare_with_torch(lambda lib, t: lib.logsumexp(t, 1), x[:1])
    compare_with_torch(lambda lib, t: lib.logsumexp(t, 0), np.array([1, 2, 3]), rtol=1e-6)


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("shape, dim", [((2, 3, 4), 1), ((2, 3, 4), -1), ((5,), 0), ((), 0),
                                        ((0, 3), 1)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cumulative_ops_match_torch(name, shape, dim, dtype):
    x = sample(shape, dtype, 0.5, 1.5)
    compare_with_torch(lambda lib, t: getattr(lib, name)(t, dim), x)
    compare_with_torch(lambda lib, t: getattr(t, name)(dim=dim), x)


@pytest.mark.parametrize("dim", [0, 1])
def test_cumprod_gradient_with_zeros(dim):
    x = np.array([[2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 1.5, 2.0, 4.0, 0.5], [1.0, 2.0, 3.0, 4.0, 0.0]])
    compare_with_torch(lambda lib, t: t.cumprod(dim), x)
    compare_with_torch(lambda lib, t: t.cumprod(dim), x.astype(np.float32))


def test_cumulative_dtype_argument():
    x = np.array([1, 2, 3], dtype=np.int32)
    compare_with_torch(lambda lib, t: lib.cumsum(t, 0, dtype=lib.float64), x)
    compare_with_torch(lambda lib, t: t.cumprod(0), x)


@pytest.mark.parametrize("name", ["all", "any"])
@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_all_any_match_torch(name, dim, keepdim):
    x = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])
    if dim is None:
        ours, theirs = getattr(chainrule, name)(chainrule.tensor(x)), getattr(torch, name)(torch.tensor(x))
    else:
        ours = getattr(chainrule.tensor(x), name)(dim, keepdim=keepdim)
        theirs = getattr(torch.tensor(x), name)(dim, keepdim=keepdim)
    assert ours.dtype == chainrule.bool and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert getattr(chainrule, name)(chainrule.tensor(x.astype(np.uint8))).dtype == chainrule.uint8


@pytest.mark.parametrize("name", ["prod", "amax", "var", "std", "norm", "logsumexp", "cumsum",
                                  "cumprod", "max"])
def test_reduction_gradcheck(name):
    x = chainrule.tensor(sample((3, 4), np.float64, 0.5, 2.0, seed=4), requires_grad=True)
    assert chainrule.autograd.gradcheck(lambda t: getattr(t, name)(1), (x,))


def test_reduction_errors():
    empty = chainrule.ones(2, 0)
    with pytest.raises(RuntimeError, match="Expected reduction dim to be specified"):
        chainrule.ones(0).max()
    with pytest.raises(IndexError, match="max\\(\\): Expected reduction dim 1 to have non-zero size"):
        empty.max(1)
    with pytest.raises(IndexError, match="amax\\(\\): Expected reduction dim 1"):
        empty.amax(1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        chainrule.ones(2, 3).amax(2)
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        chainrule.tensor([1, 2]).var()
    with pytest.raises(RuntimeError, match="vector_norm: Expected a floating point.*Long"):
        chainrule.tensor([1, 2]).norm()
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype"):
        chainrule.tensor([1, 2]).mean()


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(0).amax(), lambda lib: lib.zeros(0, 3).amin(),
    lambda lib: lib.zeros(0).argmax(), lambda lib: lib.zeros(0, 3).argmin(),
    lambda lib: lib.tensor([True]).argmax(), lambda lib: lib.zeros(0).norm(float("inf")),
    lambda lib: lib.zeros(0, 3).norm(float("-inf"), dim=0), lambda lib: lib.zeros(0, 3).max(),
    lambda lib: lib.zeros(2, 0).max(1),
])
def test_empty_reduction_errors_match_torch(call):
    with pytest.raises((RuntimeError, IndexError)) as theirs:
        call(torch)
    with pytest.raises((RuntimeError, IndexError)) as ours:
        call(chainrule)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


# sum_to_size: (input shape, target); PyTorch sums keeping the dims, then views without the lead.
SUM_TO_SIZE_CASES = [((2, 3, 4), (3, 1)), ((2, 3, 4), (3, 4)), ((2, 3, 4), (1, 3, 1)),
                     ((2, 3, 4), (2, 1, 4)), ((1, 3, 4), (3, 4)), ((2, 3), (1,))]


@pytest.mark.parametrize("shape, size", SUM_TO_SIZE_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.int32])
def test_sum_to_size_matches_torch_with_its_graph(shape, size, dtype):
    ours = compare_with_torch(lambda lib, t: t.sum_to_size(*size), sample(shape, dtype),
                              grad=dtype != np.int32)
    if dtype != np.int32:
        theirs = torch.tensor(sample(shape, dtype), requires_grad=True).sum_to_size(*size)
        assert ([type(node).__name__ for node, _ in ours.grad_fn.next_functions]
                == [type(node).__name__ for node, _ in theirs.grad_fn.next_functions])
