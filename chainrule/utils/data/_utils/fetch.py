"""Fetchers: turn one unit of work (a batch of indices, or 'next') into a batch."""

from __future__ import annotations

import numpy as np

from chainrule._tensor import make_tensor
from chainrule.utils.data._utils.collate import default_collate
from chainrule.utils.data.dataset import Subset, TensorDataset


def _tensor_columns(dataset):
    """(tensors, index map) when ``dataset`` is a TensorDataset seen through Subsets, else None."""
    index_maps = []
    while type(dataset) is Subset:
        index_maps.append(np.asarray(dataset.indices, dtype=np.intp))
        dataset = dataset.dataset
    if type(dataset) is not TensorDataset:
        return None
    if any(t.requires_grad for t in dataset.tensors):
        return None
    index_map = None
    for indices in reversed(index_maps):
        index_map = indices if index_map is None else index_map[indices]
    return [t._data for t in dataset.tensors], index_map


class MapDatasetFetcher:
    def __init__(self, dataset, auto_collation: bool, collate_fn) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        # One NumPy fancy index per tensor is far faster than stacking rows one by one.
        self.columns = (_tensor_columns(dataset)
                        if auto_collation and collate_fn is default_collate else None)

    def fetch(self, indices):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[indices])
        if self.columns is not None:
            arrays, index_map = self.columns
            rows = np.asarray(indices, dtype=np.intp)
            if index_map is not None:
                rows = index_map[rows]
            return [make_tensor(a[rows]) for a in arrays]
        getitems = getattr(self.dataset, "__getitems__", None)
        data = getitems(indices) if getitems else [self.dataset[i] for i in indices]
        return self.collate_fn(data)


class IterableDatasetFetcher:
    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool,
                 batch_size: int | None) -> None:
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.batch_size = batch_size
        self.ended = False

    def fetch(self, _indices=None):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        data = []
        for item in self.iterator:
            data.append(item)
            if len(data) == self.batch_size:
                break
        if len(data) < self.batch_size:
            self.ended = True
            if not data or self.drop_last:
                raise StopIteration
        return self.collate_fn(data)
