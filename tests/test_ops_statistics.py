"""NaN-skipping and paired reductions (nansum, nanmean, var_mean, std_mean, aminmax) and running
reductions (logcumsumexp, cummax, cummin) against torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")

from torch_compare import compare_with_torch  # noqa: E402

DTYPES = [np.float32, np.float64]
DIM_CASES = [((2, 3, 4), None), ((2, 3, 4), 1), ((2, 3, 4), -1), ((2, 3, 4), (0, 2)), ((5,), 0),
             ((), None), ((), 0), ((0, 3), 1), ((0, 3), 0)]


def sample(shape, dtype, low=-3.0, high=3.0, seed=0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def with_nans(shape, dtype, seed=0):
    x = sample(shape, dtype, seed=seed)
    x[np.random.default_rng(seed + 1).uniform(size=shape) < 0.3] = np.nan
    return x


# ------------------------------------------------------------ nansum, nanmean
@pytest.mark.parametrize("name", ["nansum", "nanmean"])
@pytest.mark.parametrize("shape, dim", DIM_CASES)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_nansum_nanmean_match_torch(name, shape, dim, keepdim, dtype):
    x = with_nans(shape, dtype)
    compare_with_torch(lambda lib, t: getattr(lib, name)(t, dim, keepdim), x)
    compare_with_torch(lambda lib, t: getattr(t, name)(dim=dim, keepdim=keepdim), x)
    if dim is None and not keepdim:
        compare_with_torch(lambda lib, t: getattr(lib, name)(t), x)


def test_nansum_nanmean_dtypes_and_errors():
    compare_with_torch(lambda lib, t: lib.nansum(t), np.array([1, 2, 3], np.int32))
    compare_with_torch(lambda lib, t: lib.nansum(t, dtype=lib.float64), np.array([np.nan, 1.0], np.float32))
    compare_with_torch(lambda lib, t: lib.nanmean(t, dtype=lib.float64), np.array([np.nan, 1.0, 2.0], np.float32))
    compare_with_torch(lambda lib, t: lib.nanmean(t), np.array([np.nan, np.nan]))
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="nanmean\\(\\): expected input to have floating point "
                                               "or complex dtype but got Long"):
            lib.nanmean(lib.tensor([1, 2]))


# ------------------------------------------------------------ var_mean, std_mean
def _compare_pair_of_tensors(op, x):
    """``op`` returns a plain tuple of two tensors from one node: compare both and the
    gradient of a weighted sum of both."""
    results = []
    for lib in (chainrule, torch):
        t = lib.tensor(x, requires_grad=True)
        first, second = op(lib, t)
        assert type(op(lib, t)) is tuple
        results.append((t, first, second))
    (ours_in, *ours), (theirs_in, *theirs) = results
    tol = 1e-5 if x.dtype == np.float32 else 1e-10
    for o, t in zip(ours, theirs):
        assert str(o.dtype) == str(t.dtype) and tuple(o.shape) == tuple(t.shape)
        assert o.grad_fn.name() == t.grad_fn.name()
        assert o.grad_fn is ours[0].grad_fn
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)
    for lib, first, second in ((chainrule, *ours), (torch, *theirs)):
        w1 = lib.tensor(np.linspace(-1, 2, first.numel()).reshape(tuple(first.shape)).astype(x.dtype))
        w2 = lib.tensor(np.linspace(3, -1, second.numel()).reshape(tuple(second.shape)).astype(x.dtype))
        ((first * w1).sum() + (second * w2).sum()).backward()
    np.testing.assert_allclose(ours_in.grad.numpy(), theirs_in.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0")
@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
@pytest.mark.parametrize("shape, dim", [c for c in DIM_CASES if 0 not in c[0]])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("correction", [None, 0, 2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_var_mean_std_mean_match_torch(name, shape, dim, keepdim, correction, dtype):
    x = sample(shape, dtype)
    reduced = np.prod(shape) if dim is None or not shape else np.prod(
        [shape[d] for d in np.atleast_1d(dim)])
    if correction and reduced <= correction:
        pytest.skip("no degrees of freedom: var's own backward differs from torch there (see report)")
    kwargs = {} if correction is None else {"correction": correction}
    _compare_pair_of_tensors(lambda lib, t: getattr(lib, name)(t, dim, keepdim=keepdim, **kwargs), x)


@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
def test_var_mean_std_mean_unbiased_forms(name):
    x = sample((3, 4), np.float64)
    _compare_pair_of_tensors(lambda lib, t: getattr(lib, name)(t, False), x)
    _compare_pair_of_tensors(lambda lib, t: getattr(lib, name)(t, 1, True, True), x)
    _compare_pair_of_tensors(lambda lib, t: getattr(lib, name)(t, unbiased=False), x)


@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
def test_var_mean_warns_as_torch_without_degrees_of_freedom(name):
    for lib in (chainrule, torch):
        with pytest.warns(UserWarning, match=f"{name}\\(\\): degrees of freedom is <= 0"):
            spread, mean = getattr(lib, name)(lib.ones(1), dim=0)
        assert np.isnan(spread.item()) and mean.item() == 1.0


def test_var_mean_std_mean_gradcheck():
    x = chainrule.tensor(sample((3, 4), np.float64, seed=2), requires_grad=True)
    for name in ("var_mean", "std_mean"):
        fn = lambda t, n=name: getattr(chainrule, n)(t, 1)  # noqa: E731
        assert chainrule.autograd.gradcheck(fn, (x,))
        assert chainrule.autograd.gradgradcheck(fn, (x,))


# -------------------------------------------------------------------- aminmax
@pytest.mark.parametrize("shape, dim", [((2, 3, 4), None), ((2, 3, 4), 1), ((2, 3, 4), -1), ((5,), 0),
                                        ((), None), ((), 0), ((0, 3), 1)])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_aminmax_matches_torch(shape, dim, keepdim, dtype):
    x = np.asarray(np.round(sample(shape, dtype), 0))  # rounding makes ties, which share the gradient
    for op in (lambda lib, t: lib.aminmax(t, dim=dim, keepdim=keepdim),
               lambda lib, t: t.aminmax(dim=dim, keepdim=keepdim)):
        ours, theirs = op(chainrule, chainrule.tensor(x)), op(torch, torch.tensor(x))
        assert type(ours).__name__ == type(theirs).__name__ == "aminmax"
        assert repr(ours).startswith("torch.return_types.aminmax(\nmin=tensor(")
        low, high = ours
        assert low is ours.min and high is ours.max
        compare_with_torch(lambda lib, t, op=op: op(lib, t).min, x)
        compare_with_torch(lambda lib, t, op=op: op(lib, t).max, x)
        compare_with_torch(lambda lib, t, op=op: op(lib, t).min * 2 + op(lib, t).max, x,
                           name="AddBackward0")


def test_aminmax_integers_and_errors():
    data = np.array([[3, 1, 4], [1, 5, 9]])
    for dim in (None, 0, 1):
        ours = chainrule.aminmax(chainrule.tensor(data), dim=dim)
        theirs = torch.aminmax(torch.tensor(data), dim=dim)
        for o, t in zip(ours, theirs):
            assert str(o.dtype) == str(t.dtype)
            np.testing.assert_array_equal(o.numpy(), t.numpy())
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="aminmax\\(\\): cannot compute aminmax over an empty "
                                               "dimension as the operation has no identity."):
            lib.aminmax(lib.ones(0))
        with pytest.raises(IndexError, match="aminmax: Expected reduction dim 0 to have non-zero size."):
            lib.aminmax(lib.ones(0, 3), dim=0)
        with pytest.raises(TypeError, match="aminmax\\(\\): argument 'dim' must be int, not tuple"):
            lib.aminmax(lib.ones(2, 3), dim=(0, 1))


def test_aminmax_gradcheck():
    x = chainrule.tensor(sample((3, 4), np.float64, seed=3), requires_grad=True)
    assert chainrule.autograd.gradcheck(lambda t: chainrule.aminmax(t, dim=1), (x,))
    assert chainrule.autograd.gradcheck(lambda t: tuple(chainrule.aminmax(t)), (x,))


# -------------------------------------------------------------- running scans
SCAN_CASES = [((6,), 0), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), -1), ((), 0), ((0, 3), 1), ((3, 0), 0)]


@pytest.mark.parametrize("shape, dim", SCAN_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_logcumsumexp_matches_torch(shape, dim, dtype):
    x = sample(shape, dtype)
    compare_with_torch(lambda lib, t: lib.logcumsumexp(t, dim), x)
    compare_with_torch(lambda lib, t: t.logcumsumexp(dim=dim), x)


def test_logcumsumexp_extremes_and_errors():
    x = np.array([0.0, -1000.0, 1000.0, -np.inf, 1000.0])
    compare_with_torch(lambda lib, t: lib.logcumsumexp(t, 0), x)
    for lib in (chainrule, torch):
        with pytest.raises(NotImplementedError, match="\"logcumsumexp_out_cpu\" not implemented for 'Long'"):
            lib.logcumsumexp(lib.tensor([1, 2]), 0)


def test_logcumsumexp_gradcheck_and_second_derivative():
    data = sample((3, 4), np.float64, seed=4)
    x = chainrule.tensor(data, requires_grad=True)
    assert chainrule.autograd.gradcheck(lambda t: chainrule.logcumsumexp(t, 1), (x,))
    assert chainrule.autograd.gradgradcheck(lambda t: chainrule.logcumsumexp(t, 1), (x,))


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("shape, dim", SCAN_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cummax_cummin_match_torch(name, shape, dim, dtype):
    x = np.round(sample(shape, dtype), 0)  # ties: the later index wins, as in PyTorch
    for op in (lambda lib, t: getattr(lib, name)(t, dim), lambda lib, t: getattr(t, name)(dim=dim)):
        ours, theirs = op(chainrule, chainrule.tensor(x)), op(torch, torch.tensor(x))
        assert type(ours).__name__ == type(theirs).__name__ == name
        assert repr(ours).startswith(f"torch.return_types.{name}(\nvalues=tensor(")
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
        assert ours.indices.dtype == chainrule.int64
        compare_with_torch(lambda lib, t, op=op: op(lib, t).values, x)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("data", [np.array([1.0, np.nan, 3.0, np.nan, 0.0]), np.array([3, 1, 4, 1, 5]),
                                  np.array([True, False, True])])
def test_cummax_cummin_nan_and_integers(name, data):
    ours = getattr(chainrule, name)(chainrule.tensor(data), 0)
    theirs = getattr(torch, name)(torch.tensor(data), 0)
    for o, t in zip(ours, theirs):
        assert str(o.dtype) == str(t.dtype)
        np.testing.assert_array_equal(o.numpy(), t.numpy())
    if data.dtype.kind == "f":
        compare_with_torch(lambda lib, t: getattr(lib, name)(t, 0).values, data)


def test_cummax_gradcheck():
    x = chainrule.tensor(sample((3, 5), np.float64, seed=5), requires_grad=True)
    for name in ("cummax", "cummin"):
        fn = lambda t, n=name: getattr(chainrule, n)(t, 1).values  # noqa: E731
        assert chainrule.autograd.gradcheck(fn, (x,))
        assert chainrule.autograd.gradgradcheck(fn, (x,))


def test_no_warnings_on_empty_inputs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chainrule.nanmean(chainrule.ones(0, 3), 0)
        chainrule.logcumsumexp(chainrule.ones(0, 3), 0)
