"""Turning an object tree into a checkpoint's header and arrays (see ``layout``)."""

from __future__ import annotations

import json
import math
import zlib
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from chainrule._tensor import Tensor
from chainrule.serialization._header import check_nesting
from chainrule.serialization.layout import (
    DTYPES,
    MAGIC,
    PREAMBLE,
    VERSION,
    FormatError,
    aligned,
    file_size,
)


class Encoder:
    """Turns an object tree into JSON-ready values, collecting its arrays."""

    def __init__(self) -> None:
        self.entries: list[dict] = []
        self.arrays: list[np.ndarray] = []
        self._index_of: dict[int, int] = {}
        self.data_size = 0

    def encode(self, obj: Any):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (int, np.integer)) and not isinstance(obj, bool):
            return int(obj)
        if isinstance(obj, (float, np.floating)):
            value = float(obj)
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(obj, Tensor):
            return {"$tensor": self._add_array(obj, _tensor_kind(obj), obj._data)}
        if isinstance(obj, np.ndarray):
            return {"$tensor": self._add_array(obj, "ndarray", obj)}
        if isinstance(obj, list):
            return [self.encode(item) for item in obj]
        from chainrule._dtype import dtype
        from chainrule._size import Size

        if isinstance(obj, Size):
            return {"$size": list(obj)}
        if isinstance(obj, tuple):
            return {"$tuple": [self.encode(item) for item in obj]}
        if isinstance(obj, OrderedDict):
            encoded = {"$odict": self._items(obj)}
            metadata = getattr(obj, "_metadata", None)
            if metadata is not None:
                encoded["metadata"] = self.encode(metadata)
            return encoded
        if isinstance(obj, dict):
            return {"$dict": self._items(obj)}
        if isinstance(obj, dtype):
            return {"$dtype": obj.name}
        raise TypeError(
            f"chainrule.save cannot store an object of type {type(obj).__name__}: checkpoints "
            "hold tensors, arrays, dicts, lists, tuples, strings, numbers, bools and None")

    def _items(self, mapping: dict) -> list:
        return [[self.encode(k), self.encode(v)] for k, v in mapping.items()]

    def _add_array(self, obj, kind: str, data: np.ndarray) -> int:
        index = self._index_of.get(id(obj))
        if index is not None:
            return index
        name = np.dtype(data.dtype).name
        if name not in DTYPES:
            raise TypeError(f"chainrule.save cannot store arrays of dtype {data.dtype}")
        # ascontiguousarray alone would turn a 0-d array into 1-d
        array = np.ascontiguousarray(data, dtype=np.dtype(DTYPES[name]).newbyteorder("<")).reshape(
            data.shape)
        offset = aligned(self.data_size)
        self.entries.append({"dtype": name, "shape": list(array.shape), "offset": offset,
                             "nbytes": array.nbytes, "kind": kind,
                             "requires_grad": bool(getattr(obj, "requires_grad", False))})
        self.arrays.append(array)
        self.data_size = offset + array.nbytes
        index = self._index_of[id(obj)] = len(self.entries) - 1
        return index


def _tensor_kind(t: Tensor) -> str:
    return "parameter" if type(t).__name__ == "Parameter" else "tensor"


def encode_file(obj: Any) -> tuple[bytes, list[tuple[int, np.ndarray]]]:
    """The preamble, header and padding; and each array with the zero bytes before it."""
    encoder = Encoder()
    tree = encoder.encode(obj)
    header = json.dumps({"tree": tree, "tensors": encoder.entries, "data_size": encoder.data_size},
                        allow_nan=False, separators=(",", ":")).encode()
    try:
        check_nesting(header, file_size(len(header), encoder.data_size))
    except FormatError as error:  # load would refuse the file, so do not write it
        raise RuntimeError(f"chainrule.save cannot store this object: {error}") from None
    head = PREAMBLE.pack(MAGIC, VERSION, len(header)) + header
    head += b"\0" * (aligned(len(head)) - len(head))
    chunks = []
    position = 0
    for entry, array in zip(encoder.entries, encoder.arrays):
        chunks.append((entry["offset"] - position, array))
        position = entry["offset"] + entry["nbytes"]
    return head, chunks


class ChecksumWriter:
    """Passes writes on to ``out`` and keeps the CRC-32 of every byte written."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.crc = 0

    def write(self, data) -> int | None:
        self.crc = zlib.crc32(data, self.crc)
        return self.out.write(data)
