"""``chainrule train --model gpt``: a tiny character-level GPT trains end to end into a complete
run folder, bad text and foreign options are refused in one line, divergence exits 1, and
``chainrule evaluate`` re-scores the run after checking its config against its weights."""

from __future__ import annotations

import csv
import json
import math
import os

import numpy as np
import pytest
from test_cli import _one_line_error

from chainrule.__main__ import main
from chainrule.train.gpt import SHAKESPEARE, char_splits, gpt_model, validation_loss

TINY = ["--model", "gpt", "--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "8",
        "--max-steps", "20", "--eval-interval", "10", "--batch-size", "4"]


def strict_json(path):
    def refuse(constant):
        raise ValueError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def train(folder, *args):
    return main(["train", *TINY, "--run-dir", str(folder), *args])


@pytest.fixture(scope="module")
def gpt_run(tmp_path_factory):
    import contextlib
    import io

    run_dir = tmp_path_factory.mktemp("gpt") / "run"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert train(run_dir) == 0
    return run_dir, out.getvalue()


def test_run_folder_holds_config_weights_log_plot_samples_and_summary(gpt_run):
    run_dir, _ = gpt_run
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "config.json", "log.csv", "loss.png", "model.pt", "samples.txt", "summary.json"]
    config = strict_json(run_dir / "config.json")
    assert config["data"] == SHAKESPEARE  # the shipped text when --data is omitted
    assert {key: config[key] for key in ("block_size", "n_layer", "n_head", "n_embd", "max_steps",
                                         "eval_interval", "batch_size")} == {
        "block_size": 8, "n_layer": 1, "n_head": 2, "n_embd": 16, "max_steps": 20,
        "eval_interval": 10, "batch_size": 4}
    assert (config["lr"], config["weight_decay"], config["dropout"], config["seed"],
            config["optimizer"]) == (1e-3, 0.1, 0.0, 0, "adamw")
    assert config["vocab_size"] == len(config["vocab"]) == 62
    rows = list(csv.DictReader((run_dir / "log.csv").open()))
    assert [row["step"] for row in rows] == ["10", "20"]
    summary = strict_json(run_dir / "summary.json")
    assert summary["status"] == "finished" and summary["config"] == config
    assert summary["steps_run"] == 20 and summary["history"]["step"] == [10, 20]
    assert summary["history"]["val_loss"] == [float(row["val_loss"]) for row in rows]
    assert 3.0 < summary["val_loss"] < math.log(62)  # learning, from a uniform guess's 4.13
    sample = (run_dir / "samples.txt").read_text(encoding="utf-8")
    assert len(sample) == config["sample_length"] + 2  # the start character and a newline
    assert set(sample) <= set(config["vocab"])


def test_progress_is_one_plain_line_per_evaluation_interval(gpt_run):
    _, printed = gpt_run
    steps = [line for line in printed.splitlines() if line.startswith("step ")]
    assert [line.split(":")[0] for line in steps] == ["step 10/20", "step 20/20"]
    assert "\r" not in printed and "validation loss:" in printed


def test_evaluate_reports_the_summarys_validation_loss(gpt_run, capsys):
    run_dir, _ = gpt_run
    capsys.readouterr()
    assert main(["evaluate", str(run_dir)]) == 0
    val_loss = strict_json(run_dir / "summary.json")["val_loss"]
    assert capsys.readouterr().out == f"validation loss: {val_loss:.4f}\n"


def test_saved_weights_give_torch_the_same_validation_loss(gpt_run):
    import chainrule

    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    run_dir, _ = gpt_run
    weights = chainrule.load(run_dir / "model.pt", weights_only=True)
    config = strict_json(run_dir / "config.json")
    model = gpt_model(torch, config["vocab_size"], block_size=8, n_layer=1, n_head=2, n_embd=16)
    model.load_state_dict({key: torch.from_numpy(value.numpy()) for key, value in weights.items()})
    with open(SHAKESPEARE, encoding="utf-8") as handle:
        _, val, _ = char_splits(handle.read())
    theirs = validation_loss(torch, model, val, 8)
    assert theirs == pytest.approx(strict_json(run_dir / "summary.json")["val_loss"], rel=1e-5)


def test_same_seed_same_run_on_a_given_text(tmp_path):
    text = tmp_path / "poem.txt"
    text.write_text("the cat sat on the mat.\n" * 40, encoding="utf-8")
    assert train(tmp_path / "a", "--data", str(text), "--seed", "3") == 0
    assert train(tmp_path / "b", "--data", str(text), "--seed", "3") == 0
    first, second = (strict_json(tmp_path / name / "summary.json") for name in "ab")
    assert first["config"]["vocab"] == "\n .acehmnost"
    assert first["val_loss"] == second["val_loss"] and first["history"] == second["history"]


@pytest.mark.parametrize("content, message", [
    (None, "cannot read --data"),
    (b"", "is empty"),
    (b"  \n", "is empty"),
    (b"text\0with a NUL", "is binary"),
    (b"\xff\xfe\x00\x01", "is not UTF-8 text (byte 0 is 0xff)"),
    (b"too short for a block", "fewer than --block-size 8 + 2"),
])
def test_unusable_text_is_refused_in_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "data.txt"
    if content is not None:
        path.write_bytes(content)
    err = _one_line_error(capsys, ["train", *TINY, "--data", str(path),
                                   "--run-dir", str(tmp_path / "run")])
    assert message in err and "data.txt" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, message", [
    ([*TINY, "--n-head", "3"], "--n-embd 16 is not divisible by --n-head 3"),
    ([*TINY, "--hidden", "8", "--epochs", "2"], "--model gpt does not take --hidden, --epochs"),
    ([*TINY, "--dataset", "mnist"], "--model gpt does not take --dataset"),
    ([*TINY, "--nproc", "2"], "--model gpt does not take --nproc"),
    ([*TINY, "--resume", "somewhere"], "gpt runs cannot be resumed"),
    ([*TINY, "--optimizer", "sgd"], "--model gpt trains with AdamW, not --optimizer sgd"),
    (["--model", "mlp", "--block-size", "8"], "--model mlp does not take --block-size"),
    (["--data", "x.txt"], "--model mlp does not take --data"),
])
def test_options_of_the_other_kind_of_model_are_refused(capsys, argv, message):
    assert message in _one_line_error(capsys, ["train", *argv])


def test_a_diverging_run_stops_with_exit_1_and_a_strict_summary(tmp_path, capsys):
    assert train(tmp_path / "run", "--lr", "1e37") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training diverged" in err and "at step" in err
    summary = strict_json(tmp_path / "run" / "summary.json")
    assert summary["status"] == "diverged" and summary["val_loss"] is None
    assert not (tmp_path / "run" / "model.pt").exists()


def test_resuming_a_gpt_run_is_refused(gpt_run, capsys):
    run_dir, _ = gpt_run
    err = _one_line_error(capsys, ["train", "--resume", str(run_dir)])
    assert "is a gpt run, and gpt runs cannot be resumed" in err


def _edited_copy(run_dir, tmp_path, **changes):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    summary = strict_json(copy / "summary.json")
    summary["config"].update(changes)
    (copy / "summary.json").write_text(json.dumps(summary))
    return copy


@pytest.mark.parametrize("changes, message", [
    ({"n_layer": 3}, "n_layer is 3 in the config but 1 in the weights"),
    ({"n_embd": 10**6}, "n_embd is 1000000 in the config but 16 in the weights"),
    ({"block_size": "8"}, "block_size is '8' in the config but 8 in the weights"),
    ({"n_head": 3}, "n_head 3 does not divide n_embd 16"),
    ({"vocab": "abc"}, "vocab must be a string of vocab_size (62) characters"),
    ({"model": "rnn"}, "model must be one of 'mlp', 'cnn', 'gpt', got 'rnn'"),
])
def test_evaluate_checks_the_config_against_the_weights(gpt_run, tmp_path, capsys, changes,
                                                        message):
    copy = _edited_copy(gpt_run[0], tmp_path, **changes)
    err = _one_line_error(capsys, ["evaluate", str(copy)])
    assert message in err and "summary.json" in err


def test_evaluate_refuses_a_text_that_changed(gpt_run, tmp_path, capsys):
    text = tmp_path / "other.txt"
    text.write_text(open(SHAKESPEARE, encoding="utf-8").read()[:-1], encoding="utf-8")
    copy = _edited_copy(gpt_run[0], tmp_path, data=str(text))
    err = _one_line_error(capsys, ["evaluate", str(copy)])
    assert "other.txt changed since the run was trained" in err


def test_mlp_keeps_its_own_defaults(tmp_path):
    assert main(["train", "--epochs", "1", "--hidden", "8", "--no-progress",
                 "--run-dir", str(tmp_path / "run")]) == 0
    config = strict_json(tmp_path / "run" / "config.json")
    assert (config["batch_size"], config["weight_decay"]) == (64, 0.0)


def test_validation_loss_is_exact_and_covers_every_window():
    import chainrule

    model = gpt_model(chainrule, 5, block_size=4, n_layer=1, n_head=1, n_embd=8)
    codes = np.arange(23) % 5  # five whole windows of four, plus one target
    full = validation_loss(chainrule, model, codes, 4, batch_size=2)
    assert full == pytest.approx(validation_loss(chainrule, model, codes, 4, batch_size=64))
    with chainrule.no_grad():
        x = chainrule.from_numpy(codes[:20].reshape(5, 4))
        y = chainrule.from_numpy(codes[1:21].reshape(5, 4))
        assert full == pytest.approx(model.eval()(x, y)[1].item())
    with pytest.raises(ValueError, match="4 characters hold no window of 5"):
        validation_loss(chainrule, model, codes[:4], 4)


def test_ctrl_c_keeps_the_weights_and_a_summary(tmp_path, capsys, monkeypatch):
    import chainrule.train.gpt

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(chainrule.train.gpt, "estimate_loss", interrupt)
    assert train(tmp_path / "run") == 130
    err = capsys.readouterr().err
    assert "interrupted after 0 steps" in err and "cannot be resumed" in err
    assert strict_json(tmp_path / "run" / "summary.json")["status"] == "interrupted"
    assert (tmp_path / "run" / "model.pt").exists()


def test_default_run_folder_is_named_after_the_text(tmp_path, monkeypatch):
    import time

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(time, "strftime", lambda *args: "20261204-120000")
    text = tmp_path / "poem.txt"
    text.write_text("the cat sat on the mat.\n" * 40, encoding="utf-8")
    assert main(["train", *TINY, "--data", str(text)]) == 0
    assert os.listdir(tmp_path / "runs") == ["gpt-poem-20261204-120000"]


def test_overwriting_a_gpt_run_leaves_none_of_its_files(gpt_run, tmp_path, capsys):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(gpt_run[0], run_dir)
    assert "already holds a run" in _one_line_error(capsys, ["train", *TINY, "--run-dir", str(run_dir)])
    assert train(run_dir, "--lr", "1e37", "--overwrite") == 1
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.json", "summary.json"]
