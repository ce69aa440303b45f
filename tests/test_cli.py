"""The ``chainrule`` command line: train on the embedded digits, evaluate a run, clean errors."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

import pytest

from chainrule.__main__ import main

torch = pytest.importorskip("torch")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def chainrule_cli(*args, cwd=None, env=None):
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",  # one BLAS thread per test worker
           **os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": REPO, **(env or {})}
    return subprocess.run([sys.executable, "-m", "chainrule", *args], cwd=cwd or REPO, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    result = chainrule_cli("train", "--epochs", "1", "--run-dir", str(run_dir), "--no-progress",
                           "--hidden", "32")
    assert result.returncode == 0, result.stderr
    return run_dir, result


def test_train_writes_a_complete_run_folder(trained_run):
    run_dir, result = trained_run
    assert "test accuracy:" in result.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["epochs_run"] == 1 and summary["config"]["hidden"] == [32]
    assert 0.3 < summary["test_accuracy"] <= 1.0  # one epoch is far better than chance (0.1)
    assert (run_dir / "model.pt").exists() and (run_dir / "train_state.pt").exists()
    rows = list(csv.reader((run_dir / "log.csv").open()))
    assert rows[0][:3] == ["epoch", "loss", "val_loss"] and len(rows) == 2
    for name in summary["plots"]:
        assert (run_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "loss.png" in summary["plots"]


def test_evaluate_rescores_the_saved_run(trained_run):
    run_dir, _ = trained_run
    summary = json.loads((run_dir / "summary.json").read_text())
    result = chainrule_cli("evaluate", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert f"test accuracy: {summary['test_accuracy']:.4f}" in result.stdout


@pytest.mark.parametrize("argv,message", [
    (["train", "--optimizer", "lbfgs"], "invalid choice: 'lbfgs'"),
    (["train", "--hidden", "12,x"], "comma-separated integers"),
    (["train", "--valid-fraction", "1.5"], "[0, 1)"),
    (["train", "--dataset", "/no/such/folder"], "unknown dataset"),
    (["evaluate", "/no/such/run"], "cannot evaluate run"),
    (["run", "/no/such/script.py"], "no such script"),
    (["frobnicate"], "invalid choice"),
    (["train", "--dropout", "1.5"], "--dropout: expected a number in [0, 1), got '1.5'"),
    (["train", "--lr", "-0.1"], "--lr: expected a finite positive number"),
    (["train", "--lr", "fast"], "--lr: expected a finite positive number, got 'fast'"),
    (["train", "--lr", "inf"], "--lr: expected a finite positive number, got 'inf'"),
    (["train", "--lr", "nan"], "--lr: expected a finite positive number, got 'nan'"),
    (["train", "--weight-decay", "-1"], "--weight-decay: expected a finite number >= 0"),
    (["train", "--weight-decay", "inf"], "--weight-decay: expected a finite number >= 0"),
    (["train", "--dropout", "nan"], "--dropout: expected a number in [0, 1), got 'nan'"),
    (["train", "--run-dir", "runs/{}"], "--run-dir: a run folder name cannot contain '{' or '}'"),
    (["train", "--valid-fraction", "0.99995"], "--valid-fraction 0.99995 leaves no training"),
    (["train", "--resume"], "--resume needs a run"),
    (["train", "--resume", "x", "--overwrite"], "--overwrite replaces it: choose one"),
    (["train", "--epochs", "many"], "--epochs: expected a positive integer, got 'many'"),
    (["train", "--batch-size", "0"], "--batch-size: expected a positive integer"),
    (["train", "--resume", "/no/such/state.pt"], "--resume: no such checkpoint"),
])
def test_bad_arguments_give_one_line_and_exit_code_2(argv, message, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("chainrule: error:")
    assert message in captured.err


def test_bad_arguments_in_a_subprocess_print_no_traceback(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = chainrule_cli("train", "--dataset", str(empty), "--epochs", "1")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_train_lenet5_with_sgd_and_no_validation(tmp_path):
    result = chainrule_cli("train", "--model", "cnn", "--epochs", "1", "--optimizer", "sgd",
                           "--lr", "0.05", "--valid-fraction", "0", "--no-progress",
                           "--run-dir", str(tmp_path / "cnn"))
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "cnn" / "summary.json").read_text())
    assert summary["config"]["model"] == "cnn" and summary["test_accuracy"] > 0.3
    assert "val_loss" not in summary["history"]


def test_run_executes_a_torch_script_on_chainrule(tmp_path):
    script = tmp_path / "script.py"
    script.write_text("import sys\nimport torch\n"
                      "print(type(torch.ones(2)).__module__.split('.')[0], sys.argv[1:])\n")
    result = chainrule_cli("run", str(script), "--flag", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "chainrule ['--flag', '1']"


FAKE_DOT = """#!/bin/sh
# Stands in for Graphviz's dot: -Tsvg -o PATH, DOT text on stdin.
while [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift;; esac; shift; done
{ echo '<svg xmlns="http://www.w3.org/2000/svg"><!--'; cat; echo '--></svg>'; } > "$out"
"""


def diagnose(tmp_path, *args, fake_dot=False):
    env = {}
    if fake_dot:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "dot").write_text(FAKE_DOT)
        (bin_dir / "dot").chmod(0o755)
        env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    run_dir = tmp_path / "run"
    result = chainrule_cli("train", "--epochs", "2", "--no-progress", "--diagnose",
                           "--run-dir", str(run_dir), *args, env=env)
    assert result.returncode == 0, result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    return run_dir, summary, result


def test_train_diagnose_writes_gradient_flow_graph_and_report(tmp_path):
    run_dir, summary, result = diagnose(tmp_path, "--hidden", "32", fake_dot=True)
    assert sorted(summary["diagnostics"]) == ["diagnostics.txt", "grad_flow.png", "graph.dot",
                                              "graph.svg"]
    assert (run_dir / "grad_flow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dot = (run_dir / "graph.dot").read_text()
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for name in ("fc1.weight", "fc1.bias", "logits.weight", "logits.bias"):
        assert f'label="{name}\\n' in dot
    for node in ("NllLossBackward0", "AddmmBackward0", "ReluBackward0"):
        assert f'label="{node}\\n' in dot
    assert dot in (run_dir / "graph.svg").read_text()  # the graph went through the dot program
    report = (run_dir / "diagnostics.txt").read_text()
    assert report.count("no problems found") == 2  # during training, and on the final batch
    assert "fc1.weight" in report.split("Gradient statistics")[1]
    assert len(summary["history"]["grad_norm/fc1.weight"]) == summary["epochs_run"] == 2
    assert "GradientMonitor" not in result.stderr


def test_train_diagnose_names_vanishing_gradients_of_a_deep_sigmoid_network(tmp_path):
    run_dir, summary, result = diagnose(tmp_path, "--activation", "sigmoid",
                                        "--hidden", ",".join(["32"] * 20))
    assert ("graph.svg" in summary["diagnostics"]) == (shutil.which("dot") is not None)
    report = (run_dir / "diagnostics.txt").read_text()
    assert "no problems found" not in report
    assert report.count("[vanishing]") == 2 and "skip (residual) connections" in report
    assert result.stderr.count("GradientMonitor (epoch 1): [vanishing]") == 1


def test_train_diagnose_a_cnn_graph_shows_convolutions(tmp_path):
    run_dir, summary, _ = diagnose(tmp_path, "--model", "cnn", "--valid-fraction", "0",
                                   "--epochs", "1")
    dot = (run_dir / "graph.dot").read_text()
    for name in ("0.weight", "3.weight", "11.bias", "ConvolutionBackward0",
                 "MaxPool2DWithIndicesBackward0"):
        assert f'label="{name}\\n' in dot
    assert "no problems found" in (run_dir / "diagnostics.txt").read_text()


def test_train_without_diagnose_writes_no_diagnostics(trained_run):
    run_dir, _ = trained_run
    assert json.loads((run_dir / "summary.json").read_text())["diagnostics"] == []
    assert not (run_dir / "diagnostics.txt").exists() and not (run_dir / "graph.dot").exists()


def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chainrule: error:") and "Traceback" not in err
    return err


def test_unusable_run_folder_or_checkpoint_gives_one_line(tmp_path, capsys, trained_run):
    run_dir, _ = trained_run
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    err = _one_line_error(capsys, ["train", "--run-dir", str(blocker), "--no-progress"])
    assert "cannot create run folder" in err
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "train_state.pt").write_bytes(b"not a checkpoint")
    err = _one_line_error(capsys, ["train", "--resume", str(copy), "--no-progress"])
    assert "--resume: cannot continue from" in err and "train_state.pt" in err
    state = str(run_dir / "train_state.pt")
    err = _one_line_error(capsys, ["train", "--resume", state, "--hidden", "16", "--run-dir",
                                   str(tmp_path / "r2"), "--no-progress"])
    assert "--resume: the run was trained with --hidden [32], not [16]" in err
    err = _one_line_error(capsys, ["train", "--resume", state, "--hidden", "32", "--optimizer",
                                   "sgd", "--run-dir", str(tmp_path / "r3"), "--no-progress"])
    assert "--optimizer 'adam', not 'sgd'" in err
    assert not (tmp_path / "r2").exists() and not (tmp_path / "r3").exists()


def test_failed_download_gives_one_line(tmp_path, capsys, monkeypatch):
    from chainrule import datasets

    monkeypatch.setattr(datasets.MNIST, "system_dirs", [])
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:1/a/", "http://127.0.0.1:1/b/"])
    err = _one_line_error(capsys, ["train", "--dataset", "mnist", "--data-root", str(tmp_path)])
    assert "cannot read dataset 'mnist'" in err and "127.0.0.1:1/b/" in err


def _write_idx_folder(folder, n_train=120, n_test=40, side=28):
    import gzip

    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 3, n).astype(np.uint8)
        images = (rng.random((n, side, side)) * 60).astype(np.uint8)
        images[np.arange(n), labels * 9 + 1, :] = 255  # one bright row per class: learnable
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
            (folder / f"{prefix}-{kind}-ubyte.gz").write_bytes(gzip.compress(header + array.tobytes()))


def test_train_on_an_idx_folder_then_unreadable_idx_files(tmp_path, capsys):
    folder = tmp_path / "idx"
    _write_idx_folder(folder)
    run_dir = tmp_path / "run"
    assert main(["train", "--dataset", str(folder), "--epochs", "3", "--hidden", "16",
                 "--no-progress", "--run-dir", str(run_dir), "--seed", "1"]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["config"]["num_classes"] == 3 and summary["test_accuracy"] > 0.6
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-8])
    err = _one_line_error(capsys, ["train", "--dataset", str(folder), "--epochs", "1"])
    assert "t10k-labels-idx1-ubyte.gz" in err


def test_resume_continues_a_run(tmp_path, trained_run):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run[0], run_dir)
    result = chainrule_cli("train", "--hidden", "32", "--epochs", "2", "--no-progress",
                           "--run-dir", str(run_dir), "--resume", str(run_dir / "train_state.pt"))
    assert result.returncode == 0, result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    first = json.loads((trained_run[0] / "summary.json").read_text())
    assert summary["epochs_run"] == 2
    assert summary["history"]["loss"][0] == first["history"]["loss"][0]
    rows = list(csv.reader((run_dir / "log.csv").open()))
    assert [row[0] for row in rows] == ["epoch", "1", "2"]


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_is_found_in_the_system_folder(tmp_path):
    from chainrule.train.recipes import load_images

    images, labels = load_images("fashion-mnist", False, str(tmp_path))
    assert tuple(images.shape) == (10000, 1, 28, 28) and int(labels.max()) == 9
    assert -1.0 <= float(images.min()) and float(images.max()) <= 1.0
