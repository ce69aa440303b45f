"""``set_num_threads`` / ``get_num_threads`` (NumPy's BLAS threads) and the deterministic-algorithms
switch, with torch's argument checks."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
from chainrule import _threads

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("value", [0, -1, 2.5, "2"])
def test_bad_thread_counts_raise_as_in_torch(value):
    for lib in (chainrule, torch):
        with pytest.raises(RuntimeError, match="set_num_threads expects"):
            lib.set_num_threads(value)


@pytest.mark.skipif(_threads._openblas() is None, reason="NumPy does not use its bundled OpenBLAS")
def test_the_count_reaches_numpys_openblas():
    saved = chainrule.get_num_threads()
    try:
        for count in (1, 2):
            chainrule.set_num_threads(count)
            assert chainrule.get_num_threads() == count
            a = np.ones((64, 64), np.float32)
            assert (a @ a == 64).all()
    finally:
        chainrule.set_num_threads(saved)


def test_without_a_reachable_blas_set_warns_and_get_gives_the_cpu_count(monkeypatch):
    import os

    monkeypatch.setattr(_threads, "_openblas", lambda: None)
    with pytest.warns(UserWarning, match="cannot be set at run time"):
        chainrule.set_num_threads(1)
    assert chainrule.get_num_threads() == (os.cpu_count() or 1)


def test_deterministic_switch_reads_back_and_checks_its_arguments_as_torch_does():
    try:
        for lib in (chainrule, torch):
            lib.use_deterministic_algorithms(True, warn_only=True)
            assert lib.are_deterministic_algorithms_enabled()
            assert lib.is_deterministic_algorithms_warn_only_enabled()
            with pytest.raises(TypeError, match="must be bool, not str"):
                lib.use_deterministic_algorithms("yes")
    finally:
        for lib in (chainrule, torch):
            lib.use_deterministic_algorithms(False)
    assert not chainrule.are_deterministic_algorithms_enabled()
