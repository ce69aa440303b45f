"""``OptimizedModule``: what ``torch.compile`` returns for a module (PyTorch's
``torch._dynamo.eval_frame.OptimizedModule``), here a plain wrapper that runs the module."""

from __future__ import annotations

from chainrule.nn.modules.module import Module

__all__ = ["OptimizedModule"]


class OptimizedModule(Module):
    """The module ``compile`` returns: it runs ``_orig_mod`` and forwards attribute lookups."""

    def __init__(self, mod: Module) -> None:
        super().__init__()
        self._orig_mod = mod

    def forward(self, *args, **kwargs):
        return self._orig_mod(*args, **kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["_orig_mod"], name)
