"""``torch.nn.attention``: choosing a kernel for ``F.scaled_dot_product_attention``.

chainrule has one attention kernel, so ``sdpa_kernel`` checks its argument, as PyTorch does, and
otherwise changes nothing: code written to pick a GPU kernel runs unchanged.

>>> import chainrule as torch
>>> from chainrule.nn.attention import SDPBackend, sdpa_kernel
>>> q = torch.randn(1, 2, 3, 4)
>>> with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
...     torch.nn.functional.scaled_dot_product_attention(q, q, q).shape
torch.Size([1, 2, 3, 4])
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator

__all__ = ["SDPBackend", "sdpa_kernel"]


class SDPBackend(enum.Enum):
    """The attention kernels PyTorch can dispatch to, with PyTorch's values."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


@contextlib.contextmanager
def sdpa_kernel(backends: list[SDPBackend] | SDPBackend, set_priority: bool = False) -> Iterator[dict]:
    """Accept ``with sdpa_kernel(backend or [backends]):`` (a no-op on this CPU engine)."""
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of SDPBackend "
                             f"instances, got {type(backends).__name__}")
    yield {}
