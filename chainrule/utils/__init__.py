"""Utilities: ``chainrule.utils.data`` (datasets and loaders) and ``hooks``."""

from __future__ import annotations


def __getattr__(name: str):
    # Loaded on first use: the autograd core imports ``utils.hooks`` while chainrule itself is
    # still initialising, so this package must not import ``data`` eagerly.
    import importlib

    if name in ("data", "hooks"):
        return importlib.import_module(f"chainrule.utils.{name}")
    raise AttributeError(f"module 'chainrule.utils' has no attribute '{name}'")
