"""``torch.cuda.amp``: ``autocast`` and ``GradScaler``, deprecated spellings of ``torch.amp``'s
that, without a GPU, warn and disable themselves."""

from chainrule.amp.deprecated import CudaAutocast as autocast
from chainrule.amp.deprecated import CudaGradScaler as GradScaler

__all__ = ["autocast", "GradScaler"]
