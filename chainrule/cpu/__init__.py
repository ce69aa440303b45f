"""``torch.cpu``: the CPU device module; ``torch.cpu.amp`` holds the older autocast spelling."""

from chainrule.cpu import amp

__all__ = ["amp", "is_available", "device_count"]


def is_available() -> bool:
    return True


def device_count() -> int:
    return 1
