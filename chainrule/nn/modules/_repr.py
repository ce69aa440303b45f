"""The tail of PyTorch's ``extra_repr``: the settings that differ from their defaults."""

from __future__ import annotations

from chainrule.nn.modules.module import Module


def changed_settings(module: Module, **defaults) -> str:
    """``", name=value"`` for each setting of ``module`` that differs from its default, in the
    order given.

    >>> import chainrule as torch
    >>> changed_settings(torch.nn.Embedding(3, 2, max_norm=1.0), padding_idx=None, max_norm=None)
    ', max_norm=1.0'
    """
    return "".join(f", {name}={getattr(module, name)}" for name, default in defaults.items()
                   if getattr(module, name) != default)
