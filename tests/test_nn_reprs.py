"""Layer reprs are PyTorch's: the options a layer prints, and how it prints them."""

from __future__ import annotations

import pytest

import chainrule

torch = pytest.importorskip("torch")

LAYERS = [
    lambda nn: nn.ReLU(), lambda nn: nn.ReLU(inplace=True), lambda nn: nn.SELU(inplace=True),
    lambda nn: nn.ReLU6(), lambda nn: nn.ReLU6(inplace=True),
    lambda nn: nn.Hardtanh(), lambda nn: nn.Hardtanh(-2.0, 3.0, inplace=True),
    lambda nn: nn.Threshold(0.1, 20.0), lambda nn: nn.Threshold(0.1, 20.0, inplace=True),
    lambda nn: nn.LeakyReLU(), lambda nn: nn.LeakyReLU(0.2, inplace=True),
    lambda nn: nn.ELU(), lambda nn: nn.ELU(0.5, inplace=True), lambda nn: nn.CELU(inplace=True),
    lambda nn: nn.GroupNorm(2, 4), lambda nn: nn.GroupNorm(2, 4, affine=False),
    lambda nn: nn.LayerNorm(3), lambda nn: nn.LayerNorm((2, 3), bias=False),
    lambda nn: nn.RMSNorm(3), lambda nn: nn.BatchNorm1d(3, affine=False),
    lambda nn: nn.Embedding(5, 2, padding_idx=-1),
    lambda nn: nn.Unflatten(1, (2, 3)),
    lambda nn: nn.Sequential(nn.Linear(2, 2), nn.ReLU()),
    lambda nn: nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()]),
]


@pytest.mark.parametrize("index", range(len(LAYERS)))
def test_layer_repr_matches_torch(index):
    assert repr(LAYERS[index](chainrule.nn)) == repr(LAYERS[index](torch.nn))
