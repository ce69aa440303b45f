"""``chainrule train --resume``: find the run, merge the options, and check the checkpoint
against the model, the optimizer and the data before training continues."""

from __future__ import annotations

import os

from chainrule.cli.arguments import CHANGEABLE_ON_RESUME, UsageError
from chainrule.cli.run_folder import CONFIG, STATE, SUMMARY, read_json


def locate(resume: str, run_dir: str | None) -> tuple[str, str]:
    """``(folder, checkpoint)`` of the run to continue: ``--resume`` names the folder or its
    train_state.pt; a bare ``--resume`` continues ``--run-dir``."""
    target = resume or run_dir
    if not target:
        raise UsageError("--resume needs a run: --resume RUN_DIR, or --run-dir RUN_DIR --resume")
    checkpoint = os.path.join(target, STATE) if os.path.isdir(target) else target
    if _is_gpt_run(os.path.dirname(checkpoint) or "."):
        raise UsageError(f"--resume: {target!r} is a gpt run, and gpt runs cannot be resumed; "
                         f"start a new run with --model gpt")
    if not os.path.isfile(checkpoint):
        raise UsageError(f"--resume: no such checkpoint {checkpoint!r}")
    return os.path.dirname(checkpoint) or ".", checkpoint


def _is_gpt_run(folder: str) -> bool:
    try:
        return read_json(os.path.join(folder, CONFIG)).get("model") == "gpt"
    except (OSError, ValueError, AttributeError):
        return False


def saved_config(folder: str) -> dict:
    """The settings the run was started with (config.json, or an older run's summary.json)."""
    for name, section in ((CONFIG, None), (SUMMARY, "config")):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            try:
                data = read_json(path)
                return dict(data[section] if section else data)
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise UsageError(f"--resume: cannot read {path!r}: {error}") from error
    raise UsageError(f"--resume: {folder!r} has no {CONFIG}, so its settings are unknown")


def merge_config(saved: dict, requested: dict, given: set[str]) -> tuple[dict, list[str]]:
    """The resumed run's settings: the saved ones, with the changeable options the user gave.

    Returns the config and a note per changed setting; a changed setting that cannot change
    (CHANGEABLE_ON_RESUME lists those that can) is refused.
    """
    config, changes = dict(saved), []
    for key, value in requested.items():
        if key not in given or value == saved.get(key):
            continue
        if key not in CHANGEABLE_ON_RESUME:
            option = "--" + key.replace("_", "-")
            raise UsageError(f"--resume: the run was trained with {option} {saved.get(key)!r}, "
                             f"not {value!r}; drop {option} to continue it, or start a new run")
        changes.append(f"{key} {saved.get(key)} -> {value}")
        config[key] = value
    return config, changes


def load_checkpoint(path: str) -> dict:
    import chainrule

    try:
        checkpoint = chainrule.load(path, weights_only=True)  # data only: never runs code
    except (OSError, RuntimeError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"--resume: cannot continue from {path!r}: {error}") from error
    if not isinstance(checkpoint, dict) or not {"model", "optimizer", "callbacks"} <= set(checkpoint):
        raise UsageError(f"--resume: {path!r} is not a chainrule train_state.pt checkpoint")
    return checkpoint


def apply_checkpoint(checkpoint: dict, path: str, model, optimizer, config: dict,
                     saved: dict) -> None:
    """Check ``checkpoint`` fits ``model`` and ``optimizer``; apply a changed learning rate and
    let a run that stopped early go on when --epochs or --patience was raised."""
    try:
        model.load_state_dict(checkpoint["model"])
    except (RuntimeError, KeyError) as error:
        raise UsageError(f"--resume: cannot continue from {path!r}: {error}") from error
    saved_groups = checkpoint["optimizer"]["param_groups"]
    if [sorted(g) for g in saved_groups] != [sorted(g) for g in optimizer.param_groups]:
        raise UsageError(f"--resume: {path!r} was trained with another optimizer than "
                         f"{type(optimizer).__name__}")
    for group in saved_groups:
        group["lr"] = config["lr"]
    raised_patience = config["patience"] > saved.get("patience", config["patience"])
    raised_epochs = config["epochs"] > saved.get("epochs", config["epochs"])
    if not checkpoint.get("stopped"):
        return
    if not (raised_patience or raised_epochs):
        print(f"resume: the run stopped early after epoch {checkpoint['epoch'] + 1}; raise "
              f"--epochs or --patience to train it further")
        return
    checkpoint["stopped"] = False
    early_stopping = checkpoint["callbacks"].get("EarlyStopping:0")
    if early_stopping is not None and not raised_patience:
        early_stopping["wait"] = 0
