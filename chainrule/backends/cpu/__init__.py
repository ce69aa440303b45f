"""``torch.backends.cpu``, and where chainrule keeps its CPU speed machinery.

The ops in ``chainrule._ops`` and ``chainrule.nn.functional`` read as the textbook formula
(im2col, matrix product, col2im; the plain activation); the modules in this package hold what
makes them fast on a CPU (memory layouts, geometry caches, the optional compiled kernels of
``chainrule.backends.native``) and choose between the fast and the plain path in one place:
``attention`` (scaled dot-product attention), ``conv`` (convolutions), ``pooling`` (max
pooling), ``relu``, ``activation`` (GELU), ``normalization`` (layer norm), ``softmax``
(cross-entropy's), ``embedding`` (its gradient), ``optim`` (Adam's step) and ``windows`` (the
strided views of sliding windows that im2col, col2im and pooling share).

>>> import chainrule
>>> chainrule.backends.cpu.get_cpu_capability() in ("DEFAULT", "AVX2", "AVX512")
True
"""

from __future__ import annotations

from chainrule import _native
from chainrule._allocator import keep_freed_memory

__all__ = ["get_cpu_capability", "keep_freed_memory"]


def get_cpu_capability() -> str:
    """The vector instruction set chainrule's compiled kernels use: ``"AVX512"``, ``"AVX2"``
    or ``"DEFAULT"`` (as ``torch.backends.cpu.get_cpu_capability()`` names them)."""
    if _native.library is None:
        return "DEFAULT"
    return {2: "AVX512", 1: "AVX2"}.get(_native.library.direct_level(), "DEFAULT")
