"""Anomaly detection: name the backward node that produced NaN/Inf and show where it was made."""

from __future__ import annotations

from chainrule.autograd.grad_mode import state


def is_anomaly_enabled() -> bool:
    return state.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    return state.anomaly_check_nan


class set_detect_anomaly:
    """Turn anomaly detection on or off: at once as a call, or for a block as a context manager."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._previous = (state.anomaly, state.anomaly_check_nan)
        state.anomaly = bool(mode)
        state.anomaly_check_nan = bool(check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        state.anomaly, state.anomaly_check_nan = self._previous


class detect_anomaly:
    """Within the block, record where each op was called and check every backward result.

    A backward node that returns NaN or Inf raises ``RuntimeError`` naming the node
    (e.g. ``SqrtBackward0``) with the traceback of the forward call that created it.

    >>> import chainrule as torch
    >>> x = torch.tensor([-1.0], requires_grad=True)
    >>> with torch.autograd.detect_anomaly():
    ...     y = x.sqrt().sum()
    ...     try:
    ...         y.backward()
    ...     except RuntimeError as error:
    ...         print(str(error).splitlines()[0])
    Function 'SqrtBackward0' returned nan values in its 0th output.
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._previous = (state.anomaly, state.anomaly_check_nan)
        state.anomaly = True
        state.anomaly_check_nan = self.check_nan

    def __exit__(self, *exc) -> None:
        state.anomaly, state.anomaly_check_nan = self._previous

    def __call__(self, func):
        import functools

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__(self.check_nan):
                return func(*args, **kwargs)

        return wrapper
