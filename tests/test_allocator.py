"""Opt-in: chainrule.backends.cpu.keep_freed_memory() (or CHAINRULE_MALLOC_TUNING=1 at import)
keeps freed blocks for reuse (glibc only), so a training step does not page-fault its arrays
back in every iteration; a plain ``import chainrule`` leaves the allocator alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import resource, sys, numpy as np, chainrule
tuned = chainrule.backends.cpu.keep_freed_memory() if sys.argv[1] == "call" else None
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def step():  # like a training step: several MB-sized arrays alive at once, then all freed
    arrays = [np.ones(1 << 20, np.float32) for _ in range(5)]
    del arrays
for _ in range(3):
    step()
start = faults()
for _ in range(20):
    step()
print(tuned, faults() - start)
"""


def _probe(how: str = "import", **env) -> tuple[str, int]:
    environment = {k: v for k, v in os.environ.items() if k != "CHAINRULE_MALLOC_TUNING"}
    out = subprocess.run([sys.executable, "-c", PROBE, how], env={**environment, **env},
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_freed_blocks_are_reused_instead_of_faulted_back_in():
    called, tuned_faults = _probe("call")
    _, untuned_faults = _probe()
    _, env_tuned_faults = _probe(CHAINRULE_MALLOC_TUNING="1")
    assert called == "True"
    # 20 steps of 20 MB: without tuning every step faults its pages back in.
    assert tuned_faults < 100 < untuned_faults
    assert env_tuned_faults < 100


def test_the_chainrule_command_opts_in(monkeypatch, capsys):
    import chainrule.cli

    calls = []
    monkeypatch.setattr(chainrule.cli, "keep_freed_memory", lambda: calls.append(True))
    assert chainrule.cli.main(["--no-such-option"]) == 2
    assert calls == [True]
