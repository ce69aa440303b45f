"""Where ops live: each family in the file named for it, and ``chainrule._ops`` /
``chainrule.linalg`` never importing the layers built on them (``nn``, ``optim``, ``train``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import chainrule

PACKAGE = Path(chainrule.__file__).parent
LOWER_LAYERS = ("_ops", "linalg")
HIGHER_LAYERS = ("chainrule.nn", "chainrule.optim", "chainrule.train", "chainrule.utils",
                 "chainrule.onnx", "chainrule.vision", "chainrule.distributed")


def _imported_modules(path: Path):
    """Every module a file imports, at its top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


@pytest.mark.parametrize("path", sorted(p.relative_to(PACKAGE).as_posix() for layer in LOWER_LAYERS
                                        for p in (PACKAGE / layer).glob("*.py")))
def test_ops_never_import_a_higher_layer(path):
    upward = [m for m in _imported_modules(PACKAGE / path) if m.startswith(HIGHER_LAYERS)]
    assert upward == [], f"chainrule/{path} imports {upward}"


# op -> the file in chainrule/_ops that defines it
FAMILIES = {
    "sin": "trigonometric", "cos": "trigonometric", "tan": "trigonometric",
    "tanh": "trigonometric", "sinh": "trigonometric", "asin": "trigonometric",
    "cumsum": "scan", "cumprod": "scan", "cummax": "scan", "logcumsumexp": "scan",
    "cdist": "distance", "pairwise_distance": "distance",
    "softmax": "softmax_family", "log_softmax": "softmax_family",
    "exp": "unary", "sigmoid": "unary", "sum": "reduction", "logsumexp": "reduction",
}


@pytest.mark.parametrize("name", FAMILIES)
def test_each_op_is_defined_in_its_familys_file(name):
    for function in (getattr(chainrule, name), getattr(chainrule.Tensor, name, None)):
        if function is not None:
            assert function.__module__ == f"chainrule._ops.{FAMILIES[name]}"


def test_only_tensor_reads_its_version_counter():
    """Everything else reads it through ``_version_counter()`` (to share it with a view) or
    bumps it with ``_bump_version()``; assigning a shared counter is allowed."""
    read = re.compile(r"\._vc\b(?!\s*=[^=])")
    direct = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
              if p.name != "_tensor.py" and read.search(p.read_text(encoding="utf-8"))]
    assert direct == []
