"""chainrule.train: metrics (against torch), History, fit/evaluate/predict, exact resume, memory."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

import chainrule
from chainrule.train import (
    Callback,
    History,
    accuracy,
    confusion_matrix,
    evaluate,
    fit,
    mean_absolute_error,
    predict,
    top_k_accuracy,
)

torch = pytest.importorskip("torch")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def classification_data(n=64, features=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5).astype(np.int64)
    return chainrule.tensor(x), chainrule.tensor(y % classes)


def small_mlp(features=4, classes=3):
    nn = chainrule.nn
    return nn.Sequential(nn.Linear(features, 16), nn.ReLU(), nn.Linear(16, classes))


def loaders(batch_size=8):
    from chainrule.utils.data import DataLoader, TensorDataset

    x, y = classification_data()
    train = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)
    valid = DataLoader(TensorDataset(x, y), batch_size=32)
    return train, valid


# ---------------------------------------------------------------- metrics

@pytest.mark.parametrize("n,classes", [(1, 2), (10, 3), (37, 10)])
def test_accuracy_and_top_k_match_torch(n, classes):
    rng = np.random.default_rng(n)
    scores = rng.standard_normal((n, classes)).astype(np.float32)
    target = rng.integers(0, classes, n)
    expected = (torch.tensor(scores).argmax(1) == torch.tensor(target)).float().mean().item()
    assert accuracy(chainrule.tensor(scores), chainrule.tensor(target)) == pytest.approx(expected)
    k = min(2, classes)
    top = torch.tensor(scores).topk(k, dim=1).indices
    expected_k = (top == torch.tensor(target)[:, None]).any(1).float().mean().item()
    assert top_k_accuracy(chainrule.tensor(scores), chainrule.tensor(target), k=k) == \
        pytest.approx(expected_k)


def test_accuracy_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        accuracy(np.zeros((3, 2)), np.zeros(2))


def test_confusion_matrix_counts_true_rows_predicted_columns():
    scores = np.array([[0.9, 0.1, 0.0], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.0, 0.1, 0.9]])
    target = np.array([0, 1, 2, 2])
    cm = confusion_matrix(chainrule.tensor(scores), chainrule.tensor(target))
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 1, 0], [0, 1, 1]])
    assert cm.sum() == 4
    np.testing.assert_array_equal(confusion_matrix(np.array([1, 0]), np.array([1, 1])),
                                  [[0, 0], [1, 1]])


def test_mean_absolute_error_matches_torch_l1():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    expected = torch.nn.functional.l1_loss(torch.tensor(a), torch.tensor(b)).item()
    assert mean_absolute_error(chainrule.tensor(a), chainrule.tensor(b)) == pytest.approx(expected)


# ---------------------------------------------------------------- History

def test_history_records_unpacks_and_round_trips():
    history = History()
    for loss, val in [(1.0, 0.9), (0.8, 0.7), (0.6, 0.75)]:
        history.append({"loss": loss, "val_loss": val})
    history.append({"loss": 0.5, "val_loss": 0.8, "val_accuracy": 0.9})
    train_loss, valid_loss = history
    assert train_loss == [1.0, 0.8, 0.6, 0.5] and valid_loss == [0.9, 0.7, 0.75, 0.8]
    assert history.best_epoch == 2
    assert history.best_epoch_for("val_accuracy", "max") == 4
    assert math.isnan(history["val_accuracy"][0]) and len(history) == 4
    restored = History.from_dict(history.to_dict())
    assert restored.train_loss == history.train_loss and restored.best_epoch == 2


def test_history_without_validation_uses_training_loss():
    history = History()
    for loss in [3.0, 1.0, 2.0]:
        history.append({"loss": loss})
    assert history.best_epoch == 2 and history.valid_loss == []


# ---------------------------------------------------------------- fit / evaluate / predict

def test_fit_learns_and_records_python_floats():
    chainrule.manual_seed(0)
    train, valid = loaders()
    model = small_mlp()
    before = evaluate(model, chainrule.nn.CrossEntropyLoss(), valid)
    history = fit(model, chainrule.nn.CrossEntropyLoss(),
                  chainrule.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                  train, valid, epochs=8, progress=False)
    assert len(history) == 8
    assert all(type(v) is float for values in history.history.values() for v in values)
    assert history.valid_loss[-1] < before["loss"]
    after = evaluate(model, chainrule.nn.CrossEntropyLoss(), valid)
    assert after["accuracy"] > before["accuracy"]
    assert set(history.history) >= {"loss", "val_loss", "val_accuracy", "lr"}


def test_seed_call_with_patience_works_as_written():
    chainrule.manual_seed(1)
    from chainrule.utils.data import DataLoader, TensorDataset

    x = chainrule.linspace(-3, 3, 64).reshape(-1, 1)
    y = chainrule.sin(x)
    trainloader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    validloader = DataLoader(TensorDataset(x, y), batch_size=64)
    nn = chainrule.nn
    model = nn.Sequential(nn.Linear(1, 6), nn.ReLU(), nn.Linear(6, 1))
    criterion = nn.MSELoss()
    optimizer = chainrule.optim.Adam(model.parameters(), lr=0.05)
    history = fit(model, criterion, optimizer, trainloader, validloader, epochs=201, patience=3,
                  progress=False)
    train_loss, valid_loss = history
    assert len(train_loss) == len(valid_loss) <= 201
    assert "val_accuracy" not in history  # float targets: classification metrics are skipped
    # Best weights are restored: re-scoring gives the best recorded validation loss.
    assert evaluate(model, criterion, validloader, None)["loss"] == pytest.approx(min(valid_loss),
                                                                                  rel=1e-5)


@pytest.mark.parametrize("hook", [False, True])  # the plain loop and the per-batch-hook loop
def test_fit_stops_at_the_first_non_finite_loss_naming_epoch_and_batch(tmp_path, hook):
    from chainrule.train import NonFiniteLossError

    train, valid = loaders()
    model = small_mlp()
    optimizer = chainrule.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "state.pt"
    seen = []

    class Explode(Callback):
        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                optimizer.param_groups[0]["lr"] = 1e30

    class ExplodeAndWatch(Explode):
        def on_batch_end(self, batch, logs):
            seen.append(logs["loss"])

    callbacks = [ExplodeAndWatch() if hook else Explode()]
    with pytest.raises(NonFiniteLossError, match=r"loss is (nan|inf) at epoch 3, batch \d+; "
                                                 r"lower the learning rate \(lr=1e\+30\)") as error:
        fit(model, chainrule.nn.CrossEntropyLoss(), optimizer, train, valid, epochs=5,
            callbacks=callbacks, progress=False, checkpoint_path=path)
    assert error.value.epoch == 3 and isinstance(error.value, FloatingPointError)
    assert all(math.isfinite(loss) for loss in seen)
    state = chainrule.load(str(path), weights_only=False)
    assert state["epoch"] == 1 and len(state["history"]["loss"]) == 2  # the last finite epoch


def test_fit_on_nonfinite_stop_records_why_and_a_nan_validation_loss_counts():
    train, _ = loaders()
    x, y = classification_data()
    x.numpy()[0, 0] = np.nan
    from chainrule.utils.data import DataLoader, TensorDataset

    valid = DataLoader(TensorDataset(x, y), batch_size=32)
    model = small_mlp()
    history = fit(model, chainrule.nn.CrossEntropyLoss(), chainrule.optim.SGD(model.parameters(),
                  lr=0.1), train, valid, epochs=3, progress=False, on_nonfinite="stop")
    assert len(history) == 0
    assert history.diverged.startswith("training diverged: the validation loss is nan at epoch 1")
    with pytest.raises(ValueError, match="on_nonfinite must be 'raise' or 'stop'"):
        fit(model, None, None, train, epochs=1, on_nonfinite="ignore")


def test_evaluate_and_predict_leave_no_graph_and_restore_mode():
    train, valid = loaders()
    model = small_mlp()
    model.train()
    scores = evaluate(model, chainrule.nn.CrossEntropyLoss(), valid, ("accuracy", "top_k_accuracy"))
    assert model.training and set(scores) == {"loss", "accuracy", "top_k_accuracy"}
    output = predict(model, valid)
    assert tuple(output.shape) == (64, 3) and output.grad_fn is None and not output.requires_grad
    x, _ = classification_data()
    np.testing.assert_allclose(predict(model, x).numpy(), output.numpy(), rtol=1e-6)


def test_fit_rejects_unknown_metric():
    train, valid = loaders()
    model = small_mlp()
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        fit(model, chainrule.nn.CrossEntropyLoss(), chainrule.optim.SGD(model.parameters(), lr=0.1),
            train, valid, epochs=1, metrics=("f1",), progress=False)


def test_memory_stays_flat_over_many_epochs():
    train, valid = loaders()
    model = small_mlp()
    usage = []

    class Measure(Callback):
        def on_epoch_end(self, epoch, logs):
            usage.append(tracemalloc.get_traced_memory())
            tracemalloc.reset_peak()

    tracemalloc.start()
    try:
        fit(model, chainrule.nn.CrossEntropyLoss(), chainrule.optim.Adam(model.parameters()),
            train, valid, epochs=30, callbacks=[Measure()], progress=False)
    finally:
        tracemalloc.stop()
    warm = usage[5:]
    # Each epoch adds a handful of floats to History; a kept graph or tensor would add far more.
    assert warm[-1][0] - warm[0][0] < 64 * 1024
    assert max(peak for _, peak in warm[10:]) <= max(peak for _, peak in warm[:10]) * 1.1 + 32 * 1024


RESUME_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import chainrule as torch
    from chainrule import nn
    from chainrule.train import Callback, CSVLogger, fit
    from chainrule.utils.data import DataLoader, TensorDataset

    mode, checkpoint, out = sys.argv[1:4]
    torch.manual_seed(123)
    x, y = torch.randn(96, 4), torch.randint(0, 3, (96,))
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    valid = DataLoader(TensorDataset(x, y), batch_size=32)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)

    class Kill(Callback):
        def on_batch_end(self, batch, logs):  # mid-epoch: nothing of epoch 3 is saved
            if mode == "kill" and self.state.epoch == 2 and batch == 5:
                os.kill(os.getpid(), signal.SIGKILL)

        def on_epoch_end(self, epoch, logs):  # logged, but killed before the checkpoint
            if mode == "kill-after-log" and epoch == 2:
                os.kill(os.getpid(), signal.SIGKILL)

    log = CSVLogger(out + ".csv", append=mode == "resume")
    fit(model, nn.CrossEntropyLoss(), optimizer, loader, valid, epochs=5, patience=10,
        scheduler=scheduler, callbacks=[log, Kill()], progress=False,
        checkpoint_path=checkpoint, resume=checkpoint if mode == "resume" else None, seed=7)
    torch.save(model.state_dict(), out)
""")


@pytest.mark.parametrize("kill", ["kill", "kill-after-log"])
def test_resume_after_sigkill_gives_bit_identical_weights(tmp_path, kill):
    script = tmp_path / "train.py"
    script.write_text(RESUME_SCRIPT)

    def run(mode, checkpoint, out):
        return subprocess.run([sys.executable, str(script), mode, str(tmp_path / checkpoint),
                               str(tmp_path / out)], cwd=REPO, capture_output=True, text=True,
                              timeout=120)

    full = run("full", "full.ckpt", "full.pt")
    assert full.returncode == 0, full.stderr
    killed = run(kill, "part.ckpt", "part.pt")
    assert killed.returncode == -9 and (tmp_path / "part.ckpt").exists()
    assert not (tmp_path / "part.pt").exists()
    assert chainrule.load(str(tmp_path / "part.ckpt"), weights_only=False)["epoch"] == 1
    resumed = run("resume", "part.ckpt", "part.pt")
    assert resumed.returncode == 0, resumed.stderr
    expected = chainrule.load(str(tmp_path / "full.pt"))
    actual = chainrule.load(str(tmp_path / "part.pt"))
    assert list(expected) == list(actual)
    for key in expected:
        np.testing.assert_array_equal(actual[key].numpy(), expected[key].numpy(), err_msg=key)
    full_state = chainrule.load(str(tmp_path / "full.ckpt"), weights_only=False)
    resumed_state = chainrule.load(str(tmp_path / "part.ckpt"), weights_only=False)
    for state in (full_state, resumed_state):
        del state["history"]["time"]
    assert full_state["history"] == resumed_state["history"]
    assert full_state["history"]["lr"] == [0.02, 0.02, 0.01, 0.01, 0.005]
    assert full_state["optimizer"]["param_groups"] == resumed_state["optimizer"]["param_groups"]
    # The CSV log of the interrupted-then-resumed run is the uninterrupted run's, row for row.
    def log(name):
        rows = list(csv.reader((tmp_path / name).open()))
        timing = rows[0].index("time")
        return [row[:timing] + row[timing + 1:] for row in rows]

    assert log("part.pt.csv") == log("full.pt.csv") and len(log("full.pt.csv")) == 6


def test_resume_from_a_loaded_checkpoint(tmp_path):
    def train(epochs, **kwargs):
        chainrule.manual_seed(3)
        train_loader, valid = loaders()
        model = small_mlp()
        optimizer = chainrule.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        fit(model, chainrule.nn.CrossEntropyLoss(), optimizer, train_loader, valid, epochs=epochs,
            progress=False, **kwargs)
        return model

    uninterrupted = train(4)
    train(2, checkpoint_path=tmp_path / "state.pt")
    state = chainrule.load(str(tmp_path / "state.pt"), weights_only=False)
    resumed = train(4, resume=state)
    _same_weights(resumed, uninterrupted)


def _same_weights(model, other):
    for (key, a), b in zip(model.state_dict().items(), other.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=key)


# ---------------------------------------------------------------- plots

def test_plots_return_figures_and_write_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    from chainrule import plot

    grid = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5))
    figures = {
        "loss.png": plot.plot_loss([1.0, 0.5], [1.2, 0.7], path=tmp_path / "loss.png"),
        "classify.png": plot.view_classify(chainrule.rand(1, 28, 28),
                                           chainrule.nn.functional.softmax(chainrule.randn(1, 10), dim=1),
                                           path=tmp_path / "classify.png"),
        "panel.png": plot.plot_regression_panel(np.random.rand(20, 2), np.random.rand(20),
                                                lambda a, b: a * b, grid[0] + grid[1], *grid,
                                                path=tmp_path / "panel.png"),
        "cm.png": plot.plot_confusion_matrix(np.eye(3, dtype=np.int64), path=tmp_path / "cm.png"),
    }
    for name, figure in figures.items():
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
        assert len(figure.axes) >= 1
    assert len(figures["panel.png"].axes) == 3
    assert plot.plot_loss([1.0]).axes[0].get_xlabel() == "Epoch"  # no path: nothing written
    history = History({"loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.6, 0.7]})
    figure = history.plot(tmp_path / "history.png")
    assert (tmp_path / "history.png").read_bytes()[:4] == b"\x89PNG"
    lines = figure.axes[0].get_lines()
    assert [list(line.get_ydata()) for line in lines] == [[1.0, 0.5, 0.4], [1.1, 0.6, 0.7]]


def test_plots_without_matplotlib_say_how_to_install(monkeypatch):
    import sys

    from chainrule import plot

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'-m pip install "chainrule\[plot\]"'):
        plot.plot_loss([1.0])


def test_resuming_a_stopped_run_does_not_train_further(tmp_path):
    train, valid = loaders()
    model = small_mlp()

    class StopAfterTwo(Callback):
        def on_epoch_end(self, epoch, logs):
            self.state.stop_training = epoch == 1

    optimizer = chainrule.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "state.pt"
    fit(model, chainrule.nn.CrossEntropyLoss(), optimizer, train, valid, epochs=5,
        callbacks=[StopAfterTwo()], progress=False, checkpoint_path=path)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    history = fit(model, chainrule.nn.CrossEntropyLoss(), optimizer, train, valid, epochs=5,
                  progress=False, resume=path)
    assert len(history) == 2
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), weights[key].numpy())


def test_plots_are_headless_safe_without_a_display_or_backend(tmp_path):
    pytest.importorskip("matplotlib")
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "DISPLAY",
                                                            "WAYLAND_DISPLAY")}
    code = ("import sys, matplotlib\n"
            "from chainrule.plot import plot_loss, plot_confusion_matrix\n"
            "plot_loss([1.0, 0.5], [1.2, 0.6], path=sys.argv[1] + '/loss.png')\n"
            "plot_confusion_matrix([[3, 1], [0, 4]], path=sys.argv[1] + '/cm.png')\n"
            "print(matplotlib.get_backend().lower())\n")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "agg"
    for name in ("loss.png", "cm.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_resuming_from_a_pytorch_format_file_never_runs_its_code(tmp_path):
    import pickle

    import chainrule

    marker, path = tmp_path / "code-ran", tmp_path / "train_state.pt"
    chainrule.save({"model": _RunsCode(str(marker))}, path, format="torch")
    train, valid = loaders()
    model = small_mlp()
    with pytest.raises(pickle.UnpicklingError):
        fit(model, chainrule.nn.CrossEntropyLoss(), chainrule.optim.SGD(model.parameters(), lr=0.1), train,
            valid, epochs=1, progress=False, resume=str(path))
    assert not marker.exists()
