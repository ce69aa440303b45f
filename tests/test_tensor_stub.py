"""chainrule/_tensor.pyi: editors and type checkers see every Tensor method, and the stub ships."""

from __future__ import annotations

import ast
import fnmatch
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import chainrule

ROOT = Path(__file__).resolve().parent.parent
STUB = ROOT / "chainrule" / "_tensor.pyi"


def stub_tree() -> ast.Module:
    return ast.parse(STUB.read_text(encoding="utf-8"), filename=str(STUB))


def stub_class_members() -> dict[str, ast.stmt]:
    (tensor,) = [node for node in stub_tree().body
                 if isinstance(node, ast.ClassDef) and node.name == "Tensor"]
    members = {}
    for node in tensor.body:
        if isinstance(node, ast.FunctionDef):
            members.setdefault(node.name, node)  # a property's getter, not its setter
        elif isinstance(node, ast.AnnAssign):
            members[node.target.id] = node
    return members


def test_tensor_stub_is_current():
    # A fresh process: methods a test attaches to Tensor in this one must not enter the stub.
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "make_tensor_stub.py"),
                             "--check"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_stub_declares_every_runtime_attribute_of_tensor():
    runtime = {name for name in dir(chainrule.Tensor) if not name.startswith("_")}
    assert len(runtime) > 350  # the attached ops are there, not only _tensor.py's own methods
    assert sorted(runtime - stub_class_members().keys()) == []


def test_stub_declares_the_operators_and_private_state_the_package_uses():
    members = stub_class_members()
    for name in ("__add__", "__radd__", "__matmul__", "__getitem__", "__setitem__", "__eq__",
                 "__hash__", "__len__", "__iter__", "__bool__", "_data", "_bump_version"):
        assert name in members, name


def test_stub_module_has_the_functions_other_modules_import():
    from chainrule import _tensor

    functions = {node.name for node in stub_tree().body if isinstance(node, ast.FunctionDef)}
    defined_here = {name for name, value in vars(_tensor).items()
                    if inspect.isfunction(value) and value.__module__ == _tensor.__name__}
    assert {"make_tensor", "make_view", "to_array", "_blank_tensor"} <= defined_here
    assert functions == defined_here


@pytest.mark.parametrize("name, expected", [
    # an attached op: the receiver is ``self`` (the function calls it ``input``), keyword-only kept
    ("sum", "def sum(self, dim=None, keepdim=False, *, dtype=None) -> Tensor:"),
    # an annotated method of the class: builtins qualified, since Tensor.int would shadow int
    ("size", "def size(self, dim: builtins.int | None = None):"),
    ("dtype", "def dtype(self) -> _dtype:"),
    ("__eq__", "def __eq__(self, other) -> Tensor:  # type: ignore[override]"),
])
def test_stub_entry_has_the_runtime_signature(name, expected):
    assert name in stub_class_members()
    assert f"    {expected}\n" in STUB.read_text(encoding="utf-8")


def test_stub_entry_carries_the_first_docstring_line_and_the_defining_function():
    text = STUB.read_text(encoding="utf-8")
    first_line = chainrule.Tensor.sum.__doc__.strip().splitlines()[0]
    assert "    # chainrule._ops.reduction.sum\n    def sum(" in text
    assert ast.get_docstring(stub_class_members()["sum"]) == first_line


def test_stub_is_declared_as_package_data():
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["chainrule"]
    assert any(fnmatch.fnmatch("_tensor.pyi", pattern) for pattern in patterns)


def test_mypy_resolves_methods_through_the_stub(tmp_path, monkeypatch):
    api = pytest.importorskip("mypy.api", reason="mypy is not installed (not a test dependency)")
    monkeypatch.setenv("MYPYPATH", str(ROOT))  # this checkout, not an installed chainrule
    program = tmp_path / "use.py"
    program.write_text("import chainrule as torch\n"
                       "reveal_type(torch.ones(2).sum())\n"
                       "torch.ones(2).no_such_method()\n")
    stdout, _, _ = api.run(["--no-incremental", "--follow-imports=silent", "--cache-dir",
                            str(tmp_path / "cache"), str(program)])
    assert 'Revealed type is "chainrule._tensor.Tensor"' in stdout
    assert '"Tensor" has no attribute "no_such_method"' in stdout


@pytest.mark.parametrize("value, expected", [
    (None, "None"), (-1, "-1"), (1e-5, "1e-05"), ("mean", "'mean'"), (True, "True"),
    (float("inf"), "..."), (float("nan"), "..."), ((1, 2), "..."), (object(), "..."),
])
def test_a_default_is_written_as_a_literal_only_when_it_reads_back(value, expected, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    from make_tensor_stub import default_text

    assert default_text(value) == expected
