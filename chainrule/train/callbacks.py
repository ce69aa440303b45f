"""Callbacks: small objects ``fit`` calls at fixed points of training.

The API, all optional to override (``logs`` is a dict of plain floats):

* ``on_train_begin(logs)`` / ``on_train_end(logs)``
* ``on_epoch_begin(epoch, logs)`` / ``on_epoch_end(epoch, logs)`` - ``logs`` holds the epoch's
  ``loss``, ``val_loss``, ``val_<metric>`` and ``lr`` at the end
* ``on_batch_begin(batch, logs)`` / ``on_batch_end(batch, logs)`` - ``logs["loss"]`` at the end
* ``on_before_optimizer_step(logs)`` - after ``backward()``, before ``optimizer.step()``

Each callback declares the hooks it implements (``implemented_hooks()``: by default those its
class overrides) and ``fit`` calls only those, so a callback that works per epoch costs
nothing per batch. Each callback sees the run through ``self.state``
(``model``, ``optimizer``, ``history``, ``epoch``) and stops training by setting
``self.state.stop_training = True``.
"""

from __future__ import annotations

import csv
import functools
import math
import os
import sys
from typing import Any

import numpy as np

from chainrule.train.metrics import as_numpy

__all__ = ["Callback", "TrainingState", "EarlyStopping", "ModelCheckpoint", "LRSchedulerCallback",
           "GradientClipping", "CSVLogger", "ProgressBar", "uses_hook", "callbacks_by_hook"]

HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_batch_begin",
         "on_batch_end", "on_before_optimizer_step")
BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_before_optimizer_step")


class TrainingState:
    """What callbacks can see and change while ``fit`` runs."""

    def __init__(self, model, optimizer, history, epochs: int) -> None:
        self.model = model
        self.optimizer = optimizer
        self.history = history
        self.epochs = epochs
        self.epoch = 0
        self.batches_per_epoch: int | None = None  # len(train_loader), when it has one
        self.rank, self.world_size = 0, 1  # this process's rank and the number of ranks
        self.stop_training = False
        self.logs: dict[str, Any] = {}  # the current (or last) epoch's logs


class Callback:
    """Base class: override the hooks you need; the others do nothing."""

    state: TrainingState
    # True for callbacks that print or write files: on several ranks only rank 0 runs them.
    rank_zero_only = False

    def set_state(self, state: TrainingState) -> None:
        self.state = state

    def on_train_begin(self, logs: dict[str, Any]) -> None: ...
    def on_train_end(self, logs: dict[str, Any]) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None: ...
    def on_batch_begin(self, batch: int, logs: dict[str, Any]) -> None: ...
    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None: ...
    def on_before_optimizer_step(self, logs: dict[str, Any]) -> None: ...

    def implemented_hooks(self) -> frozenset[str]:
        """The epoch and batch hooks ``fit`` calls on this callback (``on_train_begin`` and
        ``on_train_end`` always run): by default those its class overrides. ``fit`` asks after
        ``on_train_begin``, so a callback whose needs depend on its settings or on what it found
        there overrides this (``LRSchedulerCallback(per="epoch")`` drops ``on_batch_end``)."""
        return _overridden_hooks(type(self))

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to carry on exactly (empty for stateless callbacks)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


@functools.cache
def _overridden_hooks(cls: type) -> frozenset[str]:
    return frozenset(hook for hook in HOOKS if getattr(cls, hook) is not getattr(Callback, hook))


def uses_hook(callback: Callback, hook: str) -> bool:
    """True if ``callback`` declares ``hook`` (so ``fit`` must call it)."""
    return hook in callback.implemented_hooks()


def callbacks_by_hook(callbacks: list[Callback]) -> dict[str, list[Callback]]:
    """For each hook, the callbacks that implement it, in their order."""
    declared = [callback.implemented_hooks() for callback in callbacks]
    return {hook: [c for c, hooks in zip(callbacks, declared) if hook in hooks] for hook in HOOKS}


class _Monitor:
    """Tracks the best value of one logged quantity (shared by EarlyStopping and ModelCheckpoint)."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(min_delta)
        self.best = math.inf if mode == "min" else -math.inf

    def logged(self, logs: dict[str, Any]) -> float | None:
        """The monitored value (NaN included), or None when it is not logged."""
        # Without a validation set, val_* quantities fall back to their training counterparts.
        value = logs.get(self.monitor)
        if value is None and self.monitor.startswith("val_"):
            value = logs.get(self.monitor[4:])
        return None if value is None else float(value)

    def current(self, logs: dict[str, Any]) -> float | None:
        """The monitored value, or None when it is not logged or NaN."""
        value = self.logged(logs)
        return None if value is None or math.isnan(value) else value

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


def _copy_state(state_dict: dict[str, Any]) -> dict[str, Any]:
    return {k: v.detach().clone() if hasattr(v, "detach") else v for k, v in state_dict.items()}


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model gets the best epoch's weights back at the end of
    training, whatever ended it (early stop, last epoch, or another callback). A NaN value
    counts as an epoch without improvement.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min", patience: int = 3,
                 min_delta: float = 0.0, restore_best_weights: bool = True, verbose: bool = False):
        self.tracker = _Monitor(monitor, mode, min_delta)
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.verbose = verbose
        self.wait = 0
        self.best_weights: dict[str, Any] | None = None
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        value = self.tracker.logged(logs)
        if value is None:
            return
        if self.tracker.improved(value):  # never for NaN: a diverged epoch is no improvement
            self.tracker.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = _copy_state(self.state.model.state_dict())
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.state.stop_training = True
            if self.verbose and self.state.rank == 0:
                print(f"Stopped early at epoch {epoch + 1}: {self.tracker.monitor} has not improved "
                      f"for {self.wait} epochs", file=sys.stderr)

    def on_train_end(self, logs: dict[str, Any]) -> None:
        # When the last finished epoch was the best, the model already holds its weights.
        if (self.restore_best_weights and self.best_weights is not None
                and self.best_epoch != self.state.epoch):
            self.state.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.tracker.best, "wait": self.wait, "best_epoch": self.best_epoch,
                "best_weights": self.best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tracker.best, self.wait = state["best"], state["wait"]
        self.best_epoch, self.best_weights = state["best_epoch"], state["best_weights"]


def save_atomically(obj: Any, path: str | os.PathLike) -> None:
    """``chainrule.save`` into ``path``, creating its folder; a crash never leaves half a file
    because ``chainrule.save`` writes a temporary file and renames it."""
    import chainrule

    directory = os.path.dirname(os.fspath(path))
    if directory:
        os.makedirs(directory, exist_ok=True)
    chainrule.save(obj, os.fspath(path))


class ModelCheckpoint(Callback):
    """Save the model's ``state_dict`` to ``path`` (may contain ``{epoch}``) at epoch ends.

    ``save_best_only`` saves only when ``monitor`` improves; ``save_last`` also keeps the most
    recent weights at ``last_path`` (default: ``path`` with ``-last`` before the extension).
    """

    rank_zero_only = True

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss", mode: str = "min",
                 save_best_only: bool = True, save_last: bool = False,
                 last_path: str | os.PathLike | None = None) -> None:
        self.path = os.fspath(path)
        self.tracker = _Monitor(monitor, mode)
        self.save_best_only = save_best_only
        self.save_last = save_last
        root, extension = os.path.splitext(self.path)
        self.last_path = os.fspath(last_path) if last_path else f"{root}-last{extension}"
        self.best_path: str | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        weights = self.state.model.state_dict()
        target = self.path.format(epoch=epoch + 1)
        value = self.tracker.current(logs)
        if not self.save_best_only:
            save_atomically(weights, target)
        elif value is not None and self.tracker.improved(value):
            self.tracker.best = value
            save_atomically(weights, target)
            self.best_path = target
        if self.save_last:
            save_atomically(weights, self.last_path.format(epoch=epoch + 1))

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.tracker.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tracker.best = state["best"]


def _is_plateau_scheduler(scheduler: Any) -> bool:
    return type(scheduler).__name__ == "ReduceLROnPlateau"


class LRSchedulerCallback(Callback):
    """Step a learning-rate scheduler once per epoch (default) or once per batch.

    ``ReduceLROnPlateau`` is stepped with the epoch's ``monitor`` value (default ``val_loss``).
    """

    def __init__(self, scheduler: Any, per: str = "epoch", monitor: str = "val_loss") -> None:
        if per not in ("epoch", "batch"):
            raise ValueError(f"per must be 'epoch' or 'batch', got {per!r}")
        self.scheduler = scheduler
        self.per = per
        self.tracker = _Monitor(monitor, "min")

    def implemented_hooks(self) -> frozenset[str]:
        # Only a per-batch scheduler costs anything per batch.
        unused = "on_epoch_end" if self.per == "batch" else "on_batch_end"
        return super().implemented_hooks() - {unused}

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        if self.per == "batch":
            self.scheduler.step()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.per != "epoch":
            return
        if _is_plateau_scheduler(self.scheduler):
            value = self.tracker.current(logs)
            if value is not None:
                self.scheduler.step(value)
        else:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state["scheduler"])


def clip_grad_norm(parameters, max_norm: float) -> float:
    """Scale gradients in place so their joint L2 norm is at most ``max_norm``; returns the norm."""
    try:
        from chainrule.nn.utils import clip_grad_norm_
    except ImportError:
        clip_grad_norm_ = None
    if clip_grad_norm_ is not None:
        return float(clip_grad_norm_(parameters, max_norm))
    grads = [as_numpy(p.grad) for p in parameters if p.grad is not None]  # views: scaled in place
    total = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for g in grads:
            g *= g.dtype.type(scale)
    return total


class GradientClipping(Callback):
    """Clip the gradients' total L2 norm to ``max_norm`` before every optimizer step."""

    def __init__(self, max_norm: float) -> None:
        self.max_norm = float(max_norm)
        self._parameters: list | None = None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self._parameters = list(self.state.model.parameters())

    def on_before_optimizer_step(self, logs: dict[str, Any]) -> None:
        clip_grad_norm(self._parameters, self.max_norm)


class CSVLogger(Callback):
    """Append one row per epoch (``epoch`` then the logged values) to a CSV file.

    The file stays open for the run and is flushed after every row, so a killed run keeps
    every finished epoch's row.
    """

    rank_zero_only = True

    def __init__(self, path: str | os.PathLike, append: bool = False) -> None:
        self.path = os.fspath(path)
        self.append = append
        self._keys: list[str] | None = None
        self._file = None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        self._keys = None
        if self.append and os.path.exists(self.path):
            with open(self.path, newline="") as handle:
                rows = list(csv.reader(handle))
            self._keys = rows[0] if rows else None
            # A resumed run redoes the epochs after its checkpoint: drop the rows a killed
            # run wrote for them, so each epoch appears once.
            resumed_at = getattr(getattr(self, "state", None), "epoch", 0)
            kept = len(rows)
            while resumed_at > 0 and kept > 1 and _row_epoch(rows[kept - 1]) > resumed_at:
                kept -= 1
            if kept < len(rows):
                with open(self.path, "w", newline="") as handle:
                    csv.writer(handle).writerows(rows[:kept])
        self._file = open(self.path, "a" if self.append else "w", newline="")
        self._writer = csv.writer(self._file)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self._keys is None:
            self._keys = ["epoch", *logs]
            self._writer.writerow(self._keys)
        self._writer.writerow([epoch + 1, *(logs.get(key, "") for key in self._keys[1:])])
        self._file.flush()

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _row_epoch(row: list[str]) -> int:
    try:
        return int(row[0])
    except (IndexError, ValueError):
        return 0


def _format_logs(logs: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.4g}" for k, v in logs.items() if isinstance(v, float) and k != "time")


class ProgressBar(Callback):
    """Show progress: with tqdm installed (``tqdm.auto`` picks the notebook widget in Jupyter),
    a bar over the epochs and, within each epoch, a bar over its batches; otherwise one plain
    line per epoch. The batch bar costs about a microsecond per batch."""

    rank_zero_only = True

    def __init__(self, file=None, use_tqdm: bool | None = None) -> None:
        self.file = file
        self.use_tqdm = use_tqdm
        self._bar = None
        self._batches = None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        if self.use_tqdm is not False:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=self.state.epochs, initial=self.state.epoch, unit="epoch",
                                 file=self.file, leave=True)
                # One batch bar for the run, reset every epoch (a new bar per epoch costs more).
                self._batches = tqdm(total=self.state.batches_per_epoch, unit="batch",
                                     file=self.file, leave=False)

    def implemented_hooks(self) -> frozenset[str]:
        # Batches cost a call each only while a batch bar shows them.
        hooks = super().implemented_hooks()
        return hooks if self._batches is not None else hooks - {"on_batch_end"}

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        if self._batches is not None:
            self._batches.set_description_str(f"epoch {epoch + 1}", refresh=False)
            self._batches.reset(total=self.state.batches_per_epoch)

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        if self._batches is not None:
            self._batches.update(1)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(_format_logs(logs), refresh=False)
            self._bar.update(1)
        else:
            seconds = f" ({logs['time']:.3g}s)" if "time" in logs else ""
            print(f"epoch {epoch + 1}/{self.state.epochs} {_format_logs(logs)}{seconds}",
                  file=self.file or sys.stdout, flush=True)

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self._batches is not None:
            self._batches.close()
            self._batches = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None
