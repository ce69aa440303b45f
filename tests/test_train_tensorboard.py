"""The TensorBoard callback: what fit logs, read back with TensorBoard's own event reader."""

from __future__ import annotations

import glob
import shutil

import numpy as np
import pytest

import chainrule
from chainrule.train import fit
from chainrule.train.tensorboard import TensorBoard
from chainrule.utils.data import DataLoader, TensorDataset

pytest.importorskip("tensorboard", reason="the optional 'tensorboard' package is not installed")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # noqa: E402


def _problem():
    chainrule.manual_seed(0)
    x = chainrule.randn(24, 3)
    y = (x[:, 0] > 0).long()
    train = DataLoader(TensorDataset(x[:16], y[:16]), batch_size=8)
    valid = DataLoader(TensorDataset(x[16:], y[16:]), batch_size=8)
    model = chainrule.nn.Linear(3, 2)
    optimizer = chainrule.optim.SGD(model.parameters(), lr=0.5)
    return model, optimizer, train, valid


def _scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    accumulator = EventAccumulator(str(log_dir))
    accumulator.Reload()
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}


def test_logs_losses_metrics_and_lr_per_epoch(tmp_path):
    model, optimizer, train, valid = _problem()
    scheduler = chainrule.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    board = TensorBoard(tmp_path)
    history = fit(model, chainrule.nn.CrossEntropyLoss(), optimizer, train, valid, epochs=3,
                  scheduler=scheduler, callbacks=[board], progress=False)
    scalars = _scalars(tmp_path)
    assert sorted(scalars) == ["loss", "lr", "val_accuracy", "val_loss"] == sorted(board.logged)
    for tag, values in scalars.items():
        assert [step for step, _ in values] == [1, 2, 3]
        np.testing.assert_allclose([v for _, v in values], history[tag], rtol=1e-6)
    assert [v for _, v in scalars["lr"]] == [0.5, 0.25, 0.125]
    assert board.writer is None  # closed at the end of training


def test_resumed_run_purges_the_epochs_it_redoes(tmp_path):
    model, optimizer, train, valid = _problem()
    checkpoint = tmp_path / "checkpoint.pt"
    fit(model, chainrule.nn.CrossEntropyLoss(), optimizer, train, valid, epochs=2,
        callbacks=[TensorBoard(tmp_path / "logs")], checkpoint_path=checkpoint, progress=False)
    shutil.copy(checkpoint, tmp_path / "after_epoch_2.pt")
    # A run that got as far as epoch 3, then resumed from the checkpoint of epoch 2.
    fit(model, chainrule.nn.CrossEntropyLoss(), optimizer, train, valid, epochs=3,
        callbacks=[TensorBoard(tmp_path / "logs")], resume=tmp_path / "after_epoch_2.pt",
        progress=False)
    model, optimizer, _, _ = _problem()
    fit(model, chainrule.nn.CrossEntropyLoss(), optimizer, train, valid, epochs=4,
        callbacks=[TensorBoard(tmp_path / "logs")], resume=tmp_path / "after_epoch_2.pt",
        progress=False)
    newest = sorted(glob.glob(str(tmp_path / "logs" / "events.out.tfevents.*")))[-1]
    events = list(EventFileLoader(newest).Load())
    purge = [e for e in events if e.HasField("session_log")]
    assert [(e.step, e.session_log.status) for e in purge] == [(3, 1)]  # SessionLog.START
    assert [step for step, _ in _scalars(tmp_path / "logs")["loss"]] == [1, 2, 3, 4]
