"""Collation: turning a list of samples into one batch, as ``torch.utils.data`` does."""

from __future__ import annotations

import collections.abc
import copy

import numpy as np

from chainrule._creation import as_tensor, tensor
from chainrule._dtype import float64
from chainrule._tensor import Tensor, make_tensor

_UNSUPPORTED = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                "lists; found {}")


def _stack(tensors: list[Tensor]) -> Tensor:
    import chainrule

    stack = getattr(chainrule, "stack", None)
    if stack is not None:
        return stack(tensors, 0)
    return make_tensor(np.stack([t._data for t in tensors]))


def _is_numpy_text(array: np.ndarray) -> bool:
    return array.dtype.kind in "SUO"


def default_convert(data):
    """Convert NumPy arrays (inside containers too) to tensors, leaving everything else."""
    if isinstance(data, np.ndarray) and not _is_numpy_text(data):
        return make_tensor(data)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return make_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return type(data)({k: default_convert(v) for k, v in data.items()}) \
            if not isinstance(data, collections.abc.MutableMapping) else \
            _clone_with(data, {k: default_convert(v) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return [default_convert(d) for d in data]
    return data


def _clone_with(mapping, values: dict):
    try:
        clone = copy.copy(mapping)
        clone.update(values)
        return clone
    except TypeError:
        return values


def default_collate(batch: list):
    """Stack a list of samples into a batch, recursing through dicts, tuples and lists.

    Tensors are stacked, NumPy arrays and numbers become tensors (a batch starting with a
    Python float is float64, one starting with an int takes ``torch.tensor``'s inferred dtype),
    strings stay a list; tuples come back as lists, namedtuples and dicts keep their type.

    >>> default_collate([(1, 2.0), (3, 4.0)])
    [tensor([1, 3]), tensor([2., 4.], dtype=torch.float64)]
    >>> default_collate([1, 2.7, 3])
    tensor([1.0000, 2.7000, 3.0000])
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(batch)
    if isinstance(elem, np.ndarray):
        if _is_numpy_text(elem):
            raise TypeError(_UNSUPPORTED.format(elem.dtype))
        return _stack([make_tensor(b) for b in batch])
    if isinstance(elem, (np.bool_, np.number)):
        return as_tensor(batch)
    if isinstance(elem, float):
        return tensor(batch, dtype=float64)
    if isinstance(elem, int):
        # Like torch: a batch that starts with an int (or bool) takes the inferred dtype of all its
        # numbers, so [1, 2.7] is float32 and [True, 2] int64.
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        values = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            return _clone_with(elem, values)
        try:
            return type(elem)(values)
        except TypeError:
            return values
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(samples) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return columns
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            clone[:] = columns
            return clone
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
    raise TypeError(_UNSUPPORTED.format(type(elem)))
