"""Every example runs end to end in --quick mode (headless, in a scratch directory) and writes
only into its own folder under runs/ (or --out); the ones that make a claim print the numbers
that back it, even in a quick run."""

from __future__ import annotations

import os
import re
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


def run_quick(example, tmp_path, *args):
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",  # one BLAS thread per test worker
           **os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": REPO}
    result = subprocess.run([sys.executable, os.path.join(REPO, "examples", example), "--quick",
                             *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_every_example_is_tested():
    tested = {*OUTPUTS, "vanishing_gradients.py", "resnet.py", "char_gpt.py"}  # char_gpt: test_char_gpt.py
    assert {name for name in os.listdir(os.path.join(REPO, "examples"))
            if name.endswith(".py")} == tested


def files_under(folder):
    return {os.path.relpath(os.path.join(root, name), folder)
            for root, _, names in os.walk(folder) for name in names}


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_runs_quick_and_writes_only_into_its_own_run_folder(example, tmp_path):
    result = run_quick(example, tmp_path)
    run_folder = os.path.join("runs", example.removesuffix(".py"))
    assert files_under(tmp_path) == {os.path.join(run_folder, name) for name in OUTPUTS[example]}
    for name in OUTPUTS[example]:
        assert (tmp_path / run_folder / name).read_bytes()[:4] == b"\x89PNG"
    if example == "seed002_linear_model.py":
        assert "all three agree" in result.stdout


def test_out_names_the_folder_an_example_writes_into(tmp_path):
    run_quick("seed001_trainer_early_stopping.py", tmp_path, "--out", "mine")
    assert files_under(tmp_path) == {os.path.join("mine", "loss.png")}


def test_vanishing_gradients_example_flags_the_sigmoid_net_and_not_the_cures(tmp_path):
    pytest.importorskip("matplotlib")
    result = run_quick("vanishing_gradients.py", tmp_path, "--out", "figures")
    assert files_under(tmp_path) == {os.path.join("figures", "grad_flow.png")}
    assert (tmp_path / "figures" / "grad_flow.png").read_bytes()[:4] == b"\x89PNG"
    sections = dict(section.split(":", 1) for section in result.stdout.split("== ")[1:])
    assert list(sections) == ["deep sigmoid", "ReLU + Kaiming init", "sigmoid + batch norm",
                              "sigmoid + skip connections"]
    counts = {title: int(text.split()[0]) for title, text in sections.items()}
    assert counts == {"deep sigmoid": 1, "ReLU + Kaiming init": 0, "sigmoid + batch norm": 0,
                      "sigmoid + skip connections": 0}
    assert "[vanishing]" in sections["deep sigmoid"]
    during = {title: text.split("monitor findings during training:")[1].split()[0]
              for title, text in sections.items()}
    assert during == {"deep sigmoid": "vanishing", "ReLU + Kaiming init": "none",
                      "sigmoid + batch norm": "none", "sigmoid + skip connections": "none"}
    # Even the quick run makes the example's point: the cures learn, the sick network does not.
    accuracy = {title: float(re.search(r"validation accuracy ([\d.]+)%", text)[1])
                for title, text in sections.items()}
    sick = accuracy.pop("deep sigmoid")
    assert sick < 55  # chance is 50%
    assert all(cured > sick + 10 for cured in accuracy.values()), accuracy


def test_resnet_example_trains_where_the_plain_network_does_not(tmp_path):
    result = run_quick("resnet.py", tmp_path)
    pattern = (r"(plain|resnet): (\d+) conv layers, mean \|grad\| at initialisation (\S+) "
               r"\(first conv\) vs (\S+) \(last conv\), final loss (\S+), test accuracy "
               r"(\S+)%")
    rows = {m[0]: m[1:] for m in re.findall(pattern, result.stdout)}
    assert sorted(rows) == ["plain", "resnet"], result.stdout
    for name, (layers, first, last, loss, accuracy) in rows.items():
        rows[name] = dict(layers=int(layers), first=float(first), last=float(last),
                          loss=float(loss), accuracy=float(accuracy))
    plain, resnet = rows["plain"], rows["resnet"]
    assert plain["layers"] == resnet["layers"] >= 20
    assert plain["first"] < 1e-4 * plain["last"]  # the plain stack's gradient has vanished
    assert resnet["first"] > 0.1 * resnet["last"]
    assert plain["accuracy"] < 40 and plain["loss"] > 1.2  # chance: 25%, loss ln 4 = 1.39
    assert resnet["accuracy"] > 90 and resnet["loss"] < 0.3
