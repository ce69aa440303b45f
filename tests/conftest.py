"""Shared test fixtures: torch is the oracle, imported only where a test asks for it."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

import chainrule

# CI runs the same examples every time, so a red build is always reproducible; the "explore"
# profile (HYPOTHESIS_PROFILE=explore) searches fresh random examples, many more of them.
settings.register_profile("ci", max_examples=25, derandomize=True, deadline=None)
settings.register_profile("explore", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _seed():
    chainrule.manual_seed(0)
    np.random.seed(0)
    yield


def require_torch():
    """Import torch for a test or skip it, saying why."""
    return pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
