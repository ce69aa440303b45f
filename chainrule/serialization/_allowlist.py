"""``torch.serialization.add_safe_globals`` and friends: the user's allow-list for
``load(weights_only=True)``, beyond the tensors and plain containers always allowed.

>>> import chainrule as torch
>>> class Point:
...     pass
>>> with torch.serialization.safe_globals([Point]):
...     torch.serialization.get_safe_globals() == [Point]
True
>>> torch.serialization.get_safe_globals()
[]
"""

from __future__ import annotations

from typing import Any

__all__ = ["add_safe_globals", "get_safe_globals", "clear_safe_globals", "safe_globals"]

_user_globals: list[Any] = []


def global_name(entry: Any) -> str:
    """The ``module.qualname`` a pickle names an allow-list entry by."""
    if isinstance(entry, tuple):
        return entry[1]
    return f"{entry.__module__}.{entry.__qualname__}"


def add_safe_globals(safe_globals: list[Any]) -> None:
    """Allow ``load(weights_only=True)`` to rebuild these classes and functions.

    Each entry is a class or function, or a ``(object, "module.name")`` pair for one
    that a file names differently from where it now lives.
    """
    for entry in safe_globals:
        if isinstance(entry, tuple) and (len(entry) != 2 or not isinstance(entry[1], str)):
            raise ValueError(f"add_safe_globals expects objects or (object, 'module.name') "
                             f"pairs, got {entry!r}")
    _user_globals.extend(safe_globals)


def get_safe_globals() -> list[Any]:
    """The entries added by ``add_safe_globals`` (a copy)."""
    return list(_user_globals)


def clear_safe_globals() -> None:
    """Forget every entry added by ``add_safe_globals``."""
    _user_globals.clear()


def user_allowed(name: str) -> tuple[bool, Any]:
    """Whether ``module.name`` is on the user's allow-list, and the object it stands for."""
    for entry in _user_globals:
        if global_name(entry) == name:
            return True, entry[0] if isinstance(entry, tuple) else entry
    return False, None


class safe_globals:
    """A context manager: ``add_safe_globals(entries)`` for the ``with`` block only."""

    def __init__(self, safe_globals: list[Any]) -> None:
        self.safe_globals = safe_globals

    def __enter__(self) -> None:
        self.saved = get_safe_globals()
        add_safe_globals(self.safe_globals)

    def __exit__(self, *exc_info) -> None:
        _user_globals[:] = self.saved


def refused_global_message(name: str, file_name: str) -> str:
    """PyTorch's ``weights_only`` refusal, naming the global, the file and both ways out."""
    return (
        f"Weights only load failed for '{file_name}'. This file can still be loaded, to do so "
        "you have two options, do those steps only if you trust the source of the checkpoint. "
        "\n\t(1) In PyTorch 2.6, we changed the default value of the `weights_only` argument in "
        "`torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` set to "
        "`False` will likely succeed, but it can result in arbitrary code execution. Do it only "
        "if you got the file from a trusted source.\n\t(2) Alternatively, to load with "
        "`weights_only=True` please check the recommended steps in the following error message."
        f"\n\tWeightsUnpickler error: Unsupported global: GLOBAL {name} was not an allowed global "
        f"by default. Please use `torch.serialization.add_safe_globals([{name}])` or the "
        f"`torch.serialization.safe_globals([{name}])` context manager to allowlist this global "
        "if you trust this class/function.")
