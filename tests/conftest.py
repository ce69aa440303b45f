"""Shared test fixtures: torch is the oracle, imported only where a test asks for it."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule


@pytest.fixture(autouse=True)
def _seed():
    chainrule.manual_seed(0)
    np.random.seed(0)
    yield


def require_torch():
    """Import torch for a test or skip it, saying why."""
    return pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
