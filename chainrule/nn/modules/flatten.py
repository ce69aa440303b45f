"""``Flatten`` and ``Unflatten``: reshape a range of dimensions (a view, no copy)."""

from __future__ import annotations

from chainrule._ops._util import Tensor
from chainrule.nn.modules._checks import check_argument
from chainrule.nn.modules.module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` into one (default: all but the batch dim).

    >>> import chainrule as torch
    >>> torch.nn.Flatten()(torch.zeros(32, 1, 5, 5)).shape
    torch.Size([32, 25])
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``."""

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        check_argument(isinstance(unflattened_size, (tuple, list)), "unflattened_size must be a "
                       f"tuple of ints, but found type {type(unflattened_size).__name__}", TypeError)
        for position, size in enumerate(unflattened_size):
            check_argument(isinstance(size, int), "unflattened_size must be tuple of ints, but "
                           f"found element of type {type(size).__name__} at pos {position}",
                           TypeError)
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
