"""The learned elementwise scale (``weight``) and shift (``bias``) of the normalisation layers.

``LayerNorm``, ``RMSNorm``, ``GroupNorm``, ``BatchNorm*d`` and ``InstanceNorm*d`` hold them the
same way, as PyTorch does: a parameter of the normalised shape, or ``None`` where the layer is
built without it, initialised to ones (``weight``) and zeros (``bias``).
"""

from __future__ import annotations

from chainrule._creation import empty
from chainrule.nn import init
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter


def optional_parameter(shape, present: bool, dtype=None) -> Parameter | None:
    """An uninitialised parameter of ``shape``, or None where the layer has none (the value
    to give ``register_parameter``, so that ``module.weight`` exists either way)."""
    return Parameter(empty(shape, dtype=dtype)) if present else None


def reset_affine(module: Module) -> None:
    """``weight`` to ones and ``bias`` to zeros, where the layer has them (``RMSNorm`` has no
    bias at all)."""
    if module.weight is not None:
        init.ones_(module.weight)
    if getattr(module, "bias", None) is not None:
        init.zeros_(module.bias)
