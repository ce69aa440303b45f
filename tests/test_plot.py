"""chainrule.plot: what the figures show (epoch ticks, diverged runs, the true label) and how
they are written."""

from __future__ import annotations

import math
import os
import stat

import numpy as np
import pytest

import chainrule
from chainrule.plot import plot_loss, pyplot, view_classify

pytest.importorskip("matplotlib")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    pyplot().close("all")  # pyplot keeps every figure open until told otherwise


def tick_values(axis):
    low, high = axis.get_view_interval()
    return [tick for tick in axis.get_ticklocs() if low <= tick <= high]


@pytest.mark.parametrize("epochs", [1, 2, 3, 7, 40])
def test_loss_plot_has_whole_epoch_ticks_within_the_run(epochs):
    figure = plot_loss(np.linspace(2.0, 0.5, epochs), np.linspace(2.1, 0.6, epochs))
    ticks = tick_values(figure.axes[0].xaxis)
    assert ticks and all(tick == int(tick) for tick in ticks)
    assert 1 <= min(ticks) and max(ticks) <= epochs
    assert not figure.axes[0].texts  # a finite run carries no note


@pytest.mark.parametrize("train, valid, notes", [
    ([2.3, 1.1, math.nan, math.nan], [2.2, 1.0, 0.9, math.nan],
     ["Training loss became nan at epoch 3", "Validation loss became nan at epoch 4"]),
    ([math.nan], [math.nan],
     ["Training loss became nan at epoch 1", "Validation loss became nan at epoch 1"]),
    ([1.0, math.inf], None, ["Training loss became inf at epoch 2"]),
])
def test_a_diverged_run_says_so_in_the_axes_and_keeps_positive_epoch_ticks(train, valid, notes):
    figure = plot_loss(train, valid)
    axes = figure.axes[0]
    assert [text.get_text() for text in axes.texts] == ["\n".join(notes)]
    ticks = tick_values(axes.xaxis)
    assert ticks and min(ticks) >= 1 and all(tick == int(tick) for tick in ticks)
    finite = [value for value in train if math.isfinite(value)]
    drawn = axes.lines[0].get_ydata()
    assert list(drawn[np.isfinite(drawn)]) == finite  # the finite part is still drawn


@pytest.mark.parametrize("train, scale", [
    ([10.0, 1e4, 1e8, math.inf], "log"),  # climbed a hundredfold before it overflowed
    ([2.0, 2.5, math.nan], "linear"),
    ([10.0, 1e4, 1e8], "linear"),  # finite: left as the tutorials draw it
])
def test_a_loss_that_climbed_orders_of_magnitude_before_diverging_gets_a_log_axis(train, scale):
    assert plot_loss(train).axes[0].get_yscale() == scale


def test_view_classify_shows_the_true_label_and_marks_its_bar():
    probabilities = chainrule.tensor([0.1, 0.7, 0.2])
    figure = view_classify(chainrule.rand(1, 28, 28), probabilities, label=chainrule.tensor(2),
                           class_names=["cat", "dog", "owl"])
    image_axes, bar_axes = figure.axes
    assert image_axes.get_title() == "True label: owl"
    colors = [tuple(bar.get_facecolor()) for bar in bar_axes.patches]
    assert colors[2] != colors[0] == colors[1]
    unlabelled = view_classify(chainrule.rand(784), probabilities)
    assert unlabelled.axes[0].get_title() == ""
    assert len({tuple(bar.get_facecolor()) for bar in unlabelled.axes[1].patches}) == 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(label=3), "label 3 is not a class index for 3 classes"),
    (dict(label=-1), "label -1 is not a class index for 3 classes"),
    (dict(class_names=["a", "b"]), "3 probabilities but 2 class names"),
])
def test_view_classify_rejects_a_label_or_names_that_do_not_fit(kwargs, message):
    with pytest.raises(ValueError, match=message):
        view_classify(np.zeros((28, 28)), [0.2, 0.3, 0.5], **kwargs)


def test_figures_are_written_whole_with_the_usual_permissions(tmp_path):
    path = tmp_path / "runs" / "a" / "loss.png"
    plot_loss([1.0, 0.5], path=path)
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert os.listdir(path.parent) == ["loss.png"]  # no temporary file left behind
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
