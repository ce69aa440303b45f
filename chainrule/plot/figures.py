"""The figures from the seed notes: loss curves, a digit with its class probabilities, the
three-panel regression picture, and a confusion matrix."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule._optional import import_optional
from chainrule.serialization import atomic_writer
from chainrule.train.metrics import as_numpy


def pyplot():
    """matplotlib.pyplot, selecting the headless Agg backend unless a backend is already set."""
    matplotlib = import_optional("matplotlib", "plot", "chainrule.plot")
    if "matplotlib.pyplot" not in __import__("sys").modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: str | os.PathLike) -> None:
    """Write ``figure`` as a PNG at ``path`` (folders created), atomically: a reader never sees
    half a picture, and a failed draw leaves the old file as it was."""
    directory = os.path.dirname(os.fspath(path))
    if directory:
        os.makedirs(directory, exist_ok=True)
    with atomic_writer(path) as handle:
        figure.savefig(handle, format="png", dpi=100)


def _finish(figure, path) -> Any:
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def _first_nonfinite(values: np.ndarray) -> str | None:
    """"became nan at epoch 3" for the first NaN/Inf in a per-epoch series, else None."""
    bad = np.flatnonzero(~np.isfinite(values))
    return f"became {values[bad[0]]} at epoch {bad[0] + 1}" if bad.size else None


def plot_loss(train_loss: Sequence[float], valid_loss: Sequence[float] | None = None,
              path: str | os.PathLike | None = None):
    """Training (and validation) loss per epoch, on whole-number epoch ticks.

    A run that diverged gets its finite part drawn (on a log scale if it climbed a hundredfold)
    and, written in the axes, the epoch at which each loss first became NaN or infinite.

    >>> figure = plot_loss([1.0, 0.5, 0.4], [1.1, 0.7, 0.6])
    >>> figure = plot_loss([2.3, float("nan")])
    >>> figure.axes[0].texts[0].get_text()
    'Training loss became nan at epoch 2'
    """
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(figsize=(6, 4))
    series = [("Training loss", train_loss)]
    if valid_loss is not None and len(valid_loss):
        series.append(("Validation loss", valid_loss))
    notes, finite = [], []
    for label, losses in series:
        losses = np.asarray(losses, dtype=np.float64).reshape(-1)
        finite.append(losses[np.isfinite(losses)])
        # A marker keeps a lone finite epoch between NaNs visible.
        axes.plot(np.arange(1, losses.size + 1), np.where(np.isfinite(losses), losses, np.nan),
                  marker="o", markersize=3, label=label)
        note = _first_nonfinite(losses)
        if note is not None:
            notes.append(f"{label} {note}")
    if notes:
        axes.text(0.5, 0.5, "\n".join(notes), transform=axes.transAxes, ha="center",
                  va="center", color="tab:red", wrap=True,
                  bbox=dict(facecolor="white", edgecolor="tab:red", alpha=0.9))
        finite = np.concatenate(finite)
        if finite.size and finite.min() > 0 and finite.max() > 100 * finite.min():
            axes.set_yscale("log")  # a diverging loss climbs by orders of magnitude
    epochs = max(len(losses) for _, losses in series)
    axes.set_xlim(0.5, max(epochs, 1) + 0.5)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axes.set_xlabel("Epoch")
    axes.set_ylabel("Loss")
    axes.legend()
    return _finish(figure, path)


def view_classify(image, probabilities, path: str | os.PathLike | None = None,
                  class_names: Sequence[str] | None = None, label: int | None = None):
    """An image on the left and a horizontal bar chart of its class probabilities on the right.

    Given the true ``label`` (a class index, or a one-element tensor), the image is titled with
    it and its bar drawn in green, so a wrong prediction shows at a glance.

    >>> figure = view_classify(np.zeros((28, 28)), np.full(10, 0.1), label=3)
    >>> figure.axes[0].get_title()
    'True label: 3'
    """
    plt = pyplot()
    probabilities = as_numpy(probabilities).reshape(-1)
    pixels = as_numpy(image).squeeze()
    if pixels.ndim == 1:
        side = int(round(np.sqrt(pixels.size)))
        pixels = pixels.reshape(side, side)
    names = class_names or [str(i) for i in range(probabilities.size)]
    if len(names) != probabilities.size:
        raise ValueError(f"view_classify: {probabilities.size} probabilities but "
                         f"{len(names)} class names")
    colors = ["tab:blue"] * probabilities.size
    if label is not None:
        label = int(as_numpy(label).reshape(-1)[0])
        if not 0 <= label < probabilities.size:
            raise ValueError(f"view_classify: label {label} is not a class index for "
                             f"{probabilities.size} classes")
        colors[label] = "tab:green"
    figure, (left, right) = plt.subplots(figsize=(6, 3.5), ncols=2)
    left.imshow(pixels, cmap="gray")
    left.axis("off")
    if label is not None:
        left.set_title(f"True label: {names[label]}")
    positions = np.arange(probabilities.size)
    right.barh(positions, probabilities, color=colors)
    right.set_yticks(positions)
    right.set_yticklabels(names)
    right.set_title("Class Probability")
    right.set_xlim(0, 1.1)
    return _finish(figure, path)


def plot_regression_panel(data_x, data_y, true_function: Callable[[Any, Any], Any], model_grid,
                          grid_x1, grid_x2, path: str | os.PathLike | None = None):
    """Three panels: training data scattered by value, the true function's contour, and the
    network's fit (``model_grid``, shaped like ``grid_x1``) as a contour."""
    plt = pyplot()
    data_x, data_y = as_numpy(data_x), as_numpy(data_y).reshape(-1)
    grid_x1, grid_x2 = as_numpy(grid_x1), as_numpy(grid_x2)
    fitted = as_numpy(model_grid).reshape(grid_x1.shape)
    figure = plt.figure(figsize=(10, 4))
    axes = figure.add_subplot(1, 3, 1)
    axes.scatter(data_x[:, 0], data_x[:, 1], c=data_y, s=0.5)
    axes.set_title("Training Data")
    axes = figure.add_subplot(1, 3, 2)
    axes.contourf(grid_x1, grid_x2, true_function(grid_x1, grid_x2), levels=100)
    axes.set_title(r"Actual Function ($y$)")
    axes = figure.add_subplot(1, 3, 3)
    axes.contourf(grid_x1, grid_x2, fitted, levels=100)
    axes.set_title(r"Neural Network ($\hat{y}$)")
    return _finish(figure, path)


def plot_confusion_matrix(cm, path: str | os.PathLike | None = None,
                          class_names: Sequence[str] | None = None):
    """A confusion matrix (rows: true class, columns: predicted) with the counts written in."""
    plt = pyplot()
    counts = as_numpy(cm)
    names = class_names or [str(i) for i in range(counts.shape[0])]
    figure, axes = plt.subplots(figsize=(6, 6))
    axes.imshow(counts, cmap="Blues")
    ticks = np.arange(counts.shape[0])
    axes.set_xticks(ticks)
    axes.set_xticklabels(names)
    axes.set_yticks(ticks)
    axes.set_yticklabels(names)
    axes.set_xlabel("Predicted")
    axes.set_ylabel("True")
    threshold = counts.max() / 2 if counts.size else 0
    for (row, column), value in np.ndenumerate(counts):
        axes.text(column, row, str(value), ha="center", va="center",
                  color="white" if value > threshold else "black", fontsize=8)
    return _finish(figure, path)
