"""The one door to MPI: ``mpi4py`` is imported (and MPI initialised) only on first use."""

from __future__ import annotations

import functools
import importlib.util
from types import ModuleType

from chainrule._optional import import_optional


def mpi4py_installed() -> bool:
    return importlib.util.find_spec("mpi4py") is not None


@functools.cache  # collectives ask on every call; a failed import is not cached
def mpi() -> ModuleType:
    """``mpi4py.MPI``, or an ImportError naming the exact install command."""
    return import_optional("mpi4py.MPI", "distributed", "chainrule.distributed")
