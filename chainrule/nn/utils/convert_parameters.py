"""Flatten parameters into one vector and back (as used by second-order and evolutionary methods)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from chainrule._tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters, flattened and concatenated into one 1-d tensor (differentiable).

    >>> import chainrule as torch
    >>> torch.nn.utils.parameters_to_vector([torch.ones(2, 2), torch.zeros(1)])
    tensor([1., 1., 1., 1., 0.])
    """
    import chainrule

    return chainrule.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into each parameter's values (in place, untracked)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    data = vec._data
    offset = 0
    for p in parameters:
        count = p._data.size
        piece = data[offset:offset + count]
        if piece.size != count:
            raise RuntimeError(f"shape '{list(p._data.shape)}' is invalid for input of size {piece.size}")
        np.copyto(p._data, piece.reshape(p._data.shape), casting="unsafe")
        p._bump_version()
        offset += count
