"""Small gaps that stopped or changed real PyTorch programs (see docs/programs.md)."""

from __future__ import annotations

import pytest
from conftest import require_torch

import chainrule


def _cpu_only_torch():
    torch = require_torch()
    if torch.cuda.is_available():
        pytest.skip("the oracle torch has CUDA: its CPU-only answers cannot be compared")
    return torch


@pytest.mark.parametrize("name", ["synchronize", "current_device", "get_device_name"])
def test_cuda_calls_fail_like_cpu_only_torch(name):
    torch = _cpu_only_torch()
    from tests.torch_compare import raises_like_torch

    raises_like_torch(getattr(chainrule.cuda, name), getattr(torch.cuda, name))


@pytest.mark.parametrize("including_emulation", [True, False])
def test_cuda_is_bf16_supported_matches_cpu_only_torch(including_emulation):
    torch = _cpu_only_torch()
    assert (chainrule.cuda.is_bf16_supported(including_emulation)
            == torch.cuda.is_bf16_supported(including_emulation))


def test_cuda_amp_reached_as_attribute_under_the_shim(tmp_path, capsys):
    """nanoGPT's ``torch.cuda.amp.GradScaler(enabled=False)``: ``torch.cuda`` is a plain module
    whose ``amp`` is bound to it, not a subpackage."""
    from chainrule._torch_shim import run_script

    script = tmp_path / "scaler.py"
    script.write_text("import torch\nimport torch.cuda.amp\n"
                      "print(type(torch.cuda.amp.GradScaler(enabled=False)).__name__)\n")
    with pytest.warns(FutureWarning, match="is deprecated"):
        run_script(script, [])
    assert capsys.readouterr().out == "GradScaler\n"
