"""Finding the source: docs/ops.md is current, a grad_fn names its defining class, py.typed ships."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_torch

import chainrule
from chainrule.nn import functional as F
from chainrule.nn.functional.loss import CrossEntropyIndices

ROOT = Path(__file__).resolve().parent.parent


def test_ops_table_is_current():
    # A fresh process: classes defined by doctests or tests in this one must not enter the table.
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "make_ops_table.py"), "--check"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ops_table_lists_every_class_of_a_shared_node_name():
    table = (ROOT / "docs" / "ops.md").read_text()
    assert "| `PowBackward0` | `PowScalar` | [chainrule/_ops/arithmetic.py]" in table
    rows = re.findall(r"^\| `NllLossBackward0` \| `(\w+)` \|", table, re.MULTILINE)
    assert sorted(rows) == ["CrossEntropyIndices", "NllLoss"]


def test_grad_fn_leads_to_the_class_that_recorded_it():
    logits = chainrule.randn(4, 3, requires_grad=True)
    loss = F.cross_entropy(logits, chainrule.tensor([0, 1, 2, 0]))
    node = loss.grad_fn
    assert node.name() == "NllLossBackward0"
    assert node._forward_cls is CrossEntropyIndices
    assert type(node).__module__ == "chainrule.nn.functional.loss"
    assert re.fullmatch(r"<NllLossBackward0 object at 0x[0-9a-f]+>", repr(node))


def test_custom_function_node_has_forward_cls_like_torch():
    torch = require_torch()

    def cube_class(autograd):
        class Cube(autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x ** 3

            @staticmethod
            def backward(ctx, grad):
                return grad

        return Cube

    ours, theirs = cube_class(chainrule.autograd), cube_class(torch.autograd)
    node = ours.apply(chainrule.ones(2, requires_grad=True)).grad_fn
    expected = theirs.apply(torch.ones(2, requires_grad=True)).grad_fn
    assert node.name() == expected.name() == "CubeBackward"
    assert node._forward_cls is ours and expected._forward_cls is theirs


def test_every_declared_package_data_file_exists():
    # pyproject.toml declares py.typed (editors and type checkers read the package's annotations).
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["chainrule"]
    assert "py.typed" in patterns
    missing = [p for p in patterns if not list((ROOT / "chainrule").glob(p))]
    assert missing == []
