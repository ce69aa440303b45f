"""Turning a checked header's tree back into objects, refusing anything ``save`` never writes."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from chainrule._tensor import make_tensor
from chainrule.serialization._header import parse_count
from chainrule.serialization.layout import DTYPES, FormatError


class Decoder:
    """Rebuilds the saved object; arrays are views of ``data`` (no copy)."""

    def __init__(self, entries: list[dict], data: memoryview) -> None:
        self.entries = entries
        self.data = data
        self.made: dict[int, Any] = {}
        self._tags = {"$tensor": self._tensor, "$tuple": self._tuple, "$dict": self._dict,
                      "$float": self._float, "$dtype": self._dtype, "$size": self._size}

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            for i, item in enumerate(node):  # in place: no second copy of a long list
                node[i] = self.decode(item)
            return node
        if set(node) in ({"$odict"}, {"$odict", "metadata"}):
            result = OrderedDict(self._pairs(node["$odict"]))
            if "metadata" in node:
                result._metadata = self.decode(node["metadata"])
            return result
        tag = next(iter(node), None)
        if len(node) != 1 or tag not in self._tags:
            raise FormatError(f"the header is corrupted (unknown node with keys {sorted(node)})")
        return self._tags[tag](node[tag])

    def _list(self, value, tag: str) -> list:
        if not isinstance(value, list):
            raise FormatError(f"the header is corrupted ({tag} holds {type(value).__name__}, "
                              "expected a list)")
        return value

    def _tuple(self, value) -> tuple:
        return tuple(self.decode(item) for item in self._list(value, "$tuple"))

    def _dict(self, value) -> dict:
        return dict(self._pairs(value))

    def _pairs(self, value):
        for pair in self._list(value, "a dict"):
            if not isinstance(pair, list) or len(pair) != 2:
                raise FormatError("the header is corrupted (a dict item is not a [key, value] pair)")
            key = self.decode(pair[0])
            try:
                hash(key)
            except TypeError:
                raise FormatError("the header is corrupted (a dict key is unhashable)") from None
            yield key, self.decode(pair[1])

    def _float(self, value) -> float:
        if value not in ("nan", "inf", "-inf"):
            raise FormatError(f"the header is corrupted ($float is {value!r})")
        return float(value)

    def _dtype(self, value):
        from chainrule._dtype import to_dtype

        if not isinstance(value, str) or value not in DTYPES:
            raise FormatError(f"the header is corrupted (unknown $dtype {value!r})")
        return to_dtype(value)

    def _size(self, value):
        from chainrule._size import Size

        return Size(parse_count(size, "a torch.Size") for size in self._list(value, "$size"))

    def _tensor(self, index):
        if type(index) is not int or not 0 <= index < len(self.entries):
            raise FormatError(f"the header is corrupted ($tensor {index!r} is not one of the "
                              f"{len(self.entries)} tensors)")
        if index not in self.made:
            self.made[index] = self._make_tensor(self.entries[index])
        return self.made[index]

    def _make_tensor(self, entry: dict):
        dtype = np.dtype(DTYPES[entry["dtype"]]).newbyteorder("<")
        array = np.frombuffer(self.data, dtype=dtype, count=entry["nbytes"] // dtype.itemsize,
                              offset=entry["offset"])
        array = array.reshape(entry["shape"]).astype(dtype.newbyteorder("="), copy=False)
        if entry["kind"] == "ndarray":
            return array
        if entry["kind"] == "parameter":
            from chainrule.nn.parameter import Parameter

            return Parameter(make_tensor(array), requires_grad=entry["requires_grad"])
        value = make_tensor(array)
        value._requires_grad = entry["requires_grad"]
        return value
