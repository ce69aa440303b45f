"""chainrule keeps freed blocks for reuse (glibc only), so a training step does not page-fault
its arrays back in every iteration; CHAINRULE_MALLOC_TUNING=0 opts out."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import resource, numpy as np, chainrule
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
print(chainrule._allocator.keep_freed_memory(), faults() - start)
"""


def _probe(**env) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE], env={**os.environ, **env},
                         capture_output=True, text=True, check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_freed_blocks_are_reused_instead_of_faulted_back_in():
    tuned, tuned_faults = _probe()
    untuned, untuned_faults = _probe(CHAINRULE_MALLOC_TUNING="0")
    assert (tuned, untuned) == ("True", "False")
    # 20 steps of 20 MB: without tuning every step faults its pages back in.
    assert tuned_faults < 100 < untuned_faults
