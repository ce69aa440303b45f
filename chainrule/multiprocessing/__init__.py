"""``torch.multiprocessing``: Python's :mod:`multiprocessing` under torch's names, plus ``spawn``.

``Process``, ``Queue``, ``set_start_method`` and the rest are Python's own. chainrule tensors
live in ordinary NumPy memory: a tensor sent to another process is a copy, and
``Module.share_memory()`` does not share it (Hogwild-style training, where every process updates
one shared model, is not supported).

>>> import chainrule.multiprocessing as mp
>>> mp.get_sharing_strategy()
'file_descriptor'
>>> mp.Process is __import__("multiprocessing").Process
True
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import *  # noqa: F403 - torch re-exports all of Python's names

from chainrule.multiprocessing.spawn import (
    ProcessContext,
    ProcessExitedException,
    ProcessRaisedException,
    spawn,
    start_processes,
)

__all__ = ["set_sharing_strategy", "get_sharing_strategy", "get_all_sharing_strategies",
           "spawn", "start_processes", "ProcessContext", "ProcessRaisedException", "ProcessExitedException",
           *multiprocessing.__all__]

_SHARING_STRATEGIES = {"file_descriptor", "file_system"}
_sharing_strategy = "file_descriptor"


def set_sharing_strategy(new_strategy: str) -> None:
    """Accepted for compatibility; tensors are copied between processes whatever the strategy."""
    global _sharing_strategy
    assert new_strategy in _SHARING_STRATEGIES
    _sharing_strategy = new_strategy


def get_sharing_strategy() -> str:
    return _sharing_strategy


def get_all_sharing_strategies() -> set[str]:
    return set(_SHARING_STRATEGIES)
