"""Ordering ops (sort, argsort, topk, kthvalue, median, unique, count_nonzero, searchsorted,
bucketize) against torch.

Where PyTorch documents which index wins a tie (the stable sort) the tests use ties; elsewhere
(topk, kthvalue, median along a dim, whose tie-breaking PyTorch leaves unspecified) they use
data without ties: a permutation of distinct values.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule

torch = pytest.importorskip("torch")

from torch_compare import compare_with_torch  # noqa: E402

DTYPES = [np.float32, np.float64]


def distinct(shape, dtype, seed=0):
    """Distinct values in random order (no ties anywhere)."""
    size = int(np.prod(shape))
    values = np.random.default_rng(seed).permutation(size) * 0.5 - size / 4
    return values.reshape(shape).astype(dtype)


def with_ties(shape, dtype, seed=0):
    return np.random.default_rng(seed).integers(0, 3, shape).astype(dtype)


def compare_pair(op, x, name, *, grad=True):
    """``op(lib, t)`` returns a ``(values, indices)`` named tuple: compare its type, both fields
    and the gradient through the values."""
    ours = op(chainrule, chainrule.tensor(x))
    theirs = op(torch, torch.tensor(x))
    assert type(ours).__name__ == type(theirs).__name__ == name
    assert repr(ours).startswith(f"torch.return_types.{name}(\nvalues=tensor(")
    assert ours.indices.dtype == chainrule.int64
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    values, indices = ours
    assert values is ours.values and indices is ours.indices
    compare_with_torch(lambda lib, t: op(lib, t).values, x, grad=grad)


SHAPES_DIMS = [((6,), 0), ((6,), -1), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), 1), ((2, 3, 4), -1),
               ((), 0), ((0, 3), 1), ((3, 0), 0)]


# ------------------------------------------------------------------- sort
@pytest.mark.parametrize("shape, dim", SHAPES_DIMS)
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sort_matches_torch(shape, dim, descending, dtype):
    x = with_ties(shape, dtype)
    compare_pair(lambda lib, t: lib.sort(t, dim=dim, descending=descending, stable=True), x, "sort")
    compare_pair(lambda lib, t: t.sort(dim=dim, descending=descending, stable=True), x, "sort")


@pytest.mark.parametrize("descending", [False, True])
def test_sort_node_names_and_stable_ties(descending):
    x = np.array([3.0, 1.0, 2.0, 1.0, 3.0, 2.0, 1.0])
    compare_pair(lambda lib, t: lib.sort(t, descending=descending), x, "sort")  # SortBackward0
    compare_pair(lambda lib, t: lib.sort(t, descending=descending, stable=False), x, "sort")
    ours = chainrule.sort(chainrule.tensor(x, requires_grad=True), stable=True).values
    assert ours.grad_fn.name() == "SortBackward1"


def test_sort_nan_and_infinities_order_as_torch():
    x = np.array([np.nan, 1.0, -np.inf, 2.0, np.inf, np.nan, -1.0])
    for descending in (False, True):
        compare_pair(lambda lib, t, d=descending: lib.sort(t, descending=d, stable=True), x, "sort",
                     grad=False)


@pytest.mark.parametrize("data", [np.array([3, 1, 2, 1]), np.array([True, False, True]),
                                  np.array([200, 3, 7], dtype=np.uint8)])
def test_sort_integer_and_bool(data):
    for descending in (False, True):
        compare_pair(lambda lib, t, d=descending: lib.sort(t, descending=d, stable=True), data,
                     "sort", grad=False)


@pytest.mark.parametrize("shape, dim", SHAPES_DIMS)
@pytest.mark.parametrize("descending", [False, True])
def test_argsort_and_msort_match_torch(shape, dim, descending):
    x = with_ties(shape, np.float64, seed=2)
    ours = chainrule.argsort(chainrule.tensor(x), dim=dim, descending=descending, stable=True)
    theirs = torch.argsort(torch.tensor(x), dim=dim, descending=descending, stable=True)
    assert ours.dtype == chainrule.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(chainrule.tensor(x).argsort(dim=dim, descending=descending,
                                                              stable=True).numpy(), theirs.numpy())
    if shape:
        compare_with_torch(lambda lib, t: lib.msort(t), x)
        compare_with_torch(lambda lib, t: t.msort(), x)


@settings(deadline=None, max_examples=40)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data(),
       descending=st.booleans())
def test_sort_topk_kthvalue_over_random_shapes_hypothesis(shape, data, descending):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    k = data.draw(st.integers(1, shape[dim]))
    ties = with_ties(tuple(shape), np.float64, seed=len(shape))
    compare_pair(lambda lib, t: lib.sort(t, dim=dim, descending=descending, stable=True), ties, "sort")
    x = distinct(tuple(shape), np.float64, seed=k)
    compare_pair(lambda lib, t: lib.topk(t, k, dim, largest=descending), x, "topk")
    compare_pair(lambda lib, t: lib.kthvalue(t, k, dim, keepdim=descending), x, "kthvalue")


# ------------------------------------------------------------------- topk
@pytest.mark.parametrize("shape, dim, k", [((6,), 0, 3), ((6,), -1, 6), ((3, 4), 0, 2),
                                           ((3, 4), 1, 1), ((2, 3, 4), 1, 2), ((2, 3, 4), -1, 0),
                                           ((), 0, 1), ((0, 3), 1, 2)])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_topk_matches_torch(shape, dim, k, largest, dtype):
    x = distinct(shape, dtype)
    compare_pair(lambda lib, t: lib.topk(t, k, dim, largest), x, "topk")
    compare_pair(lambda lib, t: t.topk(k, dim=dim, largest=largest, sorted=True), x, "topk")


def test_topk_default_dim_and_nan():
    x = distinct((3, 5), np.float64, seed=4)
    compare_pair(lambda lib, t: lib.topk(t, 2), x, "topk")
    x = np.array([1.0, np.nan, 3.0, 2.0])
    compare_pair(lambda lib, t: lib.topk(t, 2), x, "topk", grad=False)


def test_topk_errors():
    with pytest.raises(RuntimeError, match="^selected index k out of range$"):
        chainrule.topk(chainrule.ones(3), 4)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of "
                                         r"\[-1, 0\], but got 1\)"):
        chainrule.topk(chainrule.ones(3), 1, dim=1)


# --------------------------------------------------------------- kthvalue
@pytest.mark.parametrize("shape, dim, k", [((6,), 0, 3), ((3, 4), 0, 1), ((3, 4), 1, 4),
                                           ((2, 3, 4), 1, 2), ((), 0, 1)])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_kthvalue_matches_torch(shape, dim, k, keepdim, dtype):
    x = distinct(shape, dtype, seed=1)
    compare_pair(lambda lib, t: lib.kthvalue(t, k, dim, keepdim), x, "kthvalue")
    compare_pair(lambda lib, t: t.kthvalue(k, dim=dim, keepdim=keepdim), x, "kthvalue")


def test_kthvalue_default_dim_and_errors():
    compare_pair(lambda lib, t: lib.kthvalue(t, 2), distinct((3, 4), np.float64), "kthvalue")
    for k in (0, 4):
        with pytest.raises(RuntimeError, match="kthvalue\\(\\): selected number k out of range for "
                                               "dimension 0"):
            chainrule.kthvalue(chainrule.ones(3), k)


# ----------------------------------------------------------------- median
@pytest.mark.parametrize("shape", [(5,), (6,), (3, 4), (2, 3, 4), (), (1,)])
@pytest.mark.parametrize("name", ["median", "nanmedian"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_median_of_all_elements_matches_torch(shape, name, dtype):
    x = distinct(shape, dtype, seed=3)
    compare_with_torch(lambda lib, t: getattr(lib, name)(t), x)
    compare_with_torch(lambda lib, t: getattr(t, name)(), x)


@pytest.mark.parametrize("name", ["median", "nanmedian"])
def test_median_ties_share_the_gradient(name):
    x = np.array([2.0, 1.0, 2.0, 3.0, 2.0, 0.0])  # lower median of six is 2.0, held three times
    compare_with_torch(lambda lib, t: getattr(lib, name)(t), x)


def test_median_with_nan_matches_torch():
    x = np.array([1.0, np.nan, 3.0, np.nan, 0.5])
    compare_with_torch(lambda lib, t: lib.median(t), x)  # NaN; the gradient goes to the NaNs
    compare_with_torch(lambda lib, t: lib.nanmedian(t), x)
    compare_with_torch(lambda lib, t: lib.nanmedian(t), np.array([np.nan, np.nan]))
    rows = np.array([[1.0, np.nan, 3.0, np.nan, 0.0], [np.nan] * 5, [5.0, 4.0, 3.0, 2.0, 1.0]])
    compare_pair(lambda lib, t: lib.median(t, 1), rows, "median")
    compare_pair(lambda lib, t: lib.nanmedian(t, 1), rows, "nanmedian")


@pytest.mark.parametrize("shape, dim", [((5,), 0), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), -1),
                                        ((), 0), ((0, 3), 1)])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["median", "nanmedian"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_median_along_dim_matches_torch(shape, dim, keepdim, name, dtype):
    x = distinct(shape, dtype, seed=5)
    compare_pair(lambda lib, t: getattr(lib, name)(t, dim, keepdim), x, name)
    compare_pair(lambda lib, t: getattr(t, name)(dim=dim, keepdim=keepdim), x, name)


def test_median_edge_cases():
    compare_with_torch(lambda lib, t: lib.median(t), np.zeros(0, np.float32))
    compare_with_torch(lambda lib, t: lib.median(t), np.array([3, 1, 2, 4]))
    with pytest.raises(IndexError, match=r"median\(\): Expected reduction dim 0 to have non-zero size."):
        chainrule.median(chainrule.zeros(0, 3), 0)


def test_pick_gradients_gradcheck():
    x = chainrule.tensor(distinct((3, 4), np.float64, seed=6), requires_grad=True)
    checks = [lambda t: chainrule.sort(t, 1).values, lambda t: chainrule.topk(t, 2, 0).values,
              lambda t: chainrule.kthvalue(t, 2, 1).values, lambda t: chainrule.median(t),
              lambda t: chainrule.median(t, 0).values, lambda t: chainrule.nanmedian(t, 1, True).values]
    for fn in checks:
        assert chainrule.autograd.gradcheck(fn, (x,))
        assert chainrule.autograd.gradgradcheck(fn, (x,))


# ----------------------------------------------------------------- unique
UNIQUE_INPUTS = [np.array([3, 1, 2, 3, 1]), np.array([[1, 2], [1, 2], [0, 5]]), np.array(5),
                 np.zeros(0), np.array([1.0, np.nan, np.nan, 1.0, -0.5]),
                 np.array([[2.0, 1.0], [2.0, 1.0]], np.float32)]


def _assert_same_results(ours, theirs):
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        assert str(o.dtype) == str(t.dtype)
        np.testing.assert_array_equal(o.numpy(), t.numpy())


@pytest.mark.parametrize("data", UNIQUE_INPUTS, ids=range(len(UNIQUE_INPUTS)))
@pytest.mark.parametrize("return_inverse", [False, True])
@pytest.mark.parametrize("return_counts", [False, True])
def test_unique_matches_torch(data, return_inverse, return_counts):
    kwargs = {"return_inverse": return_inverse, "return_counts": return_counts}
    _assert_same_results(chainrule.unique(chainrule.tensor(data), **kwargs),
                         torch.unique(torch.tensor(data), **kwargs))
    _assert_same_results(chainrule.tensor(data).unique(sorted=True, **kwargs),
                         torch.tensor(data).unique(sorted=True, **kwargs))
    _assert_same_results(chainrule.unique_consecutive(chainrule.tensor(data), **kwargs),
                         torch.unique_consecutive(torch.tensor(data), **kwargs))
    for dim in range(-data.ndim, data.ndim):
        if 0 in data.shape or np.isnan(data).any():
            continue
        _assert_same_results(chainrule.unique(chainrule.tensor(data), dim=dim, **kwargs),
                             torch.unique(torch.tensor(data), dim=dim, **kwargs))
        _assert_same_results(chainrule.unique_consecutive(chainrule.tensor(data), dim=dim, **kwargs),
                             torch.unique_consecutive(torch.tensor(data), dim=dim, **kwargs))


def test_unique_consecutive_runs():
    data = np.array([1, 1, 2, 2, 3, 1, 1, 2])
    kwargs = {"return_inverse": True, "return_counts": True}
    _assert_same_results(chainrule.tensor(data).unique_consecutive(**kwargs),
                         torch.tensor(data).unique_consecutive(**kwargs))


def test_unique_is_recorded_but_not_differentiable():
    for lib in (chainrule, torch):
        x = lib.tensor([1.0, 2.0, 1.0], requires_grad=True)
        assert lib.unique(x).grad_fn.name() == "Unique2Backward0"
        assert lib.unique(x, dim=0).grad_fn.name() == "UniqueDimBackward0"
        with pytest.raises(NotImplementedError, match="the derivative for '_unique2' is not implemented."):
            lib.unique(x).sum().backward()


# ------------------------------------------------------- count, search
@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 1)])
def test_count_nonzero_matches_torch(dim):
    x = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    ours = chainrule.count_nonzero(chainrule.tensor(x), dim=dim)
    theirs = torch.count_nonzero(torch.tensor(x), dim=dim)
    _assert_same_results(ours, theirs)
    _assert_same_results(chainrule.tensor(x).count_nonzero(dim), torch.tensor(x).count_nonzero(dim))
    _assert_same_results(chainrule.count_nonzero(chainrule.tensor(3)), torch.count_nonzero(torch.tensor(3)))


SEARCH_CASES = [
    (np.array([1, 3, 5, 7]), np.array([3, 6, 9, 0, 1])),
    (np.array([1.0, 3.0, 5.0, 7.0]), np.array([[3.0, 6.0], [0.0, 9.0]])),
    (np.array([[1, 3, 5], [2, 4, 6]]), np.array([[3, 4], [3, 7]])),
    (np.array([1, 3, 5, 7]), np.array(5)),
    (np.array([1, 3, 5, 7]), np.zeros(0, np.int64)),
]


@pytest.mark.parametrize("sequence, values", SEARCH_CASES)
@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize("out_int32", [False, True])
def test_searchsorted_matches_torch(sequence, values, right, out_int32):
    kwargs = {"right": right, "out_int32": out_int32}
    _assert_same_results(chainrule.searchsorted(chainrule.tensor(sequence), chainrule.tensor(values), **kwargs),
                         torch.searchsorted(torch.tensor(sequence), torch.tensor(values), **kwargs))
    side = "right" if right else "left"
    _assert_same_results(chainrule.searchsorted(chainrule.tensor(sequence), chainrule.tensor(values), side=side),
                         torch.searchsorted(torch.tensor(sequence), torch.tensor(values), side=side))
    if sequence.ndim == 1:
        _assert_same_results(chainrule.bucketize(chainrule.tensor(values), chainrule.tensor(sequence), **kwargs),
                             torch.bucketize(torch.tensor(values), torch.tensor(sequence), **kwargs))


def test_searchsorted_scalar_and_sorter():
    _assert_same_results(chainrule.searchsorted(chainrule.tensor([1, 3, 5, 7]), 3, right=True),
                         torch.searchsorted(torch.tensor([1, 3, 5, 7]), 3, right=True))
    _assert_same_results(
        chainrule.searchsorted(chainrule.tensor([5, 1, 3]), chainrule.tensor([3, 6]),
                               sorter=chainrule.tensor([1, 2, 0])),
        torch.searchsorted(torch.tensor([5, 1, 3]), torch.tensor([3, 6]), sorter=torch.tensor([1, 2, 0])))
    _assert_same_results(chainrule.bucketize(2.5, chainrule.tensor([1.0, 2.0, 3.0])),
                         torch.bucketize(2.5, torch.tensor([1.0, 2.0, 3.0])))


def test_search_errors_match_torch():
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match=r"boundaries tensor must be 1 dimension, but got dim\(2\)"):
            lib.bucketize(lib.tensor([1]), lib.tensor([[1, 2]]))
        with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
            lib.searchsorted(lib.tensor([1, 2]), lib.tensor([1]), right=True, side="left")
        with pytest.raises(RuntimeError, match="first N-1 dimensions of boundaries tensor and input "
                                               "value tensor must match"):
            lib.searchsorted(lib.tensor([[1, 2], [3, 4]]), lib.tensor([[1], [2], [3]]))


@pytest.mark.parametrize("call, error, message", [
    (lambda lib: lib.median(lib.tensor([True])), NotImplementedError, "\"median_cpu\" not implemented for 'Bool'"),
    (lambda lib: lib.median(lib.tensor([True]), 0), NotImplementedError, "\"median_out\" not implemented for 'Bool'"),
    (lambda lib: lib.kthvalue(lib.tensor([True]), 1), NotImplementedError, "\"kthvalue_cpu\" not implemented for 'Bool'"),
    (lambda lib: lib.topk(lib.tensor([True]), 1), RuntimeError, "topk does not support bool dtypes on CPU"),
    (lambda lib: lib.searchsorted(lib.tensor([[1, 2], [3, 4]]), 3), RuntimeError,
     r"torch.searchsorted\(\): input value can be a scalar only when boundaries tensor dimension is 1, "
     r"but we got boundaries tensor dim\(2\) and input value's dim\(0\) numel\(1\)"),
])
def test_bool_and_scalar_errors_match_torch(call, error, message):
    for lib in (chainrule, torch):
        with pytest.raises(error, match=message):
            call(lib)
