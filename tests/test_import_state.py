"""``import chainrule`` changes no global state: NumPy's error settings stay the user's, and ops
still compute inf and nan without a warning, as PyTorch does (they silence NumPy only while
they run)."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import chainrule
from tests.conftest import require_torch


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_import_leaves_numpy_error_settings_alone():
    code = ("import numpy as np; np.seterr(over='raise'); before = np.geterr(); import chainrule; "
            "print(np.geterr() == before, np.geterr()['divide'])")
    assert _python(code) == "True warn"


def test_numpy_warns_in_user_code_after_import():
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        np.log(np.zeros(1))


# Each case once warned through NumPy unless the import silenced NumPy for the whole process.
SILENT_CASES = {
    "log(0)": lambda lib: lib.log(lib.zeros(2)),
    "0 / 0": lambda lib: lib.zeros(2) / lib.zeros(2),
    "1 / 0": lambda lib: 1 / lib.zeros(2),
    "float32 overflow": lambda lib: lib.tensor([1e30]) * 1e30,
    "exp overflow": lambda lib: lib.exp(lib.tensor([1000.0])),
    "sqrt(-1)": lambda lib: lib.sqrt(lib.tensor([-1.0])),
    "0 ** -1": lambda lib: lib.zeros(1) ** -1,
    "in-place overflow": lambda lib: lib.tensor([3e38]).add_(lib.tensor([3e38])),
    "inf - inf": lambda lib: lib.tensor([float("inf")]) - float("inf"),
    "tensor(1e40)": lambda lib: lib.tensor([1e40]),
    "cosh overflow": lambda lib: lib.cosh(lib.tensor([1000.0])),
    "matmul overflow": lambda lib: lib.full((2, 2), 1e30) @ lib.full((2, 2), 1e30),
}


@pytest.mark.parametrize("name", SILENT_CASES)
def test_ops_compute_inf_and_nan_silently(name):
    torch = require_torch()
    op = SILENT_CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = op(chainrule)
    np.testing.assert_array_equal(ours.numpy(), op(torch).numpy())


# Backward passes meet the same values: 1/x at 0, 0 * inf, sums that overflow.
SILENT_BACKWARD = {
    "log at 0": lambda lib, x: x.log().sum(),
    "sqrt at 0": lambda lib, x: x.sqrt().sum(),
    "x / 0": lambda lib, x: (x / lib.zeros(2)).sum(),
    "reciprocal at 0": lambda lib, x: x.reciprocal().sum(),
    "two float32 gradients summed to inf": lambda lib, x: (x * 3e38).sum() + (x * 3e38).sum(),
}


@pytest.mark.parametrize("name", SILENT_BACKWARD)
def test_backward_computes_inf_and_nan_silently(name):
    torch = require_torch()
    op = SILENT_BACKWARD[name]
    ours = chainrule.zeros(2, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        op(chainrule, ours).backward()
    theirs = torch.zeros(2, requires_grad=True)
    op(torch, theirs).backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_error_settings_come_back_after_an_op_fails():
    before = np.geterr()
    with pytest.raises(RuntimeError, match="must match"):
        chainrule.ones(2) + chainrule.ones(3)
    x = chainrule.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        (x * 2).backward()
    assert np.geterr() == before
