"""Run folders: created atomically with a unique default name, never silently reused, and
JSON written into them strictly (no NaN or Infinity) and atomically."""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

from chainrule.cli.arguments import UsageError

CONFIG = "config.json"
SUMMARY = "summary.json"
WEIGHTS = "model.pt"
STATE = "train_state.pt"
LOG = "log.csv"
SAMPLES = "samples.txt"  # text a gpt run wrote
# Files whose presence means a folder already holds a run.
RUN_FILES = (CONFIG, SUMMARY, WEIGHTS, STATE, LOG, SAMPLES)


def holds_a_run(folder: str) -> bool:
    return any(os.path.exists(os.path.join(folder, name)) for name in RUN_FILES)


def default_run_folder(dataset: str) -> str:
    """A new, empty ``runs/<dataset>-<time>[-N]``: ``os.mkdir`` fails if another process took
    the name first, so two runs started in the same second never share a folder."""
    stem = os.path.join("runs", f"{os.path.basename(dataset.rstrip('/'))}-"
                                f"{time.strftime('%Y%m%d-%H%M%S')}")
    os.makedirs("runs", exist_ok=True)
    for attempt in range(1, 1000):
        candidate = stem if attempt == 1 else f"{stem}-{attempt}"
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        return candidate
    raise UsageError(f"cannot create a run folder: {stem} and 998 numbered variants exist")


def claim_run_folder(folder: str, overwrite: bool) -> None:
    """Make ``folder`` ready for a new run: refuse one that holds a run unless ``overwrite``,
    in which case the old run's files go first (so none of them is mistaken for the new run's)."""
    if holds_a_run(folder):
        if not overwrite:
            raise UsageError(f"run folder {folder!r} already holds a run: continue it with "
                             f"--resume, replace it with --overwrite, or choose another --run-dir")
        remove_run_files(folder)
    os.makedirs(folder, exist_ok=True)


def remove_run_files(folder: str) -> None:
    listed: list[str] = []
    try:
        summary = read_json(os.path.join(folder, SUMMARY))
        listed = [*summary.get("plots", []), *summary.get("diagnostics", [])]
    except (OSError, ValueError, AttributeError):
        pass
    for name in {*RUN_FILES, *listed}:
        path = os.path.join(folder, os.path.basename(name))
        if os.path.isfile(path):
            os.remove(path)


def strict(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, so it is valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(item) for item in value]
    return value


def write_json(path: str, value: Any) -> None:
    """Write ``value`` as strict JSON (non-finite numbers become null), atomically."""
    write_text(path, json.dumps(strict(value), indent=2, allow_nan=False) + "\n")


def write_text(path: str, text: str) -> None:
    """Write ``text`` as UTF-8, atomically."""
    from chainrule.serialization import atomic_writer

    with atomic_writer(path) as out:
        out.write(text.encode("utf-8"))


def read_json(path: str) -> dict:
    with open(path) as handle:
        return json.load(handle)
