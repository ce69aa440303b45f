"""The older per-device spellings, ``torch.cpu.amp.autocast`` / ``torch.cuda.amp.GradScaler``
and friends: the same classes, with PyTorch's FutureWarning pointing at ``torch.amp``."""

from __future__ import annotations

import warnings

from chainrule._dtype import bfloat16, float16
from chainrule.amp.autocast_mode import autocast
from chainrule.amp.grad_scaler import GradScaler


def _deprecated(name: str, replacement: str) -> None:
    warnings.warn(f"`{name}(args...)` is deprecated. Please use `{replacement}, args...)` "
                  "instead.", FutureWarning, stacklevel=3)


class CpuAutocast(autocast):
    """``torch.cpu.amp.autocast``: ``torch.amp.autocast("cpu", ...)``."""

    def __init__(self, enabled: bool = True, dtype=bfloat16, cache_enabled: bool = True) -> None:
        _deprecated("torch.cpu.amp.autocast", "torch.amp.autocast('cpu'")
        super().__init__("cpu", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class CudaAutocast(autocast):
    """``torch.cuda.amp.autocast``: ``torch.amp.autocast("cuda", ...)`` (disabled here)."""

    def __init__(self, enabled: bool = True, dtype=float16, cache_enabled: bool = True) -> None:
        _deprecated("torch.cuda.amp.autocast", "torch.amp.autocast('cuda'")
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


def _scaler_for(device: str):
    class DeviceGradScaler(GradScaler):
        def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                     backoff_factor: float = 0.5, growth_interval: int = 2000,
                     enabled: bool = True) -> None:
            _deprecated(f"torch.{device}.amp.GradScaler", f"torch.amp.GradScaler('{device}'")
            super().__init__(device, init_scale, growth_factor, backoff_factor, growth_interval,
                             enabled)

    DeviceGradScaler.__name__ = DeviceGradScaler.__qualname__ = "GradScaler"
    DeviceGradScaler.__doc__ = f"``torch.{device}.amp.GradScaler``: ``torch.amp.GradScaler('{device}', ...)``."
    return DeviceGradScaler


CpuGradScaler = _scaler_for("cpu")
CudaGradScaler = _scaler_for("cuda")
