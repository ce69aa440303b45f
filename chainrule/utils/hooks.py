"""``RemovableHandle``: what every ``register_*hook`` returns."""

from __future__ import annotations

import itertools

_next_id = itertools.count()


class RemovableHandle:
    """Removes the hook it was returned for; also a context manager.

    >>> import chainrule as torch
    >>> x = torch.ones(2, requires_grad=True)
    >>> handle = x.register_hook(lambda g: g * 2)
    >>> handle.remove()
    """

    __slots__ = ("hooks_dict", "id")

    def __init__(self, hooks_dict: dict) -> None:
        self.hooks_dict = hooks_dict
        self.id = next(_next_id)

    @classmethod
    def add(cls, hooks_dict: dict, hook) -> RemovableHandle:
        handle = cls(hooks_dict)
        hooks_dict[handle.id] = hook
        return handle

    def remove(self) -> None:
        self.hooks_dict.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
