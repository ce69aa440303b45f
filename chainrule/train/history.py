"""``History``: what happened in each epoch of ``fit`` (losses, metrics, learning rate)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

__all__ = ["History"]


class History:
    """Per-epoch records from ``fit``, one list per key (``loss``, ``val_loss``, ``val_accuracy``...).

    Unpacks like the seed notes' ``trainer`` so existing code keeps working:

    >>> h = History()
    >>> h.append({"loss": 1.0, "val_loss": 0.9})
    >>> train_loss, valid_loss = h
    >>> h.best_epoch
    1
    """

    def __init__(self, history: dict[str, list[float]] | None = None) -> None:
        self.history: dict[str, list[float]] = {k: list(v) for k, v in (history or {}).items()}
        # Why fit(on_nonfinite="stop") ended training, when a loss became NaN or infinite.
        self.diverged: str | None = None

    def append(self, logs: dict[str, float]) -> None:
        """Record one epoch's logs (keys missing from earlier epochs are padded with NaN)."""
        epochs_so_far = len(self)
        for key, value in logs.items():
            column = self.history.setdefault(key, [math.nan] * epochs_so_far)
            column.append(float(value))
        for key, column in self.history.items():
            if key not in logs:
                column.append(math.nan)

    def __len__(self) -> int:
        return max((len(v) for v in self.history.values()), default=0)

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __iter__(self) -> Iterator[list[float]]:
        return iter((self.train_loss, self.valid_loss))

    def __repr__(self) -> str:
        return f"History(epochs={len(self)}, keys={sorted(self.history)})"

    @property
    def train_loss(self) -> list[float]:
        return self.history.get("loss", [])

    @property
    def valid_loss(self) -> list[float]:
        return self.history.get("val_loss", [])

    def best_epoch_for(self, monitor: str = "val_loss", mode: str = "min") -> int | None:
        """The 1-based epoch with the best ``monitor`` value, or None if nothing was recorded."""
        values = [v for v in self.history.get(monitor, []) if not math.isnan(v)]
        if not values:
            return None
        best = min(values) if mode == "min" else max(values)
        return self.history[monitor].index(best) + 1

    @property
    def best_epoch(self) -> int | None:
        """The 1-based epoch with the lowest validation loss (training loss without validation)."""
        return self.best_epoch_for("val_loss" if "val_loss" in self.history else "loss")

    def to_dict(self) -> dict[str, Any]:
        return {key: list(values) for key, values in self.history.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls({key: [float(v) for v in values] for key, values in data.items()})

    def plot(self, path=None):
        """Training and validation loss curves (see ``chainrule.plot.plot_loss``)."""
        from chainrule.plot import plot_loss

        return plot_loss(self.train_loss, self.valid_loss or None, path=path)
