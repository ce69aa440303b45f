"""The GPT and char-RNN benchmark steps run in both libraries and train the same model: an
untrained model's loss is near ln(number of classes), and a few steps lower it."""

from __future__ import annotations

import math

import pytest

import chainrule
from benchmarks import char_rnn_step, gpt_step

torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")


@pytest.mark.parametrize("benchmark,classes", [(gpt_step, gpt_step.VOCAB),
                                               (char_rnn_step, char_rnn_step.N_CATEGORIES)])
def test_step_trains_in_both_libraries(benchmark, classes):
    for lib in (chainrule, torch):
        step = benchmark.build(lib)
        first = step().item()
        assert abs(first - math.log(classes)) < 0.3, lib.__name__
        for _ in range(3):
            last = step().item()
        assert last < first, lib.__name__


def test_spread_row_reports_the_per_round_ratios():
    from benchmarks._harness import spread_row

    row = spread_row([2.0, 1.0, 4.0, 2.0], [1.0, 1.0, 1.0, 3.0])  # ratios 0.5, 1, 0.25, 1.5
    assert "4 rounds" in row and "min 0.25" in row and "max 1.50" in row
