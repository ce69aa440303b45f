"""``torch.cuda`` for a CPU-only framework: scripts can ask, and are told there is no GPU.

Tutorials open with ``device = "cuda" if torch.cuda.is_available() else "cpu"``; that line
(and seeding, cache emptying) works unchanged. Anything that needs a GPU fails clearly.

>>> import chainrule as torch
>>> torch.cuda.is_available()
False
"""

from __future__ import annotations

__all__ = ["amp", "is_available", "device_count", "is_initialized", "manual_seed", "manual_seed_all",
           "empty_cache", "memory_allocated", "max_memory_allocated", "current_device",
           "synchronize", "get_device_name", "is_bf16_supported", "set_device"]


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Nothing to seed without a GPU (PyTorch ignores the call too)."""


manual_seed_all = manual_seed


def empty_cache() -> None:
    """No GPU memory to release."""


def memory_allocated(device=None) -> int:
    return 0


max_memory_allocated = memory_allocated


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """No GPU, so no GPU bfloat16 (CPU-only PyTorch answers ``False`` too)."""
    return False


def _no_gpu(*args, **kwargs):
    # CPU-only PyTorch fails these calls with exactly this assertion; scripts may catch it.
    raise AssertionError("Torch not compiled with CUDA enabled")


current_device = synchronize = get_device_name = _no_gpu


def set_device(device) -> None:
    """Select the GPU later work runs on: as in CPU-only PyTorch, a negative index does nothing
    and a real one fails; under ``chainrule run --cuda-as-cpu`` every cuda device is the CPU and
    this does nothing.

    >>> import chainrule as torch
    >>> torch.cuda.set_device(-1)
    >>> with torch._device.cuda_as_cpu():
    ...     torch.cuda.set_device("cuda:1")
    """
    from chainrule._device import cuda_means_cpu
    from chainrule._device import device as device_class

    if isinstance(device, (str, device_class)):
        device = device_class(device)
        if device.type != "cuda":
            raise ValueError(f"Expected a cuda device, but got: {device}")
        device = device.index
    if not isinstance(device, int) or isinstance(device, bool):
        raise ValueError(f"Expected a torch.device with a specified index or an integer, but "
                         f"got:{device if device is not None else 'cuda'}")
    if device >= 0 and not cuda_means_cpu():
        # CPU-only PyTorch's own failure, type and words (its CUDA binding is missing)
        raise AttributeError("module 'torch._C' has no attribute '_cuda_setDevice'")


from chainrule.amp import cuda_amp as amp  # noqa: E402 - ``torch.cuda.amp``
