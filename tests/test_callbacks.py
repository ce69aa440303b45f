"""chainrule.train callbacks: EarlyStopping restore semantics, checkpoints, CSV logs, schedulers,
gradient clipping, progress output, and the per-batch hook dispatch."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

import chainrule
from chainrule.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientClipping,
    LRSchedulerCallback,
    ModelCheckpoint,
    ProgressBar,
    TrainingState,
    fit,
)
from chainrule.train.callbacks import uses_hook

torch = pytest.importorskip("torch")


def tiny_model():
    return chainrule.nn.Linear(2, 1)


def attach(callback, model, epochs=10):
    state = TrainingState(model, None, None, epochs)
    callback.set_state(state)
    return state


def set_weight(model, value):
    with chainrule.no_grad():
        model.weight.fill_(value)


def run_epochs(callback, model, val_losses):
    """Drive ``callback`` like fit does: weights = epoch number, then on_epoch_end."""
    state = attach(callback, model, len(val_losses))
    callback.on_train_begin({})
    for epoch, loss in enumerate(val_losses):
        state.epoch = epoch
        set_weight(model, float(epoch))
        callback.on_epoch_end(epoch, {"loss": 1.0, "val_loss": loss})
        if state.stop_training:
            break
    callback.on_train_end({})
    return state


@pytest.mark.parametrize("losses,patience,stopped,best", [
    ([5, 4, 3, 3.5, 3.6, 3.7, 1], 3, 5, 2),   # stops after 3 epochs without improvement
    ([5, 4, 3, 2, 1], 3, None, 4),            # ran out of epochs: last epoch was best
    ([1, 2, 3, 0.5, 4, 5], 3, None, 3),       # improvement resets the count; ended by epochs
])
def test_early_stopping_stops_and_restores_best_weights(losses, patience, stopped, best):
    model = tiny_model()
    callback = EarlyStopping(patience=patience)
    state = run_epochs(callback, model, losses)
    assert callback.stopped_epoch == stopped and state.stop_training == (stopped is not None)
    assert callback.best_epoch == best
    np.testing.assert_array_equal(model.weight.detach().numpy(), np.full((1, 2), float(best)))


def test_early_stopping_counts_nan_as_no_improvement():
    model = tiny_model()
    stopping = EarlyStopping(patience=2)
    state = run_epochs(stopping, model, [1.0, float("nan"), float("nan"), 0.5])
    assert state.stop_training and stopping.stopped_epoch == 2 and stopping.best_epoch == 0
    assert model.weight.detach().numpy().tolist() == [[0.0, 0.0]]  # epoch 0's weights restored


def test_early_stopping_restores_even_when_another_callback_stops_training():
    model = tiny_model()
    early = EarlyStopping(patience=10)
    state = attach(early, model)
    for epoch, loss in enumerate([3.0, 1.0, 2.0]):
        set_weight(model, float(epoch))
        early.on_epoch_end(epoch, {"val_loss": loss})
    state.stop_training = True  # e.g. a time limit
    early.on_train_end({})
    np.testing.assert_array_equal(model.weight.detach().numpy(), np.full((1, 2), 1.0))


def test_early_stopping_options():
    model = tiny_model()
    keep = EarlyStopping(patience=1, restore_best_weights=False)
    run_epochs(keep, model, [1.0, 2.0])
    np.testing.assert_array_equal(model.weight.detach().numpy(), np.full((1, 2), 1.0))
    maximise = EarlyStopping(monitor="val_accuracy", mode="max", patience=2, min_delta=0.1)
    state = attach(maximise, model)
    for epoch, acc in enumerate([0.5, 0.55, 0.58]):  # below min_delta: no improvement
        maximise.on_epoch_end(epoch, {"val_accuracy": acc})
    assert maximise.best_epoch == 0 and state.stop_training
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        EarlyStopping(mode="lowest")


def test_early_stopping_state_round_trip():
    model = tiny_model()
    first = EarlyStopping(patience=3)
    run_epochs(first, model, [2.0, 1.0, 1.5])
    second = EarlyStopping(patience=3)
    second.load_state_dict(first.state_dict())
    assert second.wait == 1 and second.best_epoch == 1 and second.tracker.best == 1.0


def test_model_checkpoint_saves_best_and_last(tmp_path):
    model = tiny_model()
    best = tmp_path / "best.pt"
    checkpoint = ModelCheckpoint(best, save_best_only=True, save_last=True)
    run_epochs(checkpoint, model, [3.0, 1.0, 2.0])
    assert chainrule.load(str(best))["weight"].numpy().tolist() == [[1.0, 1.0]]
    assert chainrule.load(str(tmp_path / "best-last.pt"))["weight"].numpy().tolist() == [[2.0, 2.0]]
    every = ModelCheckpoint(tmp_path / "epoch{epoch}.pt", save_best_only=False)
    run_epochs(every, model, [3.0, 4.0])
    assert (tmp_path / "epoch1.pt").exists() and (tmp_path / "epoch2.pt").exists()
    assert not list(tmp_path.glob("*.tmp*"))


def test_csv_logger_writes_header_and_rows(tmp_path):
    path = tmp_path / "logs" / "log.csv"
    logger = CSVLogger(path)
    run_epochs(logger, tiny_model(), [0.5, 0.25])
    rows = list(csv.reader(path.open()))
    assert rows == [["epoch", "loss", "val_loss"], ["1", "1.0", "0.5"], ["2", "1.0", "0.25"]]
    appended = CSVLogger(path, append=True)
    run_epochs(appended, tiny_model(), [0.125])
    assert list(csv.reader(path.open()))[-1] == ["1", "1.0", "0.125"]
    assert len(list(csv.reader(path.open()))) == 4


def test_progress_bar_plain_prints_one_line_per_epoch():
    out = io.StringIO()
    bar = ProgressBar(file=out, use_tqdm=False)
    run_epochs(bar, tiny_model(), [0.5, 0.25, 0.125])
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and lines[1].startswith("epoch 2/3") and "val_loss=0.25" in lines[1].split()
    state = attach(bar, tiny_model(), epochs=1)
    bar.on_epoch_end(0, {"loss": 0.5, "time": 1.25})
    assert out.getvalue().splitlines()[-1] == "epoch 1/1 loss=0.5 (1.25s)"
    assert state.epochs == 1


def test_progress_bar_uses_tqdm_when_available():
    pytest.importorskip("tqdm")
    out = io.StringIO()
    bar = ProgressBar(file=out)
    run_epochs(bar, tiny_model(), [0.5, 0.25])
    assert "2/2" in out.getvalue()


def test_progress_bar_with_tqdm_counts_the_batches_of_each_epoch(monkeypatch):
    import sys
    import types

    from chainrule.train import fit

    bars = []

    class RecordingTqdm:
        def __init__(self, **kwargs):
            self.kwargs, self.count, self.closed, self.epochs = kwargs, 0, False, []
            bars.append(self)

        def update(self, n):
            self.count += n

        def set_postfix_str(self, text, refresh=True):
            pass

        def set_description_str(self, text, refresh=True):
            self.description = text

        def reset(self, total=None):
            self.epochs.append((self.description, total, self.count))
            self.count = 0

        def close(self):
            self.closed = True

    monkeypatch.setitem(sys.modules, "tqdm.auto", types.SimpleNamespace(tqdm=RecordingTqdm))
    model = tiny_model()
    train, valid = regression_loaders()
    fit(model, chainrule.nn.MSELoss(), chainrule.optim.SGD(model.parameters(), lr=0.01), train,
        valid, epochs=2, callbacks=[ProgressBar()], metrics=None)
    epochs_bar, batch_bar = bars
    assert epochs_bar.count == 2 and epochs_bar.closed and batch_bar.closed
    # reset at each epoch's start: (its label, its total, the count the previous epoch reached)
    assert batch_bar.kwargs["total"] == len(train)
    assert batch_bar.epochs == [("epoch 1", len(train), 0), ("epoch 2", len(train), len(train))]
    assert batch_bar.count == len(train)


def test_plain_progress_adds_no_batch_hook():
    bar = ProgressBar(use_tqdm=False)
    attach(bar, tiny_model(), epochs=1)
    bar.on_train_begin({})
    assert "on_batch_end" not in vars(bar)


def test_only_overridden_batch_hooks_are_used():
    class PerEpoch(Callback):
        def on_epoch_end(self, epoch, logs):
            pass

    assert not uses_hook(PerEpoch(), "on_batch_end")
    assert uses_hook(GradientClipping(1.0), "on_before_optimizer_step")
    assert not uses_hook(EarlyStopping(), "on_batch_begin")


def test_callbacks_declare_the_hooks_their_settings_need():
    optimizer = chainrule.optim.SGD(tiny_model().parameters(), lr=1.0)
    scheduler = chainrule.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    per_epoch, per_batch = LRSchedulerCallback(scheduler), LRSchedulerCallback(scheduler, "batch")
    assert "on_epoch_end" in per_epoch.implemented_hooks()
    assert not uses_hook(per_epoch, "on_batch_end")
    assert "on_batch_end" in per_batch.implemented_hooks()
    assert not uses_hook(per_batch, "on_epoch_end")
    plain = ProgressBar(use_tqdm=False)
    attach(plain, tiny_model(), epochs=1)
    plain.on_train_begin({})
    assert plain.implemented_hooks() == {"on_train_begin", "on_train_end", "on_epoch_begin",
                                         "on_epoch_end"}


def test_fit_calls_only_the_declared_hooks():
    train, valid = regression_loaders()

    class Counter(Callback):
        def __init__(self, per_batch):
            self.per_batch, self.batches, self.epochs = per_batch, 0, 0

        def implemented_hooks(self):
            hooks = super().implemented_hooks()
            return hooks if self.per_batch else hooks - {"on_batch_end", "on_epoch_end"}

        def on_batch_end(self, batch, logs):
            self.batches += 1

        def on_epoch_end(self, epoch, logs):
            self.epochs += 1

    counting, quiet = Counter(per_batch=True), Counter(per_batch=False)
    model = tiny_model()
    fit(model, chainrule.nn.MSELoss(), chainrule.optim.SGD(model.parameters(), lr=0.01), train,
        valid, epochs=2, callbacks=[counting, quiet], metrics=None, progress=False)
    assert (counting.batches, counting.epochs) == (2 * len(train), 2)
    assert (quiet.batches, quiet.epochs) == (0, 0)


def test_no_callback_rewrites_its_own_hooks(monkeypatch):
    import sys
    import types

    class SilentTqdm:
        def __init__(self, **kwargs):
            pass

        def __getattr__(self, name):
            return lambda *args, **kwargs: None

    monkeypatch.setitem(sys.modules, "tqdm.auto", types.SimpleNamespace(tqdm=SilentTqdm))
    train, valid = regression_loaders()
    model = tiny_model()
    optimizer = chainrule.optim.SGD(model.parameters(), lr=0.01)
    scheduler = chainrule.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    callbacks = [ProgressBar(), LRSchedulerCallback(scheduler, per="batch")]
    fit(model, chainrule.nn.MSELoss(), optimizer, train, valid, epochs=1, callbacks=callbacks,
        metrics=None)
    for callback in callbacks:  # both did run per batch (their own tests check the counts)
        assert not [name for name in vars(callback) if name.startswith("on_")]


def regression_loaders():
    from chainrule.utils.data import DataLoader, TensorDataset

    x = chainrule.randn(32, 2)
    y = x.sum(dim=1, keepdim=True)
    return DataLoader(TensorDataset(x, y), batch_size=8), DataLoader(TensorDataset(x, y),
                                                                       batch_size=32)


def test_batch_hooks_see_every_batch_and_can_stop_training():
    train, valid = regression_loaders()
    seen = []

    class Recorder(Callback):
        def on_batch_end(self, batch, logs):
            seen.append((self.state.epoch, batch, type(logs["loss"])))

        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                self.state.stop_training = True

    model = tiny_model()
    history = fit(model, chainrule.nn.MSELoss(), chainrule.optim.SGD(model.parameters(), lr=0.01),
                  train, valid, epochs=5, callbacks=[Recorder()], metrics=None, progress=False)
    assert len(history) == 2
    assert seen == [(e, b, float) for e in range(2) for b in range(4)]


def test_gradient_clipping_bounds_the_update():
    train, valid = regression_loaders()
    model = tiny_model()
    start = [p.detach().clone() for p in model.parameters()]
    lr = 1.0
    fit(model, chainrule.nn.MSELoss(), chainrule.optim.SGD(model.parameters(), lr=lr), train, valid,
        epochs=1, clip_grad_norm=0.01, metrics=None, progress=False)
    moved = np.sqrt(sum(float(((p.detach() - s) ** 2).sum().item())
                        for p, s in zip(model.parameters(), start)))
    assert 0 < moved <= 4 * lr * 0.01 + 1e-6  # 4 steps, each of norm at most lr * max_norm


def test_lr_scheduler_callback_per_epoch_and_per_batch():
    train, valid = regression_loaders()
    model = tiny_model()
    optimizer = chainrule.optim.SGD(model.parameters(), lr=1.0)
    scheduler = chainrule.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = fit(model, chainrule.nn.MSELoss(), optimizer, train, valid, epochs=3,
                  scheduler=scheduler, metrics=None, progress=False)
    assert history["lr"] == [1.0, 0.5, 0.25]
    optimizer = chainrule.optim.SGD(model.parameters(), lr=1.0)
    per_batch = chainrule.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    fit(model, chainrule.nn.MSELoss(), optimizer, train, valid, epochs=1,
        callbacks=[LRSchedulerCallback(per_batch, per="batch")], metrics=None, progress=False)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5**4)
    with pytest.raises(ValueError, match="per must be 'epoch' or 'batch'"):
        LRSchedulerCallback(per_batch, per="step")


def test_reduce_lr_on_plateau_reads_the_monitored_loss():
    model = tiny_model()
    optimizer = chainrule.optim.SGD(model.parameters(), lr=1.0)
    plateau = chainrule.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.1)
    callback = LRSchedulerCallback(plateau)
    attach(callback, model)
    for epoch, loss in enumerate([1.0, 1.0, 1.0]):
        callback.on_epoch_end(epoch, {"val_loss": loss})
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01)


def test_csv_logger_on_resume_drops_rows_of_epochs_that_are_redone(tmp_path):
    path = tmp_path / "log.csv"
    run_epochs(CSVLogger(path), tiny_model(), [0.5, 0.25, 0.125])  # epoch 3 was never checkpointed
    resumed = CSVLogger(path, append=True)
    state = attach(resumed, tiny_model(), epochs=4)
    state.epoch = 2  # the checkpoint holds two finished epochs
    resumed.on_train_begin({})
    for epoch, loss in [(2, 0.2), (3, 0.1)]:
        resumed.on_epoch_end(epoch, {"loss": 1.0, "val_loss": loss})
    resumed.on_train_end({})
    rows = list(csv.reader(path.open()))
    assert [row[0] for row in rows] == ["epoch", "1", "2", "3", "4"]
    assert rows[3] == ["3", "1.0", "0.2"]
    fresh = CSVLogger(path, append=True)  # a new run appending to an old log keeps it all
    run_epochs(fresh, tiny_model(), [0.05])
    assert len(list(csv.reader(path.open()))) == 6


def test_progress_bar_falls_back_to_plain_lines_without_tqdm(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    out = io.StringIO()
    run_epochs(ProgressBar(file=out), tiny_model(), [0.5, 0.25])
    assert out.getvalue().splitlines()[0].startswith("epoch 1/2 loss=1 val_loss=0.5")


def test_progress_bar_uses_tqdm_auto_which_picks_the_notebook_widget(monkeypatch):
    import sys
    import types

    pytest.importorskip("tqdm")
    made = []

    class FakeTqdm:
        def __init__(self, **kwargs):
            made.append(kwargs)
            self.updates = 0

        def set_postfix_str(self, text, refresh=True):
            self.postfix = text

        def update(self, n):
            self.updates += n

        def close(self):
            made.append("closed")

    monkeypatch.setitem(sys.modules, "tqdm.auto", types.SimpleNamespace(tqdm=FakeTqdm))
    bar = ProgressBar()
    state = attach(bar, tiny_model(), epochs=5)
    state.epoch = 2  # resumed: the bar starts where the run left off
    bar.on_train_begin({})
    instance = bar._bar
    bar.on_epoch_end(2, {"loss": 0.5})
    bar.on_train_end({})
    assert made[0]["total"] == 5 and made[0]["initial"] == 2 and made[-1] == "closed"
    assert instance.updates == 1 and instance.postfix == "loss=0.5"


def test_model_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    from chainrule import serialization

    model = tiny_model()
    path = tmp_path / "best.pt"
    checkpoint = ModelCheckpoint(path)
    state = attach(checkpoint, model)
    set_weight(model, 1.0)
    checkpoint.on_epoch_end(0, {"val_loss": 2.0})

    def crash(out, chunks):
        out.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(serialization, "_write_arrays", crash)
    set_weight(model, 2.0)
    state.epoch = 1
    with pytest.raises(OSError, match="disk full"):
        checkpoint.on_epoch_end(1, {"val_loss": 1.0})
    assert chainrule.load(str(path))["weight"].numpy().tolist() == [[1.0, 1.0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]


def _weights_per_epoch():
    snapshots = []

    class Snapshot(Callback):
        def on_epoch_end(self, epoch, logs):
            snapshots.append({k: v.detach().clone() for k, v in self.state.model.state_dict().items()})

    return snapshots, Snapshot()


def _assert_weights_equal(model, expected):
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), expected[key].numpy(), err_msg=key)


class _StopAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs):
        if epoch == self.epoch:
            self.state.stop_training = True


class _InterruptAt(Callback):
    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def on_batch_end(self, batch, logs):
        if (self.state.epoch, batch) == (self.epoch, self.batch):
            raise KeyboardInterrupt


def _noisy_regression(seed=0):
    from chainrule.utils.data import DataLoader, TensorDataset

    chainrule.manual_seed(seed)
    x = chainrule.randn(48, 2)
    y = x.sum(dim=1, keepdim=True) + 0.5 * chainrule.randn(48, 1)
    valid_x = chainrule.randn(16, 2)
    return (DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True),
            DataLoader(TensorDataset(valid_x, valid_x.sum(dim=1, keepdim=True)), batch_size=16))


@pytest.mark.parametrize("ending", ["epochs run out", "another callback stops", "early stop",
                                    "ctrl-c"])
def test_fit_restores_the_best_weights_whatever_ends_training(ending):
    train, valid = _noisy_regression()
    model = chainrule.nn.Sequential(chainrule.nn.Linear(2, 8), chainrule.nn.Tanh(),
                                    chainrule.nn.Linear(8, 1))
    snapshots, snapshot = _weights_per_epoch()
    early = EarlyStopping(patience=1 if ending == "early stop" else 100)
    extra = {"another callback stops": [_StopAt(epoch=4)],
             "ctrl-c": [_InterruptAt(epoch=5, batch=2)]}.get(ending, [])
    optimizer = chainrule.optim.SGD(model.parameters(), lr=0.2)  # noisy: best at epoch 2 of 8
    kwargs = dict(epochs=8, callbacks=[snapshot, early, *extra], metrics=None, progress=False)
    if ending == "ctrl-c":
        with pytest.raises(KeyboardInterrupt):
            fit(model, chainrule.nn.MSELoss(), optimizer, train, valid, **kwargs)
        history_losses = [float(v) for v in early.state.history["val_loss"]]
    else:
        history_losses = fit(model, chainrule.nn.MSELoss(), optimizer, train, valid,
                             **kwargs).valid_loss
    assert len(snapshots) == len(history_losses)
    best = int(np.argmin(history_losses))
    assert (len(history_losses) == 8) == (ending == "epochs run out")
    assert best < len(history_losses) - 1  # so restoring changes the weights
    _assert_weights_equal(model, snapshots[best])


def test_reduce_lr_on_plateau_through_fit_matches_torch():
    train, valid = _noisy_regression(seed=3)
    model = tiny_model()
    optimizer = chainrule.optim.SGD(model.parameters(), lr=0.5)
    plateau = chainrule.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=1, factor=0.5,
                                                              threshold=0.05)
    history = fit(model, chainrule.nn.MSELoss(), optimizer, train, valid, epochs=12,
                  scheduler=plateau, metrics=None, progress=False)
    parameter = torch.nn.Parameter(torch.zeros(1))
    reference_optimizer = torch.optim.SGD([parameter], lr=0.5)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(reference_optimizer, patience=1,
                                                           factor=0.5, threshold=0.05)
    expected = []
    for loss in history.valid_loss:
        expected.append(reference_optimizer.param_groups[0]["lr"])
        reference.step(loss)
    assert history["lr"] == pytest.approx(expected) and min(expected) < 0.5
