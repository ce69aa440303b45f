"""``device``: chainrule computes on the CPU; other devices give a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

# True only inside ``cuda_as_cpu()`` (``chainrule run --cuda-as-cpu``): "cuda" devices mean the CPU.
_cuda_means_cpu = False


class device:
    """A compute device. Only ``'cpu'`` exists in chainrule.

    >>> import chainrule as torch
    >>> torch.device("cpu")
    device(type='cpu')
    """

    __slots__ = ("type", "index")

    def __init__(self, type: str | device = "cpu", index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index
        name, _, number = str(type).partition(":")
        if number:
            index = int(number)
        self.type = name
        self.index = index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def check_device(dev) -> None:
    """Raise for any device but the CPU (``None`` means the CPU)."""
    if dev is None or dev is CPU:
        return
    name = dev.type if isinstance(dev, device) else str(dev).partition(":")[0]
    if name != "cpu" and not (name == "cuda" and _cuda_means_cpu):
        raise RuntimeError(
            f"chainrule runs on the CPU only; device '{dev}' is not available "
            "(use device='cpu' or leave the device out)"
        )


def set_default_device(dev) -> None:
    """PyTorch's default device for new tensors: only the CPU (or ``None``) is accepted.

    >>> import chainrule as torch
    >>> torch.set_default_device("cpu")
    >>> torch.get_default_device()
    device(type='cpu')
    """
    check_device(dev if dev is None or isinstance(dev, device) else device(dev))


def get_default_device() -> device:
    return CPU


@contextmanager
def cuda_as_cpu(enabled: bool = True) -> Iterator[None]:
    """Within this context (when ``enabled``), ``cuda`` and ``cuda:N`` devices are accepted and
    mean the CPU, so a script written for GPUs runs unchanged; ``torch.cuda.is_available()``
    still answers False. ``chainrule run --cuda-as-cpu`` runs the script inside it.

    >>> import chainrule as torch
    >>> with cuda_as_cpu():
    ...     torch.ones(2, device="cuda:1").device
    device(type='cpu')
    """
    global _cuda_means_cpu
    previous, _cuda_means_cpu = _cuda_means_cpu, _cuda_means_cpu or enabled
    try:
        yield
    finally:
        _cuda_means_cpu = previous


def cuda_means_cpu() -> bool:
    return _cuda_means_cpu
