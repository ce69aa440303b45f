"""Pillow, which chainrule.vision's image files need, imported on first use."""

from __future__ import annotations

from types import ModuleType

from chainrule._optional import import_optional


def pillow(module: str = "PIL.Image") -> ModuleType:
    """A Pillow module, or an ImportError naming the pip command that installs it."""
    return import_optional(module, "images", "Image files")
