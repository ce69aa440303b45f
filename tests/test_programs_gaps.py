"""Small gaps that stopped or changed real PyTorch programs (see docs/programs.md)."""

from __future__ import annotations

import inspect
import os

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


def _exit_with_code_3_in_process_1(index):
    if index == 1:
        os._exit(3)


def _raise_in_process_1(index, message):
    if index == 1:
        raise ValueError(f"{message} {index}")


def test_multiprocessing_has_torchs_names():
    torch = require_torch()
    import chainrule.multiprocessing as mp

    missing = [name for name in torch.multiprocessing.__all__ if not hasattr(mp, name)]
    assert missing == []
    assert mp.get_sharing_strategy() == torch.multiprocessing.get_sharing_strategy()
    assert mp.get_all_sharing_strategies() == torch.multiprocessing.get_all_sharing_strategies()
    def parameters(fn):
        return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]

    assert parameters(mp.spawn) == parameters(torch.multiprocessing.spawn)


@pytest.mark.parametrize("fn, args, error", [
    (_raise_in_process_1, ("failed in process",), "ProcessRaisedException"),
    (_exit_with_code_3_in_process_1, (), "ProcessExitedException"),
], ids=["raises", "exits"])
def test_multiprocessing_spawn_reports_failures_like_torch(fn, args, error):
    torch = require_torch()
    import chainrule.multiprocessing as mp

    def failure(library):
        with pytest.raises(getattr(library, error)) as caught:
            library.start_processes(fn, args=args, nprocs=2, start_method="fork")
        lines = str(caught.value).splitlines()
        # the header, the traceback's first line, and the exception itself
        return (lines[:4] + lines[-1:], caught.value.error_index,
                getattr(caught.value, "exit_code", None))

    assert failure(mp) == failure(torch.multiprocessing)


def test_multiprocessing_spawn_runs_every_index(tmp_path):
    import chainrule.multiprocessing as mp

    mp.start_processes(_touch_marker, args=(str(tmp_path),), nprocs=3, start_method="fork")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0", "1", "2"]


def _touch_marker(index, folder):
    open(os.path.join(folder, str(index)), "w").close()


def test_multiprocessing_spawn_warns_that_it_always_spawns_like_torch():
    torch = require_torch()
    import chainrule.multiprocessing as mp

    def warning(library):
        with pytest.warns(FutureWarning) as caught:
            library.spawn(int, nprocs=1, start_method="fork")
        return str(caught[0].message)

    assert warning(mp) == warning(torch.multiprocessing)


def test_torch_saved_whole_module_loads_with_chainrule_classes_allowed(tmp_path):
    """word_language_model's generate.py: a model that real torch saved whole, loaded with
    ``safe_globals([torch.nn.modules.dropout.Dropout, ...])`` where ``torch`` is chainrule."""
    torch = require_torch()
    import numpy as np

    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Dropout(0.2))
    torch.save(theirs, tmp_path / "model.pt")
    nn = chainrule.nn
    with chainrule.serialization.safe_globals([nn.modules.container.Sequential,
                                               nn.modules.linear.Linear,
                                               nn.modules.dropout.Dropout]):
        ours = chainrule.load(tmp_path / "model.pt")
    assert repr(ours) == repr(theirs)
    x = np.ones((1, 2), np.float32)
    np.testing.assert_array_equal(ours.eval()(chainrule.tensor(x)).detach().numpy(),
                                  theirs.eval()(torch.tensor(x)).detach().numpy())
