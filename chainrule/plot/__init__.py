"""Plots for training results, drawn with matplotlib (an optional extra: ``pip install matplotlib``).

matplotlib is imported only when a plot is drawn, with the headless ``Agg`` backend unless one
was already chosen, so these work on servers and in CI. Every function returns the Figure and,
given ``path``, also writes it as a PNG.
"""

from chainrule.plot.figures import (
    plot_confusion_matrix,
    plot_loss,
    plot_regression_panel,
    pyplot,
    view_classify,
)

__all__ = ["plot_loss", "view_classify", "plot_regression_panel", "plot_confusion_matrix"]
