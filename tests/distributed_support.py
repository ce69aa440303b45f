"""Starting a test's rank program under ``mpiexec`` (skipped, saying why, without mpi4py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rank_environment() -> dict:
    """This environment with the checkout importable and one BLAS thread per rank."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": REPO_ROOT + (os.pathsep + path if path else ""),
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def mpiexec() -> str:
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install chainrule[distributed])")
    from chainrule.distributed.run import find_mpiexec

    try:
        return find_mpiexec()
    except FileNotFoundError as error:
        pytest.skip(str(error))


def mpi_run(size: int, script: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``python script args`` as ``size`` MPI ranks; stdout and stderr as text."""
    return subprocess.run([mpiexec(), "-n", str(size), sys.executable, script, *args],
                          capture_output=True, text=True, timeout=timeout, env=rank_environment())
