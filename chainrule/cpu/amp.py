"""``torch.cpu.amp``: ``autocast`` and ``GradScaler``, deprecated spellings of ``torch.amp``'s."""

from chainrule.amp.deprecated import CpuAutocast as autocast
from chainrule.amp.deprecated import CpuGradScaler as GradScaler

__all__ = ["autocast", "GradScaler"]
