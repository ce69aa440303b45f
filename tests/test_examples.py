"""Every seed example runs end to end in --quick mode (headless, in a scratch directory)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(name for name in os.listdir(os.path.join(REPO, "examples"))
                  if name.startswith("seed") and name.endswith(".py"))
OUTPUTS = {
    "seed000_autograd_and_mnist.py": ["classify.png"],
    "seed001_trainer_early_stopping.py": ["loss.png"],
    "seed002_linear_model.py": [],
    "seed003_sinc_regression.py": ["loss.png", "sinc_panel.png"],
}


def test_every_seed_has_an_example():
    assert EXAMPLES == sorted(OUTPUTS)


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_runs_quick(example, tmp_path):
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",  # one BLAS thread per test worker
           **os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": REPO}
    result = subprocess.run([sys.executable, os.path.join(REPO, "examples", example), "--quick"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in OUTPUTS[example]:
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    if example == "seed002_linear_model.py":
        assert "all three agree" in result.stdout
