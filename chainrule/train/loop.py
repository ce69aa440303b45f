"""The training loop: ``fit`` a model, ``evaluate`` it, ``predict`` with it.

``fit`` runs exactly the seed notes' loop (zero_grad, forward, loss, backward, step,
``loss.item()``) and does everything else once per epoch, so it costs no more per batch
than the hand-written loop unless a callback asks for per-batch hooks.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

import chainrule
from chainrule.train.callbacks import (
    BATCH_HOOKS,
    Callback,
    EarlyStopping,
    GradientClipping,
    LRSchedulerCallback,
    ProgressBar,
    TrainingState,
    callbacks_by_hook,
    save_atomically,
)
from chainrule.train.distributed import Ranks, ranks_for
from chainrule.train.history import History
from chainrule.train.metrics import CLASSIFICATION_METRICS, METRICS, as_numpy

__all__ = ["fit", "evaluate", "predict", "NonFiniteLossError"]

MetricSpec = str | Callable[[Any, Any], float]


def _resolve_metrics(metrics: Sequence[MetricSpec] | None) -> dict[str, Callable]:
    resolved = {}
    for metric in metrics or ():
        if isinstance(metric, str):
            if metric not in METRICS:
                raise ValueError(f"unknown metric {metric!r}; choose from {sorted(METRICS)}")
            resolved[metric] = METRICS[metric]
        else:
            resolved[getattr(metric, "__name__", "metric")] = metric
    return resolved


def evaluate(model, criterion, loader: Iterable, metrics: Sequence[MetricSpec] | None = ("accuracy",)
             ) -> dict[str, float]:
    """Score ``model`` on every batch of ``loader`` without building graphs.

    Returns ``{"loss": mean of batch losses, <metric>: sample-weighted mean}``. Classification
    metrics (accuracy, top-k) are skipped when the targets are floating point.

    >>> import chainrule as torch
    >>> from chainrule.utils.data import DataLoader, TensorDataset
    >>> data = TensorDataset(torch.randn(8, 3), torch.randint(0, 2, (8,)))
    >>> sorted(evaluate(torch.nn.Linear(3, 2), torch.nn.CrossEntropyLoss(), DataLoader(data)))
    ['accuracy', 'loss']
    """
    return _evaluate(model, criterion, loader, metrics, Ranks())


def _evaluate(model, criterion, loader: Iterable, metrics: Sequence[MetricSpec] | None,
              ranks: Ranks) -> dict[str, float]:
    """``evaluate`` over the shares of ``loader`` that ``ranks`` score: totals are summed over
    the ranks before they are divided, so every rank gets the scores of the whole set."""
    metric_functions = _resolve_metrics(metrics)
    was_training = getattr(model, "training", False)
    model.eval()
    loss_total, batches, samples = 0.0, 0, 0
    metric_totals = dict.fromkeys(metric_functions, 0.0)
    with chainrule.no_grad():
        for inputs, targets in loader:
            output = model(inputs)
            if criterion is not None:
                loss_total += criterion(output, targets).item()
            if batches == 0 and as_numpy(targets).dtype.kind == "f":
                metric_functions = {name: fn for name, fn in metric_functions.items()
                                    if fn not in CLASSIFICATION_METRICS}
                metric_totals = dict.fromkeys(metric_functions, 0.0)
            size = len(targets)
            for name, function in metric_functions.items():
                metric_totals[name] += function(output, targets) * size
            batches += 1
            samples += size
    model.train(was_training)
    loss_total, batches, samples, *totals = ranks.sum([loss_total, batches, samples,
                                                       *metric_totals.values()])
    metric_totals = dict(zip(metric_totals, totals))
    results = {"loss": loss_total / max(batches, 1)} if criterion is not None else {}
    results.update({name: total / max(samples, 1) for name, total in metric_totals.items()})
    return results


def predict(model, data) -> Any:
    """Outputs of ``model`` (in eval mode, without gradients) for a tensor or for every batch of
    a loader (whose batches are inputs or ``(inputs, targets, ...)``), concatenated along dim 0."""
    was_training = getattr(model, "training", False)
    model.eval()
    with chainrule.no_grad():
        if isinstance(data, chainrule.Tensor):
            output = model(data)
        else:
            outputs = [model(batch[0] if isinstance(batch, (tuple, list)) else batch)
                       for batch in data]
            output = chainrule.cat(outputs)
    model.train(was_training)
    return output


class NonFiniteLossError(FloatingPointError):
    """Training diverged: a training or validation loss was NaN or infinite.

    ``epoch`` and ``batch`` are 1-based (``batch`` is None for the validation loss).
    """

    def __init__(self, loss: float, epoch: int, batch: int | None, lr: float | None) -> None:
        where = f"epoch {epoch}, batch {batch}" if batch is not None else f"epoch {epoch}"
        which = "loss" if batch is not None else "validation loss"
        rate = f" (lr={lr:g})" if lr is not None else ""
        super().__init__(f"training diverged: the {which} is {loss} at {where}; lower the "
                         f"learning rate{rate} or check the data for NaN or infinite values")
        self.loss, self.epoch, self.batch = loss, epoch, batch


def _learning_rate(optimizer) -> float | None:
    param_groups = getattr(optimizer, "param_groups", None)
    return float(param_groups[0]["lr"]) if param_groups else None


def _finite_loss(loss, optimizer, epoch: int, batch: int | None, ranks: Ranks | None = None
                 ) -> float:
    """``loss.item()`` (averaged over the ranks of a training step, so that every rank sees the
    global batch's loss), or NonFiniteLossError: a NaN must stop training, not be averaged in;
    a NaN on one rank makes the mean NaN, so every rank stops at the same batch."""
    value = loss.item() if hasattr(loss, "item") else float(loss)
    if ranks is not None:
        value = ranks.mean(value)
    if not math.isfinite(value):
        raise NonFiniteLossError(value, epoch + 1, None if batch is None else batch + 1,
                                 _learning_rate(optimizer))
    return value


def _loader_generators(loader) -> list:
    generators = [getattr(loader, "generator", None),
                  getattr(getattr(loader, "sampler", None), "generator", None)]
    unique = []
    for generator in generators:
        if generator is not None and all(generator is not g for g in unique):
            unique.append(generator)
    return unique


def _rng_state(loader) -> dict[str, Any]:
    name, keys, position, has_gauss, cached = np.random.get_state()
    return {"chainrule": chainrule.get_rng_state(),
            "numpy": {"name": name, "keys": [int(k) for k in keys], "pos": int(position),
                      "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
            "loader": [g.get_state() for g in _loader_generators(loader)]}


def _set_rng_state(state: dict[str, Any], loader) -> None:
    chainrule.set_rng_state(state["chainrule"])
    legacy = state["numpy"]
    np.random.set_state((legacy["name"], np.asarray(legacy["keys"], dtype=np.uint32), legacy["pos"],
                         legacy["has_gauss"], legacy["cached_gaussian"]))
    for generator, generator_state in zip(_loader_generators(loader), state["loader"]):
        generator.set_state(generator_state)


def _callback_keys(callbacks) -> list[str]:
    # Keyed by class and occurrence so a resumed run may add or drop unrelated callbacks.
    seen: dict[str, int] = {}
    keys = []
    for callback in callbacks:
        name = type(callback).__name__
        keys.append(f"{name}:{seen.get(name, 0)}")
        seen[name] = seen.get(name, 0) + 1
    return keys


def _save_checkpoint(path, state: TrainingState, callbacks, loader) -> None:
    model, optimizer, history = state.model, state.optimizer, state.history
    save_atomically({"epoch": state.epoch, "stopped": state.stop_training,
                     "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(),
                     "callbacks": {key: callback.state_dict() for key, callback
                                   in zip(_callback_keys(callbacks), callbacks)},
                     "history": history.to_dict(), "rng": _rng_state(loader)}, path)


def _load_checkpoint(path) -> dict[str, Any]:
    if isinstance(path, Mapping):  # already loaded
        return dict(path)
    # weights_only: a checkpoint is data; a PyTorch-format file named here must never run code.
    return chainrule.load(path, weights_only=True)


def _train_one_epoch(model, criterion, optimizer, train_loader, hooked: dict[str, list[Callback]],
                     epoch: int, ranks: Ranks) -> float:
    """One pass over ``train_loader``; ``hooked`` maps each hook to the callbacks implementing it."""
    total, batches = 0.0, 0
    if not any(hooked[hook] for hook in BATCH_HOOKS):
        for inputs, targets in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimizer.step()
            total += _finite_loss(loss, optimizer, epoch, batches, ranks)
            batches += 1
        return total / max(batches, 1)
    begin, before_step = hooked["on_batch_begin"], hooked["on_before_optimizer_step"]
    end = hooked["on_batch_end"]
    for batch, (inputs, targets) in enumerate(train_loader):
        logs: dict[str, Any] = {}
        for callback in begin:
            callback.on_batch_begin(batch, logs)
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        for callback in before_step:
            callback.on_before_optimizer_step(logs)
        optimizer.step()
        logs["loss"] = _finite_loss(loss, optimizer, epoch, batch, ranks)
        total += logs["loss"]
        batches += 1
        for callback in end:
            callback.on_batch_end(batch, logs)
    return total / max(batches, 1)


def fit(model, criterion, optimizer, train_loader: Iterable, valid_loader: Iterable | None = None,
        epochs: int = 10, patience: int | None = None, callbacks: Sequence[Callback] = (),
        metrics: Sequence[MetricSpec] | None = ("accuracy",), scheduler=None,
        clip_grad_norm: float | None = None, progress: bool = True,
        resume: str | os.PathLike | Mapping | None = None,
        checkpoint_path: str | os.PathLike | None = None, seed: int | None = None,
        on_nonfinite: str = "raise", distributed: bool | None = None) -> History:
    """Train ``model`` for up to ``epochs`` epochs and return its ``History``.

    Each epoch trains on every batch of ``train_loader`` (recording the mean batch loss as
    ``loss``), then scores ``valid_loader`` (``val_loss`` and ``val_<metric>``). Shortcuts:
    ``patience`` adds ``EarlyStopping(patience=patience)`` (best weights restored at the end),
    ``scheduler`` adds ``LRSchedulerCallback(scheduler)``, ``clip_grad_norm`` adds
    ``GradientClipping``, ``progress`` adds a ``ProgressBar``.

    ``checkpoint_path`` saves everything needed to continue at each epoch end (weights,
    optimizer, callbacks, history, random states); ``resume`` continues from such a file (or
    its loaded contents) and ends with exactly the weights an uninterrupted run would have.
    ``seed`` seeds chainrule and NumPy first (ignored when resuming: the saved random state
    wins). Callbacks' ``on_train_end`` runs however training ends, Ctrl-C or an error included,
    so ``EarlyStopping`` still restores the best weights before the exception propagates.

    A NaN or infinite training loss (checked at every batch) or validation loss stops training
    at once, before that epoch is checkpointed, so the checkpoint holds the last finite state.
    ``on_nonfinite="raise"`` (the default) raises ``NonFiniteLossError`` naming the epoch and
    batch; ``"stop"`` ends training quietly and records that message in ``history.diverged``.

    On several ranks (``distributed=None``, the default: whenever an initialised process group
    has more than one rank; ``True`` requires one; ``False`` trains each rank alone) the model
    is wrapped in ``DistributedDataParallel`` (a DDP model is used as it is), a ``DataLoader``
    without a ``DistributedSampler`` gets one (same batch size per rank, shuffled when the
    loader shuffles, from ``seed`` or 0, ``set_epoch`` every epoch), the validation set is split
    between the ranks, and losses and metrics are reduced so that every rank logs the same
    numbers and stops at the same epoch (or, on a NaN loss on any rank, the same batch with the
    same message). Only rank 0 writes ``checkpoint_path`` and runs the callbacks whose
    ``rank_zero_only`` is True (progress, CSV, checkpoints, TensorBoard); every rank may
    ``resume`` from the same checkpoint. ``state.model`` and the checkpoint hold ``model`` as
    passed (without the ``module.`` prefix unless it was a DDP model).

    >>> import chainrule as torch
    >>> from chainrule.utils.data import DataLoader, TensorDataset
    >>> data = DataLoader(TensorDataset(torch.randn(16, 2), torch.randn(16, 1)), batch_size=4)
    >>> model = torch.nn.Linear(2, 1)
    >>> history = fit(model, torch.nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1),
    ...               data, data, epochs=2, progress=False)
    >>> len(history.train_loss), len(history.valid_loss)
    (2, 2)
    """
    if on_nonfinite not in ("raise", "stop"):
        raise ValueError(f"on_nonfinite must be 'raise' or 'stop', got {on_nonfinite!r}")
    callbacks = list(callbacks)
    if patience is not None:
        callbacks.append(EarlyStopping(patience=patience))
    if scheduler is not None:
        callbacks.append(LRSchedulerCallback(scheduler))
    if clip_grad_norm is not None:
        callbacks.append(GradientClipping(clip_grad_norm))
    if progress and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(ProgressBar())

    ranks = ranks_for(distributed)
    unsharded_loader = train_loader
    train_loader = ranks.share_training(train_loader, seed or 0)
    valid_loader = ranks.share_validation(valid_loader)
    history = History()
    state = TrainingState(model, optimizer, history, epochs)
    state.rank, state.world_size = ranks.rank, ranks.world_size
    state.batches_per_epoch = len(train_loader) if hasattr(train_loader, "__len__") else None
    if resume is not None:
        checkpoint = _load_checkpoint(resume)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        for key, callback in zip(_callback_keys(callbacks), callbacks):
            if key in checkpoint["callbacks"]:
                callback.load_state_dict(checkpoint["callbacks"][key])
        history.history = History.from_dict(checkpoint["history"]).history
        state.epoch = checkpoint["epoch"] + 1
        state.stop_training = checkpoint.get("stopped", False)
        _set_rng_state(checkpoint["rng"], unsharded_loader)
    elif seed is not None:
        chainrule.manual_seed(seed)

    for callback in callbacks:
        callback.set_state(state)
    if not ranks.is_writer:  # after loading: every rank keeps every callback's resumed state
        callbacks = [c for c in callbacks if not c.rank_zero_only]
        checkpoint_path = None

    for callback in callbacks:
        callback.on_train_begin(state.logs)
    try:
        _run_epochs(state, criterion, (ranks.wrap(model), train_loader), valid_loader, metrics,
                    callbacks, checkpoint_path, ranks)
    except NonFiniteLossError as error:
        if on_nonfinite == "raise":
            raise
        history.diverged = str(error)
    finally:
        for callback in callbacks:
            callback.on_train_end(state.logs)
    return history


def _run_epochs(state: TrainingState, criterion, training, valid_loader, metrics, callbacks,
                checkpoint_path, ranks: Ranks) -> None:
    """Train, score, log and checkpoint each epoch. ``training`` is ``(the model that trains,
    its loader)``."""
    trained, train_loader = training
    optimizer, history = state.optimizer, state.history
    # DDP's forward may communicate; ranks score unequal shares of the validation set
    evaluated = trained.module if ranks.distributed else trained
    sampler = getattr(train_loader, "sampler", None)
    hooked = callbacks_by_hook(callbacks)
    for epoch in range(state.epoch, state.epochs if not state.stop_training else state.epoch):
        state.epoch = epoch
        logs = state.logs = {}
        for callback in hooked["on_epoch_begin"]:
            callback.on_epoch_begin(epoch, logs)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
        started = time.perf_counter()
        trained.train()
        logs["loss"] = _train_one_epoch(trained, criterion, optimizer, train_loader, hooked,
                                        epoch, ranks)
        if valid_loader is not None:
            scores = _evaluate(evaluated, criterion, valid_loader, metrics, ranks)
            if "loss" in scores:
                _finite_loss(scores["loss"], optimizer, epoch, None)
            logs.update({f"val_{name}": value for name, value in scores.items()})
        lr = _learning_rate(optimizer)
        if lr is not None:
            logs["lr"] = lr
        logs["time"] = time.perf_counter() - started
        history.append(logs)
        for callback in hooked["on_epoch_end"]:
            callback.on_epoch_end(epoch, logs)
        if checkpoint_path is not None:
            _save_checkpoint(checkpoint_path, state, callbacks, train_loader)
        if state.stop_training:
            break
    ranks.barrier()
