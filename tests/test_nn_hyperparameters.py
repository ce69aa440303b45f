"""Layers reject bad hyper-parameters as PyTorch does: the same exception type and message."""

from __future__ import annotations

import pytest

import chainrule

torch = pytest.importorskip("torch")
from tests.torch_compare import raises_like_torch  # noqa: E402

INVALID = {
    "GroupNorm channels not divisible": lambda lib: lib.nn.GroupNorm(3, 4),
    "Hardtanh max below min": lambda lib: lib.nn.Hardtanh(1.0, 0.0),
    "Hardtanh max equal to min": lambda lib: lib.nn.Hardtanh(0.5, 0.5),
    "MultiheadAttention heads not dividing": lambda lib: lib.nn.MultiheadAttention(5, 2),
    "MultiheadAttention no heads": lambda lib: lib.nn.MultiheadAttention(4, 0),
    "Embedding padding_idx too large": lambda lib: lib.nn.Embedding(3, 2, padding_idx=3),
    "Embedding padding_idx too small": lambda lib: lib.nn.Embedding(3, 2, padding_idx=-4),
    "Embedding weight shape": lambda lib: lib.nn.Embedding(3, 2, _weight=lib.zeros(2, 2)),
    "Unflatten size not a tuple": lambda lib: lib.nn.Unflatten(1, 3),
    "Unflatten size of strings": lambda lib: lib.nn.Unflatten(1, [2, "a"]),
    "Unflatten size of floats": lambda lib: lib.nn.Unflatten(1, (2.0, 3)),
    "RNN hidden_size zero": lambda lib: lib.nn.RNN(2, 0),
    "RNN num_layers zero": lambda lib: lib.nn.RNN(2, 3, num_layers=0),
    "RNN dropout above one": lambda lib: lib.nn.RNN(2, 3, dropout=1.5),
    "RNN dropout a bool": lambda lib: lib.nn.RNN(2, 3, dropout=True),
    "RNN nonlinearity": lambda lib: lib.nn.RNN(2, 3, nonlinearity="gelu"),
    "LSTM proj_size negative": lambda lib: lib.nn.LSTM(2, 3, proj_size=-1),
    "LSTM proj_size too large": lambda lib: lib.nn.LSTM(2, 3, proj_size=3),
    "LazyConv2d channels not divisible": lambda lib: lib.nn.LazyConv2d(4, 3, groups=3)(
        lib.zeros(1, 2, 5, 5)),
    "Dropout probability": lambda lib: lib.nn.Dropout(1.5),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_hyperparameter_raises_like_torch(case):
    raises_like_torch(lambda: INVALID[case](chainrule), lambda: INVALID[case](torch))
