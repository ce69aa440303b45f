"""``torch.compile`` for an eager NumPy framework: the call is accepted and gives back a
callable with identical results, so scripts written for PyTorch 2 run unchanged.

A module comes back wrapped as PyTorch wraps it, in an ``OptimizedModule`` that shares its
parameters (``state_dict`` keys gain the ``_orig_mod.`` prefix, as in PyTorch); a function
comes back as a wrapper around itself.

>>> import chainrule as torch
>>> model = torch.compile(torch.nn.Linear(2, 1), mode="reduce-overhead")
>>> list(model.state_dict())
['_orig_mod.weight', '_orig_mod.bias']
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["compile"]

_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")


def compile(model: Callable | None = None, *, fullgraph: bool = False, dynamic: bool | None = None,
            backend: str | Callable | None = None, mode: str | None = None,
            options: dict[str, Any] | None = None, name: str | None = None,
            disable: bool = False, **kwargs) -> Callable:
    """``model`` unchanged in behaviour: chainrule runs eagerly, so there is nothing to compile.
    Without ``model``, a decorator that does the same."""
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified "
                           "at the same time.")
    if mode is not None and mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_MODES)}")
    if model is None:
        def decorate(fn: Callable) -> Callable:
            return compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                           options=options, name=name, disable=disable, **kwargs)
        return decorate
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    # Imported here so that ``import chainrule`` does not load ``chainrule.nn``.
    from chainrule._optimized_module import OptimizedModule
    from chainrule.nn.modules.module import Module

    if isinstance(model, Module):
        return OptimizedModule(model)

    @functools.wraps(model)
    def compiled(*args, **inner_kwargs):
        return model(*args, **inner_kwargs)

    return compiled
