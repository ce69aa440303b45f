"""examples/char_gpt.py: nanoGPT's model built from chainrule.nn computes what the same code
computes with torch, and the example trains and samples in --quick mode."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule
from examples.char_gpt import TEXT, char_splits, gpt_model, random_batch

torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = dict(block_size=8, n_layer=2, n_head=2, n_embd=16)


def test_text_splits_into_codes_and_alphabet():
    train, val, chars = char_splits("abc" * 33 + "a", validation_fraction=0.2)
    assert chars == ["a", "b", "c"] and len(train) == 80 and len(val) == 20
    assert train.dtype == np.int64 and "".join(chars[i] for i in train[:5]) == "abcab"
    x, y = random_batch(train, 3, 4, np.random.default_rng(0))
    assert x.shape == y.shape == (3, 4)
    np.testing.assert_array_equal((x + 1) % 3, y)  # the text cycles a, b, c
    with open(TEXT, encoding="utf-8") as f:
        assert len(char_splits(f.read())[2]) == 62


@pytest.mark.parametrize("tie_weights", [True, False])
def test_gpt_loss_and_gradients_match_torch_with_the_same_weights(tie_weights):
    ours = gpt_model(chainrule, 11, tie_weights=tie_weights, **CONFIG)
    theirs = gpt_model(torch, 11, tie_weights=tie_weights, **CONFIG).double()
    ours.double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: chainrule.from_numpy(v.numpy().copy()) for k, v in theirs.state_dict().items()})
    x, y = random_batch(np.arange(200) % 11, 4, CONFIG["block_size"], np.random.default_rng(0))
    our_logits, our_loss = ours(chainrule.from_numpy(x), chainrule.from_numpy(y))
    their_logits, their_loss = theirs(torch.from_numpy(x), torch.from_numpy(y))
    np.testing.assert_allclose(our_logits.detach().numpy(), their_logits.detach().numpy(), rtol=1e-9, atol=1e-12)
    our_loss.backward()
    their_loss.backward()
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-7, atol=1e-10, err_msg=name)


def test_example_trains_and_samples_in_quick_mode(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": REPO}
    result = subprocess.run([sys.executable, os.path.join(REPO, "examples", "char_gpt.py"), "--quick"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sample:" in result.stdout and "final val loss" in result.stdout
    lines = (tmp_path / "runs" / "char_gpt" / "losses.txt").read_text().splitlines()
    assert lines[0] == "step train_loss val_loss" and len(lines) == 3
    assert float(lines[-1].split()[2]) < np.log(62)  # better than a uniform guess
