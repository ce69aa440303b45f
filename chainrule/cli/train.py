"""``chainrule train``: check everything, train, and leave a run folder that is never lost,
never overwritten by accident, and never reports a diverged or interrupted run as a success."""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import NamedTuple

from chainrule.cli import resume as resuming
from chainrule.cli.arguments import UsageError
from chainrule.cli.data import fingerprint, load_splits, split_sizes
from chainrule.cli.model_check import check_config_against_weights
from chainrule.cli.outputs import model_inputs, save_diagnostics, save_plots
from chainrule.cli.ranks import decided_by_rank_zero, join_ranks
from chainrule.cli.run_folder import (
    CONFIG,
    LOG,
    STATE,
    SUMMARY,
    WEIGHTS,
    claim_run_folder,
    default_run_folder,
    write_json,
    write_text,
)

# The options that are training settings (recorded in config.json); the rest say where and how.
SETTINGS = ("dataset", "data_root", "model", "hidden", "activation", "dropout", "optimizer", "lr",
            "weight_decay", "batch_size", "epochs", "patience", "seed", "valid_fraction")
DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3}
EXIT_DIVERGED = 1
EXIT_INTERRUPTED = 130


def make_optimizer(config: dict, parameters):
    from chainrule import optim

    if config["optimizer"] == "sgd":
        return optim.SGD(parameters, lr=config["lr"], momentum=0.9,
                         weight_decay=config["weight_decay"])
    optimizer_class = {"adam": optim.Adam, "adamw": optim.AdamW,
                       "rmsprop": optim.RMSprop}[config["optimizer"]]
    return optimizer_class(parameters, lr=config["lr"], weight_decay=config["weight_decay"])


def prepare_folder(args, name: str, resumed_from: str | None = None) -> str:
    """The run folder, created or claimed; a resumed run continues in its own folder unless
    --run-dir names another, which then gets the earlier epochs' log."""
    try:
        if resumed_from is not None and (args.run_dir is None or
                                         os.path.realpath(args.run_dir) ==
                                         os.path.realpath(resumed_from)):
            return resumed_from
        if args.run_dir is None:
            return default_run_folder(name)
        claim_run_folder(args.run_dir, args.overwrite)
        if resumed_from is not None and os.path.exists(os.path.join(resumed_from, LOG)):
            shutil.copyfile(os.path.join(resumed_from, LOG), os.path.join(args.run_dir, LOG))
        return args.run_dir
    except OSError as error:
        raise UsageError(f"cannot create run folder {args.run_dir!r}: {error}") from error


class Settings(NamedTuple):
    """What this run uses: its config and, when resuming, the run it continues."""

    config: dict
    saved: dict | None = None  # the resumed run's config
    folder: str | None = None  # the resumed run's folder
    checkpoint: str | None = None  # its train_state.pt
    changes: tuple[str, ...] = ()  # "lr 0.001 -> 0.01": options changed on resuming


def _settings(args, given: set[str]) -> Settings:
    requested = {key: getattr(args, key) for key in SETTINGS}
    if args.resume is None:
        requested["lr"] = requested["lr"] or DEFAULT_LR[requested["optimizer"]]
        return Settings(requested)
    if args.overwrite:
        raise UsageError("--resume continues a run and --overwrite replaces it: choose one")
    folder, checkpoint = resuming.locate(args.resume, args.run_dir)
    saved = resuming.saved_config(folder)
    saved["lr"] = saved.get("lr") or DEFAULT_LR[saved.get("optimizer", "adam")]  # older runs
    config, changes = resuming.merge_config(saved, requested, given)
    return Settings(config, saved, folder, checkpoint, tuple(changes))


def train(args, given: set[str]) -> int:
    import chainrule
    from chainrule import nn
    from chainrule.train import CSVLogger, ModelCheckpoint, ProgressBar
    from chainrule.train.recipes import build_model
    from chainrule.utils.data import DataLoader, TensorDataset

    started = time.perf_counter()
    ranks = join_ranks()
    settings = _settings(args, given)
    config, saved, checkpoint_path = settings.config, settings.saved, settings.checkpoint
    train_images, train_labels, test_images, test_labels = load_splits(config["dataset"],
                                                                      config["data_root"])
    data_hash = fingerprint(train_images, train_labels)
    if saved is not None and saved.get("dataset_sha256", data_hash) != data_hash:
        raise UsageError(f"--resume: dataset {config['dataset']!r} is not the data the run was "
                         f"trained on (its SHA-256 differs)")
    config.update(input_size=int(train_images[0].numel()),
                  num_classes=int(train_labels.max().item()) + 1, dataset_sha256=data_hash)
    train_size, valid_size = split_sizes(len(train_images), config["valid_fraction"])

    chainrule.manual_seed(config["seed"])
    train_set, train_loader, valid_loader = _training_loaders(config, train_images, train_labels,
                                                              train_size, valid_size)
    train_loader = ranks.share_training(train_loader, config["seed"])
    test_loader = DataLoader(TensorDataset(model_inputs(test_images, config), test_labels),
                             batch_size=256)

    checkpoint = None
    if checkpoint_path is not None:
        checkpoint = resuming.load_checkpoint(checkpoint_path)
        check_config_against_weights(config, checkpoint["model"], "the run's config",
                                     checkpoint_path)
    model = build_model(config)
    optimizer = make_optimizer(config, model.parameters())
    if checkpoint is not None:
        resuming.apply_checkpoint(checkpoint, checkpoint_path, model, optimizer, config, saved)
    run_dir = decided_by_rank_zero(ranks, lambda: prepare_folder(args, config["dataset"],
                                                                        settings.folder))
    write = Writer(run_dir)
    if ranks.is_writer:
        for change in settings.changes:
            print(f"resume: {change}")
        write.json(CONFIG, config)

    csv_logger = CSVLogger(os.path.join(run_dir, LOG), append=checkpoint is not None)
    callbacks = [csv_logger, ModelCheckpoint(os.path.join(run_dir, WEIGHTS)),
                 ProgressBar(use_tqdm=None if not args.no_progress and sys.stderr.isatty()
                             else False)]
    monitor = None
    if args.diagnose and ranks.is_writer:  # the gradients are the same on every rank
        from chainrule.diagnostics import GradientMonitor

        monitor = GradientMonitor()
        callbacks.append(monitor)
    criterion = nn.CrossEntropyLoss()
    outcome = _fit(write, model, criterion, optimizer, (train_loader, valid_loader), config,
                   callbacks, checkpoint, ranks)
    history = csv_logger.state.history if hasattr(csv_logger, "state") else None
    if not ranks.is_writer:  # the other ranks trained their shares: rank 0 reports
        return _exit_status(outcome)
    if outcome != "finished":
        return _stop(write, outcome, config, history, model, started)

    # EarlyStopping restored the best weights; save them whatever the checkpoint callback chose.
    write.weights(model)
    from chainrule.train import evaluate

    scores = evaluate(model, criterion, test_loader)
    plots = write.files(lambda: save_plots(run_dir, history, model, test_images, test_labels, config))
    diagnostics = write.files(lambda: save_diagnostics(run_dir, model, criterion, train_set,
                                                       monitor, config)) if monitor else []
    write.summary(config, history, "finished", started, scores, plots, diagnostics)
    print(f"test accuracy: {scores['accuracy']:.4f} (loss {scores['loss']:.4f}) after "
          f"{len(history)} epochs")
    print(f"run saved to {run_dir}: {', '.join(sorted(os.listdir(run_dir)))}")
    return 0


def _training_loaders(config: dict, images, labels, train_size: int, valid_size: int):
    """``(train_set, train_loader, valid_loader)``: the seeded split of the training data."""
    import chainrule
    from chainrule.utils.data import DataLoader, TensorDataset, random_split

    dataset = TensorDataset(model_inputs(images, config), labels)
    generator = chainrule.Generator().manual_seed(config["seed"])
    train_set, valid_set = random_split(dataset, [train_size, valid_size], generator=generator)
    train_loader = DataLoader(train_set, batch_size=config["batch_size"], shuffle=True)
    valid_loader = DataLoader(valid_set, batch_size=256) if valid_size else None
    return train_set, train_loader, valid_loader


def _fit(write, model, criterion, optimizer, loaders, config, callbacks, checkpoint,
         ranks) -> str | Exception:
    """Train; returns "finished", "interrupted" or the NonFiniteLossError that ended training."""
    from chainrule.train import NonFiniteLossError, fit

    train_loader, valid_loader = loaders
    try:
        fit(model, criterion, optimizer, train_loader, valid_loader, epochs=config["epochs"],
            patience=config["patience"], callbacks=callbacks, resume=checkpoint,
            checkpoint_path=os.path.join(write.folder, STATE))
    except NonFiniteLossError as error:
        return error
    except KeyboardInterrupt:
        return "interrupted"
    except OSError as error:
        if ranks.distributed:  # rank 0's write failed while the others train: stop them all
            raise RuntimeError(str(write.failure(error))) from error
        raise write.failure(error) from error
    return "finished"


def _exit_status(outcome) -> int:
    """The exit status of a run that ended with ``outcome`` (see ``_fit``)."""
    if outcome == "finished":
        return 0
    return EXIT_INTERRUPTED if outcome == "interrupted" else EXIT_DIVERGED


def _stop(write, outcome, config: dict, history, model, started: float) -> int:
    """Record a run that did not finish and say, in one line, why and what to do next."""
    folder = write.folder
    state = os.path.join(folder, STATE)
    if outcome == "interrupted":
        write.weights(model)  # the best weights so far, so that `evaluate` can score them
        write.summary(config, history, "interrupted", started)
        epoch = len(history) + 1 if history is not None else 1
        advice = (f"resume with: chainrule train --resume {folder}" if os.path.exists(state)
                  else "no epoch finished, so there is nothing to resume")
        print(f"chainrule: interrupted during epoch {epoch}; {advice}", file=sys.stderr)
        return EXIT_INTERRUPTED
    write.summary(config, history, "diverged", started, diverged=str(outcome))
    kept = (f"the last finite checkpoint is {state}" if os.path.exists(state)
            else "no epoch finished before it")
    print(f"chainrule: error: {outcome}; {kept}", file=sys.stderr)
    return EXIT_DIVERGED


class Writer:
    """Writes into the run folder; a failed write (read-only folder, full disk) becomes one line."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def failure(self, error: OSError) -> UsageError:
        return UsageError(f"cannot write to run folder {self.folder!r}: {error}")

    def json(self, name: str, value) -> None:
        try:
            write_json(os.path.join(self.folder, name), value)
        except OSError as error:
            raise self.failure(error) from error

    def text(self, name: str, text: str) -> None:
        try:
            write_text(os.path.join(self.folder, name), text)
        except OSError as error:
            raise self.failure(error) from error

    def weights(self, model) -> None:
        import chainrule

        try:
            chainrule.save(model.state_dict(), os.path.join(self.folder, WEIGHTS))
        except OSError as error:
            raise self.failure(error) from error

    def files(self, make) -> list[str]:
        try:
            return [os.path.basename(path) for path in make()]
        except OSError as error:
            raise self.failure(error) from error

    def summary(self, config: dict, history, status: str, started: float, scores=None,
                plots=(), diagnostics=(), diverged: str | None = None) -> None:
        scores = scores or {}
        self.json(SUMMARY, {
            "status": status, "config": config, "test_loss": scores.get("loss"),
            "test_accuracy": scores.get("accuracy"),
            "epochs_run": len(history) if history is not None else 0,
            "best_epoch": history.best_epoch if history is not None else None,
            "history": history.to_dict() if history is not None else {},
            "plots": list(plots), "diagnostics": list(diagnostics), "diverged": diverged,
            "seconds": time.perf_counter() - started})
