"""Whole objects: ``torch.save(model)`` writes PyTorch's zip format, and loading it needs
``weights_only=False`` (or ``add_safe_globals``), as in PyTorch 2.6 and later."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import chainrule
import chainrule.nn as nn
from tests.conftest import require_torch
from tests.test_torch_shim import RUNNER


def _trained():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    optimizer = chainrule.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(chainrule.randn(5, 3)).sum().backward()
    optimizer.step()
    return model, optimizer


def test_a_whole_module_round_trips_with_weights_only_false(tmp_path):
    model, _ = _trained()
    chainrule.save(model, tmp_path / "model.pth")
    assert zipfile.is_zipfile(tmp_path / "model.pth")
    loaded = chainrule.load(tmp_path / "model.pth", weights_only=False)
    assert type(loaded) is nn.Sequential and repr(loaded) == repr(model)
    x = chainrule.randn(2, 3)
    np.testing.assert_array_equal(loaded(x).detach().numpy(), model(x).detach().numpy())
    assert all(p.requires_grad for p in loaded.parameters())


def test_a_whole_module_is_refused_by_default(tmp_path):
    model, _ = _trained()
    chainrule.save(model, tmp_path / "model.pth")
    with pytest.raises(pickle.UnpicklingError, match="GLOBAL chainrule.nn.modules.container."
                                                     "Sequential was not an allowed global"):
        chainrule.load(tmp_path / "model.pth")


def test_model_and_optimizer_keep_sharing_parameters(tmp_path):
    model, optimizer = _trained()
    chainrule.save({"model": model, "optimizer": optimizer}, tmp_path / "both.pth")
    loaded = chainrule.load(tmp_path / "both.pth", weights_only=False)
    params = list(loaded["model"].parameters())
    assert loaded["optimizer"].param_groups[0]["params"][0] is params[0]
    assert set(map(id, loaded["optimizer"].state)) == set(map(id, params))
    loaded["optimizer"].step()  # the momentum buffers came along


def test_plain_checkpoints_keep_chainrule_format(tmp_path):
    model, _ = _trained()
    chainrule.save(model.state_dict(), tmp_path / "weights.pth")
    assert (tmp_path / "weights.pth").read_bytes()[:8] == b"CHRNCKPT"
    with pytest.raises(TypeError, match="cannot store an object of type Sequential"):
        chainrule.save(model, tmp_path / "strict.pth", format="chainrule")


TUTORIAL = """
    import torch
    from torch import nn

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.stack = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))

        def forward(self, x):
            return self.stack(self.flatten(x))

    model = NeuralNetwork()
    x = torch.randn(3, 2, 2)
    torch.save(model.state_dict(), "model_weights.pth")
    fresh = NeuralNetwork()
    fresh.load_state_dict(torch.load("model_weights.pth", weights_only=True))
    fresh.eval()
    assert torch.equal(fresh(x), model(x))

    torch.save(model, "model.pth")
    whole = torch.load("model.pth", weights_only=False)
    assert type(whole) is NeuralNetwork and torch.equal(whole(x), model(x))
    try:
        torch.load("model.pth")
    except Exception as error:
        print(type(error).__name__, "NeuralNetwork" in str(error))
    with torch.serialization.safe_globals([NeuralNetwork, nn.Flatten, nn.Sequential, nn.Linear,
                                           nn.ReLU]):
        print(type(torch.load("model.pth", weights_only=True)).__name__)
"""


def test_the_save_and_load_tutorial_runs_under_chainrule_run(tmp_path):
    script = tmp_path / "tutorial.py"
    script.write_text(textwrap.dedent(TUTORIAL))
    result = subprocess.run([sys.executable, "-c", RUNNER, str(script)], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["UnpicklingError True", "NeuralNetwork"]


def test_a_whole_torch_module_loads_as_chainrule_classes(tmp_path):
    torch = require_torch()
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
    torch.save(theirs, tmp_path / "model.pth")
    ours = chainrule.load(tmp_path / "model.pth", weights_only=False)
    assert type(ours) is nn.Sequential and type(ours[0]) is nn.Linear
    x = np.ones((1, 2), np.float32)
    np.testing.assert_array_equal(ours(chainrule.tensor(x)).detach().numpy(),
                                  theirs(torch.tensor(x)).detach().numpy())
