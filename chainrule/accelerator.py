"""``torch.accelerator`` for a CPU-only framework: there is no accelerator.

Recent tutorials pick their device with
``torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"``;
that line runs unchanged and picks the CPU.

>>> import chainrule as torch
>>> torch.accelerator.is_available(), torch.accelerator.current_accelerator()
(False, None)
"""

from __future__ import annotations

__all__ = ["current_accelerator", "device_count", "is_available"]


def is_available() -> bool:
    return False


def current_accelerator(check_available: bool = False) -> None:
    """``None``: chainrule has no accelerator."""
    return None


def device_count() -> int:
    return 0
