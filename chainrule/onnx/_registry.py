"""The one table from recorded op (its ``Function`` class) to the rule that writes its ONNX
nodes. A rule takes the ``GraphBuilder`` and the recorded ``Op`` and returns the ONNX names of
the op's outputs; adding an op is adding one rule with ``@translates(FunctionClass)``."""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["TRANSLATIONS", "translates", "aten_name"]

TRANSLATIONS: dict[type, Callable] = {}


def translates(*functions: type) -> Callable:
    """Register the decorated rule for each ``Function`` subclass in ``functions``."""

    def register(rule: Callable) -> Callable:
        for function in functions:
            TRANSLATIONS[function] = rule
        return rule

    return register


def aten_name(function: type) -> str:
    """PyTorch's operator name for an op's node: ``CumsumBackward0`` -> ``aten::cumsum``."""
    node = re.sub(r"Backward\d*$", "", function._backward_cls.__name__)
    return "aten::" + re.sub(r"(?<!^)(?=[A-Z])", "_", node).lower()
