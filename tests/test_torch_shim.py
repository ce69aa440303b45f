"""``python -m chainrule run SCRIPT.py``: unchanged torch scripts run on chainrule."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from chainrule._torch_shim import run_script

RUNNER = "from chainrule._torch_shim import main_run; import sys; sys.exit(main_run(sys.argv[1:]))"


def run(tmp_path, source: str, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, "-c", RUNNER, str(script), *args],
                          capture_output=True, text=True, timeout=120)


LINEAR_FIT = """
    import torch

    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 50).reshape(50, 1)
    y = 3 * x + 0.5 + 0.01 * torch.randn(50, 1)
    w = torch.zeros(1, 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for step in range(300):
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= 0.1 * w.grad
            b -= 0.1 * b.grad
        w.grad.zero_()
        b.grad.zero_()
    print(f"w={w.item():.2f} b={b.item():.2f} loss={loss.item():.5f}")
    print(type(w).__module__)
"""


def test_linear_fit_with_autograd(tmp_path):
    result = run(tmp_path, LINEAR_FIT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("w=3.00 b=0.50")
    assert lines[1].startswith("chainrule")


def test_missing_attribute_names_the_feature(tmp_path):
    result = run(tmp_path, """
        import torch
        torch.definitely_not_a_torch_function(1)
    """)
    assert result.returncode == 1
    assert "NotImplementedError: torch.definitely_not_a_torch_function is not available in chainrule" \
        in result.stderr


def test_missing_nested_attribute_and_submodule(tmp_path):
    result = run(tmp_path, """
        import torch
        import torch.autograd
        try:
            torch.autograd.not_a_thing
        except NotImplementedError as error:
            print(error)
        try:
            import torch.not_a_submodule
        except NotImplementedError as error:
            print(error)
        try:
            import torch.not_a_submodule
        except ImportError:
            print("is an ImportError too")
        print(hasattr(torch, "not_a_thing"), getattr(torch, "not_a_thing", "default"))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "torch.autograd.not_a_thing is not available in chainrule",
        "torch.not_a_submodule is not available in chainrule",
        "is an ImportError too",
        "False default",
    ]


def test_aliases_resolve_to_chainrule(tmp_path):
    result = run(tmp_path, """
        import sys
        import chainrule
        import torch
        from torch.autograd import grad
        from torch import Tensor, float32
        print(torch.Tensor is chainrule.Tensor, grad is chainrule.autograd.grad)
        print(isinstance(torch.ones(1), Tensor), float32 is chainrule.float32)
        print(torch.autograd.Function is chainrule.autograd.Function)
        print(sys.argv[1:], __name__)
    """, "--lr", "0.1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["True True", "True True", "True", "['--lr', '0.1'] __main__"]


def test_exit_codes(tmp_path):
    assert run(tmp_path, "import sys\nsys.exit(3)\n").returncode == 3
    assert run(tmp_path, "import sys\nsys.exit()\n").returncode == 0
    assert run(tmp_path, "raise ValueError('boom')\n").returncode == 1
    missing = subprocess.run([sys.executable, "-c", RUNNER, str(tmp_path / "nope.py")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "nope.py" in missing.stderr


def test_sys_modules_restored_in_process(tmp_path):
    real_torch = pytest.importorskip("torch")
    script = tmp_path / "inner.py"
    script.write_text("import torch\nimport torch.autograd\nRESULT = torch.ones(2).sum().item()\n")
    saved_argv, saved_meta_path = list(sys.argv), list(sys.meta_path)
    run_script(script, ["x"])
    assert sys.modules["torch"] is real_torch
    assert sys.modules["torch.autograd"] is real_torch.autograd
    assert sys.argv == saved_argv and sys.meta_path == saved_meta_path


def test_sys_modules_restored_after_failure(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text("import torch\nraise KeyError('x')\n")
    before = sys.modules.get("torch")
    with pytest.raises(KeyError):
        run_script(script, [])
    assert sys.modules.get("torch") is before


def test_device_selection_idiom_runs_on_the_cpu(tmp_path):
    result = run(tmp_path, """
        import torch
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.cuda.manual_seed_all(0)
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        x = torch.ones(2).to(device)
        print(device, x.device, torch.cuda.device_count(), torch.backends.mps.is_available())
        torch.cuda.current_device()
    """)
    assert result.stdout.splitlines() == ["cpu cpu 0 False"]
    assert "AssertionError: Torch not compiled with CUDA enabled" in result.stderr


def test_top_level_namespace_holds_no_internal_modules():
    import types

    import chainrule

    modules = {name for name in dir(chainrule) if not name.startswith("_")
               and isinstance(getattr(chainrule, name), types.ModuleType)}
    assert modules <= {"autograd", "linalg", "utils", "nn", "optim", "datasets", "transforms",
                       "train", "plot", "diagnostics", "cli", "serialization", "testing", "cuda",
                       "backends", "accelerator", "distributions", "distributed", "vision", "onnx",
                       "amp", "cpu", "multiprocessing"}
    assert chainrule.linalg.__name__ == "chainrule.linalg"
