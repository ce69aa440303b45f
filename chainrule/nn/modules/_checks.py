"""How a layer checks its hyper-parameters: one call per rule, with PyTorch's exception type and
message, so that a wrong constructor argument fails as it does in PyTorch.

Where PyTorch writes ``assert valid, message``, the error is ``AssertionError``; it is raised
here even under ``python -O``, which would strip an ``assert`` statement.
"""

from __future__ import annotations


def check_argument(valid: bool, message: str, error: type[Exception] = ValueError) -> None:
    """Raise ``error(message)`` unless ``valid``.

    >>> check_argument(4 % 2 == 0, "num_channels must be divisible by num_groups")
    >>> check_argument(4 % 3 == 0, "num_channels must be divisible by num_groups")
    Traceback (most recent call last):
        ...
    ValueError: num_channels must be divisible by num_groups
    """
    if not valid:
        raise error(message)
