"""``chainrule train``/``evaluate`` never lose a run and never report failure as success:
run folders are never reused by accident, divergence and Ctrl-C end the run clearly, bad data
is refused before training, and ``--resume`` applies or refuses changed options explicitly."""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
from test_cli import REPO, _one_line_error, _write_idx_folder, chainrule_cli

from chainrule.__main__ import main

TINY = ["--epochs", "1", "--hidden", "8", "--no-progress"]


def strict_json(path):
    def refuse(constant):
        raise ValueError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def train(tmp_path, *args, name="run"):
    run_dir = tmp_path / name
    return main(["train", *TINY, "--run-dir", str(run_dir), *args]), run_dir


# ---------------------------------------------------------------- run folders

def test_a_folder_holding_a_run_is_refused_unless_overwritten(tmp_path, capsys):
    code, run_dir = train(tmp_path)
    assert code == 0
    first = (run_dir / "model.pt").read_bytes()
    err = _one_line_error(capsys, ["train", *TINY, "--run-dir", str(run_dir), "--seed", "5"])
    assert "already holds a run" in err and "--resume" in err and "--overwrite" in err
    assert (run_dir / "model.pt").read_bytes() == first
    (run_dir / "classify_0.png").unlink()  # --overwrite must not need every old file
    assert main(["train", *TINY, "--run-dir", str(run_dir), "--seed", "5", "--overwrite"]) == 0
    assert strict_json(run_dir / "summary.json")["config"]["seed"] == 5


def test_default_folders_of_runs_started_in_the_same_second_differ(tmp_path, monkeypatch):
    import time

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(time, "strftime", lambda *args: "20261204-120000")
    assert main(["train", *TINY]) == 0
    assert main(["train", *TINY, "--seed", "1"]) == 0
    folders = sorted(os.listdir(tmp_path / "runs"))
    assert folders == ["digits-20261204-120000", "digits-20261204-120000-2"]
    seeds = [strict_json(tmp_path / "runs" / f / "summary.json")["config"]["seed"] for f in folders]
    assert seeds == [0, 1]


def test_two_concurrent_processes_with_default_folders_both_keep_their_run(tmp_path):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONPATH": REPO}
    processes = [subprocess.Popen([sys.executable, "-m", "chainrule", "train", *TINY,
                                   "--seed", str(seed)], cwd=tmp_path, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for seed in (0, 1)]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    folders = sorted(os.listdir(tmp_path / "runs"))
    assert len(folders) == 2
    seeds = set()
    for folder in folders:
        summary = strict_json(tmp_path / "runs" / folder / "summary.json")
        seeds.add(summary["config"]["seed"])
        assert main(["evaluate", str(tmp_path / "runs" / folder)]) == 0
    assert seeds == {0, 1}


def test_read_only_run_folder_gives_one_line_before_training(tmp_path, capsys, monkeypatch):
    import os

    real_open = os.open

    def refuse_inside(path, flags, *args, **kwargs):
        if str(path).startswith(str(run_dir)) and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    run_dir = tmp_path / "read-only"
    run_dir.mkdir()
    # The tests run as root, whom chmod does not stop: refuse creating files there instead.
    monkeypatch.setattr(os, "open", refuse_inside)
    err = _one_line_error(capsys, ["train", *TINY, "--run-dir", str(run_dir)])
    assert f"cannot write to run folder {str(run_dir)!r}: [Errno 13] Permission denied" in err


def test_full_disk_while_training_gives_one_line(tmp_path, capsys, monkeypatch):
    import chainrule

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(chainrule, "save", full)
    err = _one_line_error(capsys, ["train", *TINY, "--run-dir", str(tmp_path / "run")])
    assert f"cannot write to run folder {str(tmp_path / 'run')!r}" in err
    assert "No space left on device" in err


# ---------------------------------------------------------------- divergence

@pytest.mark.parametrize("args", [["--lr", "1e30"], ["--optimizer", "sgd", "--lr", "1e20"]])
def test_a_diverging_run_fails_with_one_line_and_strict_json(tmp_path, capsys, args):
    code, run_dir = train(tmp_path, *args)
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training diverged" in err and "epoch 1, batch" in err
    assert "learning rate" in err
    summary = strict_json(run_dir / "summary.json")
    assert summary["status"] == "diverged" and summary["test_accuracy"] is None


def test_divergence_after_finite_epochs_keeps_the_last_finite_checkpoint(tmp_path, capsys):
    import chainrule

    code, run_dir = train(tmp_path, "--epochs", "2", "--lr", "0.002")
    assert code == 0
    # Resume at a learning rate that diverges: epoch 3 must not replace the checkpoint.
    assert main(["train", "--resume", str(run_dir), "--epochs", "4", "--lr", "1e30",
                 "--no-progress"]) == 1
    assert "epoch 3, batch" in capsys.readouterr().err
    state = chainrule.load(str(run_dir / "train_state.pt"), weights_only=False)
    assert state["epoch"] == 1
    assert all(np.isfinite(v.numpy()).all() for v in state["model"].values())
    assert main(["evaluate", str(run_dir)]) == 0
    summary = strict_json(run_dir / "summary.json")
    assert summary["status"] == "diverged" and summary["epochs_run"] == 2


def test_non_finite_pixels_are_refused_while_loading(tmp_path, capsys):
    folder = tmp_path / "idx"
    _write_idx_folder(folder)
    images = np.zeros((50, 28, 28), dtype=">f4")
    images[3, 4, 5] = np.nan
    header = bytes([0, 0, 0x0D, 3]) + np.asarray(images.shape, ">u4").tobytes()
    (folder / "train-images-idx3-ubyte.gz").unlink()
    (folder / "train-images-idx3-ubyte").write_bytes(header + images.tobytes())
    labels = np.zeros(50, np.uint8)
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    (folder / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + (50).to_bytes(4, "big")
                                                     + labels.tobytes())
    err = _one_line_error(capsys, ["train", "--dataset", str(folder), *TINY,
                                   "--run-dir", str(tmp_path / "run")])
    assert "train-images-idx3-ubyte: 1 pixel value(s) are NaN or infinite" in err
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- data checked before training

def _rewrite_idx(path, array):
    import gzip

    header = bytes([0, 0, {np.uint8: 8, np.int8: 9}[array.dtype.type], array.ndim])
    header += np.asarray(array.shape, ">u4").tobytes()
    path.write_bytes(gzip.compress(header + array.tobytes()))


@pytest.mark.parametrize("problem,message", [
    ("label count", "t10k-labels-idx1-ubyte.gz has 39 labels but"),
    ("negative label", "train-labels-idx1-ubyte.gz: labels must be class indices >= 0"),
    ("test image size", "test images are (1, 20, 20) but training images are (1, 28, 28)"),
    ("test label range", "test labels go up to 7 but training labels only to 2"),
])
def test_inconsistent_datasets_are_refused_while_loading(tmp_path, capsys, problem, message):
    folder = tmp_path / "idx"
    _write_idx_folder(folder)
    if problem == "label count":
        _rewrite_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(39, np.uint8))
    elif problem == "negative label":
        _rewrite_idx(folder / "train-labels-idx1-ubyte.gz", np.full(120, -1, np.int8))
    elif problem == "test image size":
        _rewrite_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((40, 20, 20), np.uint8))
    else:
        _rewrite_idx(folder / "t10k-labels-idx1-ubyte.gz", np.full(40, 7, np.uint8))
    err = _one_line_error(capsys, ["train", "--dataset", str(folder), *TINY,
                                   "--run-dir", str(tmp_path / "run")])
    assert message in err
    assert not (tmp_path / "run").exists()


def test_missing_mnist_says_how_to_fix_it_and_leaves_nothing_behind(tmp_path, capsys,
                                                                    monkeypatch):
    from chainrule import datasets

    monkeypatch.setattr(datasets.MNIST, "system_dirs", [])
    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:1/"])
    root = tmp_path / "data"
    err = _one_line_error(capsys, ["train", "--dataset", "mnist", "--data-root", str(root)])
    assert "--data-root" in err and "folder of IDX files" in err and "downloaded" in err
    assert not root.exists()


# ---------------------------------------------------------------- Ctrl-C

def test_ctrl_c_ends_with_one_line_exit_130_and_a_folder_evaluate_can_score(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONPATH": REPO}
    process = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "train", "--hidden", "8", "--epochs", "100000",
         "--patience", "100000", "--run-dir", str(run_dir)], cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    watchdog = threading.Timer(120, process.kill)  # a run that never prints must not hang
    watchdog.start()
    try:
        for line in process.stdout:
            if line.startswith("epoch 2/"):
                process.send_signal(signal.SIGINT)
                break
        stdout, stderr = process.communicate(timeout=120)
    finally:
        watchdog.cancel()
        process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
    assert f"resume with: chainrule train --resume {run_dir}" in stderr
    summary = strict_json(run_dir / "summary.json")
    assert summary["status"] == "interrupted" and summary["epochs_run"] >= 2
    assert chainrule_cli("evaluate", str(run_dir)).returncode == 0


# ---------------------------------------------------------------- --resume

def test_resume_applies_a_new_learning_rate_and_records_it(tmp_path, capsys):
    code, run_dir = train(tmp_path, "--epochs", "1")
    assert code == 0 and strict_json(run_dir / "summary.json")["config"]["lr"] == 0.001
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir), "--epochs", "2", "--lr", "0.01",
                 "--no-progress"]) == 0
    assert "resume: lr 0.001 -> 0.01" in capsys.readouterr().out
    summary = strict_json(run_dir / "summary.json")
    assert summary["config"]["lr"] == 0.01 and summary["history"]["lr"] == [0.001, 0.01]


def test_resume_continues_in_the_checkpoint_folder_with_the_whole_log(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, run_dir = train(tmp_path, "--epochs", "1")
    assert main(["train", "--resume", str(run_dir / "train_state.pt"), "--epochs", "2",
                 "--no-progress"]) == 0
    assert not (tmp_path / "runs").exists()
    rows = list(csv.reader((run_dir / "log.csv").open()))
    assert [row[0] for row in rows] == ["epoch", "1", "2"]


def test_resume_continues_an_early_stopped_run_given_more_epochs(tmp_path, capsys):
    import chainrule

    code, run_dir = train(tmp_path, "--epochs", "30", "--patience", "1", "--lr", "0.05")
    assert code == 0
    stopped = strict_json(run_dir / "summary.json")["epochs_run"]
    assert stopped < 30 and chainrule.load(str(run_dir / "train_state.pt"),
                                           weights_only=False)["stopped"]
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir), "--no-progress"]) == 0
    assert (f"resume: the run stopped early after epoch {stopped}; raise --epochs or --patience"
            in capsys.readouterr().out)
    assert strict_json(run_dir / "summary.json")["epochs_run"] == stopped
    assert main(["train", "--resume", str(run_dir), "--epochs", "40", "--no-progress"]) == 0
    assert strict_json(run_dir / "summary.json")["epochs_run"] > stopped


def test_resume_refuses_other_data_than_the_run_was_trained_on(tmp_path, capsys):
    folder = tmp_path / "idx"
    _write_idx_folder(folder)
    code, run_dir = train(tmp_path, "--dataset", str(folder))
    assert code == 0
    images = np.full((120, 28, 28), 9, np.uint8)
    _rewrite_idx(folder / "train-images-idx3-ubyte.gz", images)
    err = _one_line_error(capsys, ["train", "--resume", str(run_dir), "--epochs", "2"])
    assert "is not the data the run was trained on" in err


# ---------------------------------------------------------------- evaluate

def test_evaluate_checks_the_config_against_the_weights_before_building(tmp_path, capsys,
                                                                        monkeypatch):
    from chainrule.train import recipes

    code, run_dir = train(tmp_path)
    summary = strict_json(run_dir / "summary.json")
    summary["config"]["hidden"] = [40000, 40000]
    (run_dir / "summary.json").write_text(json.dumps(summary))

    def build_model(config):
        raise AssertionError("the model was built before the sizes were checked")

    monkeypatch.setattr(recipes, "build_model", build_model)
    err = _one_line_error(capsys, ["evaluate", str(run_dir)])
    assert "hidden is [40000, 40000] in the config but [8] in the weights" in err


# ---------------------------------------------------------------- what a newcomer sees

def test_summary_records_the_resolved_learning_rate(tmp_path):
    code, run_dir = train(tmp_path, "--optimizer", "sgd")
    assert code == 0
    config = strict_json(run_dir / "summary.json")["config"]
    assert config["lr"] == 0.1 and config == strict_json(run_dir / "config.json")


def test_piped_output_has_a_line_per_epoch_no_carriage_returns_and_ends_with_the_folder(tmp_path):
    run_dir = tmp_path / "run"
    result = chainrule_cli("train", "--epochs", "2", "--hidden", "8", "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("epoch 1/2 loss=") and "val_accuracy=" in lines[0]
    assert lines[0].endswith("s)")
    assert lines[-1].startswith(f"run saved to {run_dir}: ") and "summary.json" in lines[-1]


def test_help_reads_as_plain_text(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and "chainrule train" in text


def test_train_help_documents_what_resume_may_change(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--epochs, --patience, --lr and --data-root may change when resuming" in text


def test_missing_matplotlib_note_names_the_install_command(monkeypatch, capsys, tmp_path):
    from chainrule._optional import install_command
    from chainrule.cli.outputs import save_plots

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "chainrule.plot", None)
    assert save_plots(str(tmp_path), None, None, None, None, {}) == []
    assert f"(run {install_command('plot')})" in capsys.readouterr().err


def test_ctrl_c_outside_training_is_one_line_too(monkeypatch, capsys):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("chainrule.cli.train.load_splits", interrupted)
    assert main(["train", *TINY]) == 130
    assert capsys.readouterr().err == "chainrule: interrupted\n"


def test_resume_into_another_folder_copies_the_log_and_leaves_the_original(tmp_path):
    code, run_dir = train(tmp_path)
    original = (run_dir / "log.csv").read_text()
    other = tmp_path / "continued"
    assert main(["train", "--resume", str(run_dir), "--run-dir", str(other), "--epochs", "2",
                 "--no-progress"]) == 0
    assert [row[0] for row in csv.reader((other / "log.csv").open())] == ["epoch", "1", "2"]
    assert (run_dir / "log.csv").read_text() == original


def test_no_progress_prints_a_plain_line_per_epoch(tmp_path, capsys):
    code, _ = train(tmp_path, "--epochs", "2")
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and [line.split()[:2] for line in out[:2]] == [["epoch", "1/2"],
                                                                     ["epoch", "2/2"]]


def test_a_terminal_gets_a_live_bar_instead_of_lines(tmp_path, capsys, monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["train", "--epochs", "2", "--hidden", "8", "--run-dir", str(tmp_path / "r")]) == 0
    captured = capsys.readouterr()
    assert "\r" in captured.err and "2/2" in captured.err
    assert not captured.out.startswith("epoch 1/2")
