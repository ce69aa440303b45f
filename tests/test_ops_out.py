"""``out=``: one path (``maybe_out``) for every op that takes it, with PyTorch's checks of
``out``'s shape, dtype and gradient, compared with torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")

from torch_compare import raises_like_torch  # noqa: E402

SPD = [[4.0, 2.0], [2.0, 2.0]]

# name -> f(lib, out): an op called with ``out=``
CALLS = {
    "cat": lambda lib, out: lib.cat([lib.ones(2, 3), lib.zeros(1, 3)], out=out),
    "cat_dim1": lambda lib, out: lib.cat([lib.ones(2, 1), lib.zeros(2, 2)], 1, out=out),
    "cat_legacy_empty": lambda lib, out: lib.cat([lib.empty(0), lib.empty(0)], out=out),
    "stack": lambda lib, out: lib.stack([lib.ones(2, 3), lib.zeros(2, 3)], 1, out=out),
    "cholesky": lambda lib, out: lib.linalg.cholesky(lib.tensor(SPD), out=out),
    "cholesky_upper": lambda lib, out: lib.linalg.cholesky(lib.tensor(SPD), upper=True, out=out),
    "inv": lambda lib, out: lib.linalg.inv(lib.tensor(SPD), out=out),
    "solve": lambda lib, out: lib.linalg.solve(lib.tensor(SPD), lib.tensor([1.0, 2.0]), out=out),
    "sin": lambda lib, out: lib.sin(lib.ones(2, 3), out=out),
    "add": lambda lib, out: lib.add(lib.ones(2, 3), 1, out=out),
}


def _both(name, make_out):
    """``CALLS[name]`` on chainrule and torch, each writing into its own ``make_out(lib)``."""
    results = []
    for lib in (chainrule, torch):
        out = make_out(lib)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns when it resizes a non-empty out
            returned = CALLS[name](lib, out)
        assert returned is out
        results.append(out)
    return results


@pytest.mark.parametrize("name", CALLS)
def test_result_is_written_into_out_and_out_is_returned(name):
    ours, theirs = _both(name, lambda lib: lib.full((7,), -1.0))
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype == chainrule.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["cat", "stack", "sin"])
def test_out_keeps_its_own_dtype(name):
    ours, theirs = _both(name, lambda lib: lib.zeros(0, dtype=lib.float64))
    assert str(ours.dtype) == str(theirs.dtype) == "torch.float64"
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["cat", "stack"])
def test_out_that_is_a_view_writes_into_its_base(name):
    results = []
    for lib in (chainrule, torch):
        base = lib.zeros(2, 2, 3) if name == "stack" else lib.zeros(3, 3)
        returned = CALLS[name](lib, base[:])
        assert returned._base is base
        results.append(base)
    np.testing.assert_array_equal(results[0].numpy(), results[1].numpy())


@pytest.mark.parametrize("name", ["cat", "cat_dim1", "stack"])
@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_joining_into_a_narrower_dtype_raises_torchs_type_error(name, dtype):
    raises_like_torch(lambda: CALLS[name](chainrule, chainrule.zeros(0, dtype=getattr(chainrule, dtype))),
                      lambda: CALLS[name](torch, torch.zeros(0, dtype=getattr(torch, dtype))))


@pytest.mark.parametrize("name", ["cholesky", "inv", "solve"])
@pytest.mark.parametrize("dtype", ["int64", "float64", "float16", "bfloat16", "uint8", "bool"])
def test_linalg_out_must_have_the_result_dtype(name, dtype):
    raises_like_torch(lambda: CALLS[name](chainrule, chainrule.zeros(0, dtype=getattr(chainrule, dtype))),
                      lambda: CALLS[name](torch, torch.zeros(0, dtype=getattr(torch, dtype))))


GRAD_CALLS = {
    "cat": lambda lib, x, out: lib.cat([x, x], out=out),
    "stack": lambda lib, x, out: lib.stack([x, x], out=out),
    "cholesky": lambda lib, x, out: lib.linalg.cholesky(x, out=out),
    "inv": lambda lib, x, out: lib.linalg.inv(x, out=out),
    "solve": lambda lib, x, out: lib.linalg.solve(x, x, out=out),
    "sin": lambda lib, x, out: lib.sin(x, out=out),
}


@pytest.mark.parametrize("name", GRAD_CALLS)
@pytest.mark.parametrize("out_dtype", ["float32", "int64"])
def test_out_refuses_inputs_that_require_grad_before_checking_its_dtype(name, out_dtype):
    def call(lib):
        x = lib.tensor(SPD, requires_grad=True)
        return GRAD_CALLS[name](lib, x, lib.zeros(0, dtype=getattr(lib, out_dtype)))

    raises_like_torch(lambda: call(chainrule), lambda: call(torch))


@pytest.mark.parametrize("name", ["cat", "sin"])
def test_out_that_requires_grad_is_refused_while_grad_is_enabled(name):
    def call(lib):
        return CALLS[name](lib, lib.zeros(0, requires_grad=True))

    raises_like_torch(lambda: call(chainrule), lambda: call(torch))
    with chainrule.no_grad():
        assert call(chainrule).requires_grad
