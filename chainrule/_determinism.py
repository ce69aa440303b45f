"""``use_deterministic_algorithms``: a switch that chainrule always satisfies.

Every chainrule op gives the same result for the same inputs: NumPy's reductions and the
compiled kernels add in a fixed order, and nothing runs on a GPU. The switch is kept, so that
reproducibility recipes written for PyTorch run unchanged and can read it back.

>>> import chainrule as torch
>>> torch.use_deterministic_algorithms(True)
>>> torch.are_deterministic_algorithms_enabled()
True
>>> torch.use_deterministic_algorithms(False)
"""

from __future__ import annotations

__all__ = ["are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
           "use_deterministic_algorithms"]

_state = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Record the switch; chainrule's algorithms are deterministic either way."""
    for name, value in (("mode", mode), ("warn_only", warn_only)):
        if not isinstance(value, bool):
            raise TypeError(f"_set_deterministic_algorithms(): argument '{name}' must be bool, "
                            f"not {type(value).__name__}")
    _state["mode"], _state["warn_only"] = mode, warn_only


def are_deterministic_algorithms_enabled() -> bool:
    return _state["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _state["warn_only"]
