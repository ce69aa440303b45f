"""The backward engine itself: gradients meeting at a node, and a core loop kept short."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pytest

import chainrule
from tests.conftest import require_torch


def _second_derivative(lib, value: float) -> tuple[float, float]:
    x = lib.tensor(value, requires_grad=True)
    y = x * x * x
    z = y.sin() + y.exp()  # y's gradients from two branches meet at y's node
    (dz,) = lib.autograd.grad(z, x, create_graph=True)
    (d2z,) = lib.autograd.grad(dz, x)
    return dz.item(), d2z.item()


def test_gradients_that_meet_are_summed_into_the_graph_under_create_graph():
    torch = require_torch()
    ours = _second_derivative(chainrule, 0.7)
    theirs = _second_derivative(torch, 0.7)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_gradients_that_meet_are_plain_arrays_without_create_graph():
    x = chainrule.tensor([0.5, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    (y * y + y).sum().backward()
    assert y.grad.grad_fn is None and not y.grad.requires_grad
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.detach().numpy() + 1)


@pytest.mark.parametrize("path", ["chainrule/autograd/engine.py", "chainrule/autograd/function.py"])
def test_every_function_of_the_engine_reads_in_one_sitting(path):
    ruff = pytest.importorskip("ruff", reason="ruff measures cyclomatic complexity")
    root = pathlib.Path(chainrule.__file__).parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "C901", "--config",
         "lint.mccabe.max-complexity=10", "--no-cache", str(root / path)],
        capture_output=True, text=True)
    assert result.returncode == 0, f"ruff {ruff.__name__}: {result.stdout}"
