"""Switching gradient recording on and off: ``no_grad``, ``enable_grad``, ``set_grad_enabled``."""

from __future__ import annotations

import functools


class _GradState:
    """Process-wide switches read on every op, and written twice by every recorded one: slots
    of one instance. Class attributes are slower to read and about five times slower to write
    (each write invalidates the class's attribute caches): 3% of the char-RNN step."""

    __slots__ = ("enabled", "anomaly", "anomaly_check_nan")

    def __init__(self) -> None:
        self.enabled = True
        self.anomaly = False
        self.anomaly_check_nan = True


state = _GradState()


def is_grad_enabled() -> bool:
    """True when new operations are recorded for backpropagation."""
    return state.enabled


class _GradModeContext:
    """Base for the grad-mode switches: a context manager and a decorator."""

    mode: bool

    def __enter__(self) -> None:
        self._previous = state.enabled
        state.enabled = self.mode

    def __exit__(self, *exc) -> None:
        state.enabled = self._previous

    def __call__(self, func):
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            previous = state.enabled
            state.enabled = mode
            try:
                return func(*args, **kwargs)
            finally:
                state.enabled = previous

        return wrapper


class _NoParamDecorator(_GradModeContext):
    """A switch that also decorates without parentheses: ``@no_grad`` as well as ``@no_grad()``."""

    def __new__(cls, func=None):
        if func is None:
            return super().__new__(cls)
        return cls()(func)


class no_grad(_NoParamDecorator):
    """Do not record operations inside the block (or the decorated function).

    >>> import chainrule as torch
    >>> x = torch.zeros(1, requires_grad=True)
    >>> with torch.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def __init__(self) -> None:
        self.mode = False


class enable_grad(_NoParamDecorator):
    """Record operations inside the block, even within ``no_grad``."""

    def __init__(self) -> None:
        self.mode = True


class inference_mode(_GradModeContext):
    """Like ``no_grad`` (chainrule has no separate inference tensors)."""

    def __new__(cls, mode=True):
        if callable(mode):
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self.mode = not mode


class set_grad_enabled(_GradModeContext):
    """Turn recording on or off: at once as a call, or for a block as a context manager.

    >>> import chainrule as torch
    >>> _ = torch.set_grad_enabled(False)
    >>> torch.is_grad_enabled()
    False
    >>> _ = torch.set_grad_enabled(True)
    """

    def __init__(self, mode: bool) -> None:
        self._previous = state.enabled
        self.mode = bool(mode)
        state.enabled = self.mode

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        state.enabled = self._previous

    def __call__(self, func):
        state.enabled = self._previous  # as a decorator it switches on each call, not now
        return super().__call__(func)
