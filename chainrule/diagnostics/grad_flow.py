"""``plot_grad_flow``: mean and max |grad| per layer as bars, to see where gradients die."""

from __future__ import annotations

import os

from chainrule.diagnostics.grad_stats import grad_stats
from chainrule.plot.figures import pyplot, save_figure

__all__ = ["plot_grad_flow"]


def plot_grad_flow(model, path: str | os.PathLike | None = None, ax=None, title: str | None = None):
    """Bar chart (log scale) of mean and max |grad| of each weight layer, input side on the left.

    Call after ``backward()``. Biases and other 1-D parameters are left out when the model has
    weight matrices. Draws into ``ax`` when given, else a new figure; saves a PNG at ``path``.
    Returns the Figure. Needs matplotlib (``pip install matplotlib``).

    >>> import chainrule as torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    >>> model(torch.randn(16, 4)).sum().backward()
    >>> figure = plot_grad_flow(model)
    """
    rows = grad_stats(model)
    weights = [row for row in rows if len(row.shape) >= 2] or list(rows)
    if ax is None:
        figure, ax = pyplot().subplots(figsize=(max(6.0, 0.3 * len(weights) + 3), 4))
    else:
        figure = ax.figure
    positions = range(len(weights))
    floor = 1e-30  # log axes cannot show 0; an all-zero gradient sits at the bottom
    ax.bar(positions, [max(row.max_abs_grad, floor) for row in weights], color="tab:cyan",
           alpha=0.6, label="max |grad|")
    ax.bar(positions, [max(row.mean_abs_grad, floor) for row in weights], color="tab:blue",
           alpha=0.8, label="mean |grad|")
    ax.set_yscale("log")
    ax.set_xticks(list(positions))
    ax.set_xticklabels([row.name for row in weights], rotation=90, fontsize=7)
    ax.set_xlim(-0.75, len(weights) - 0.25)
    ax.set_xlabel("layer (input side on the left)")
    ax.set_ylabel("|grad|")
    ax.set_title(title or "Gradient flow")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    if path is not None:
        figure.tight_layout()
        save_figure(figure, path)
    return figure
