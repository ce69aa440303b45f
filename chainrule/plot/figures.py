"""The figures from the seed notes: loss curves, a digit with its class probabilities, the
three-panel regression picture, and a confusion matrix."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.train.metrics import as_numpy


def pyplot():
    """matplotlib.pyplot, selecting the headless Agg backend unless a backend is already set."""
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError("chainrule.plot needs matplotlib: pip install matplotlib "
                          "(or pip install 'chainrule[plot]')") from error
    if "matplotlib.pyplot" not in __import__("sys").modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(figure, path) -> Any:
    figure.tight_layout()
    if path is not None:
        directory = os.path.dirname(os.fspath(path))
        if directory:
            os.makedirs(directory, exist_ok=True)
        figure.savefig(path, format="png", dpi=100)
    return figure


def plot_loss(train_loss: Sequence[float], valid_loss: Sequence[float] | None = None,
              path: str | os.PathLike | None = None):
    """Training (and validation) loss per epoch.

    >>> figure = plot_loss([1.0, 0.5, 0.4], [1.1, 0.7, 0.6])
    """
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 4))
    epochs = np.arange(1, len(train_loss) + 1)
    axes.plot(epochs, train_loss, label="Training loss")
    if valid_loss is not None and len(valid_loss):
        axes.plot(np.arange(1, len(valid_loss) + 1), valid_loss, label="Validation loss")
    axes.set_xlabel("Epoch")
    axes.set_ylabel("Loss")
    axes.legend()
    return _finish(figure, path)


def view_classify(image, probabilities, path: str | os.PathLike | None = None,
                  class_names: Sequence[str] | None = None):
    """An image on the left and a horizontal bar chart of its class probabilities on the right."""
    plt = pyplot()
    probabilities = as_numpy(probabilities).reshape(-1)
    pixels = as_numpy(image).squeeze()
    if pixels.ndim == 1:
        side = int(round(np.sqrt(pixels.size)))
        pixels = pixels.reshape(side, side)
    names = class_names or [str(i) for i in range(probabilities.size)]
    figure, (left, right) = plt.subplots(figsize=(6, 3.5), ncols=2)
    left.imshow(pixels, cmap="gray")
    left.axis("off")
    positions = np.arange(probabilities.size)
    right.barh(positions, probabilities)
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
