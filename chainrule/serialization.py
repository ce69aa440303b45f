"""``save`` and ``load``: checkpoints in a documented, pickle-free format.

``chainrule.load`` never executes code from a file: there is no pickle in the
format, only a JSON description of the saved object and the raw bytes of its
arrays. Files are written atomically, so a crash mid-save leaves the previous
checkpoint intact.

File layout (all integers little-endian)::

    offset 0   8 bytes   magic  b"CHRNCKPT"
    offset 8   4 bytes   format version (uint32, currently 1)
    offset 12  8 bytes   header length H (uint64)
    offset 20  H bytes   header: UTF-8 JSON object, see below
    then       padding with zero bytes up to a multiple of 64
    then       data section: the arrays' bytes, each starting at a multiple of 64

The header is ``{"tree": T, "tensors": [...], "data_size": n, "data_crc32": c}``.
Each entry of ``tensors`` is ``{"dtype": "float32", "shape": [2, 3], "offset": o,
"nbytes": b, "kind": "tensor" | "parameter" | "ndarray", "requires_grad": bool}``
with ``offset`` relative to the data section; arrays are C-contiguous and
little-endian. ``data_crc32`` (zlib's CRC-32 of the data section) detects
corruption. ``T`` encodes the saved object:

* ``null``, ``true``/``false``, integers, finite floats and strings: themselves;
* a list: a JSON array of encoded items;
* any other value: an object with one tag key --
  ``{"$tensor": i}`` (entry ``i`` of ``tensors``), ``{"$tuple": [...]}``,
  ``{"$dict": [[key, value], ...]}`` (keys encoded too, so ``int`` keys such as
  an optimizer's parameter indices stay ``int``), ``{"$odict": [[key, value],
  ...], "metadata": M}`` (an ``OrderedDict``, with a module state dict's
  ``_metadata``), ``{"$float": "nan" | "inf" | "-inf"}``, ``{"$dtype": "float32"}``,
  ``{"$size": [...]}`` (``torch.Size``).

>>> import chainrule as torch, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.pt")
>>> torch.save({"step": 3, "w": torch.ones(2)}, path)
>>> torch.load(path)
{'step': 3, 'w': tensor([1., 1.])}
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
import zlib
from collections import OrderedDict
from contextlib import contextmanager
from typing import IO, Any

import numpy as np

from chainrule._tensor import Tensor, make_tensor

__all__ = ["save", "load", "save_safetensors", "load_safetensors"]

MAGIC = b"CHRNCKPT"
VERSION = 1
_PREAMBLE = struct.Struct("<8sIQ")
_ALIGN = 64
_DTYPES = {"bool": np.bool_, "uint8": np.uint8, "int8": np.int8, "int16": np.int16,
           "int32": np.int32, "int64": np.int64, "float16": np.float16, "float32": np.float32,
           "float64": np.float64}


# ----------------------------------------------------------------------- saving
class _Encoder:
    """Turns an object tree into JSON-ready values, collecting its arrays."""

    def __init__(self) -> None:
        self.entries: list[dict] = []
        self.arrays: list[np.ndarray] = []
        self._index_of: dict[int, int] = {}
        self._size = 0

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
        if name not in _DTYPES:
            raise TypeError(f"chainrule.save cannot store arrays of dtype {data.dtype}")
        # ascontiguousarray alone would turn a 0-d array into 1-d
        array = np.ascontiguousarray(data, dtype=np.dtype(_DTYPES[name]).newbyteorder("<")).reshape(
            data.shape)
        self._size = _aligned(self._size)
        self.entries.append({"dtype": name, "shape": list(array.shape), "offset": self._size,
                             "nbytes": array.nbytes, "kind": kind,
                             "requires_grad": bool(getattr(obj, "requires_grad", False))})
        self.arrays.append(array)
        self._size += array.nbytes
        index = self._index_of[id(obj)] = len(self.entries) - 1
        return index


def _tensor_kind(t: Tensor) -> str:
    return "parameter" if type(t).__name__ == "Parameter" else "tensor"


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _encode_file(obj: Any) -> tuple[bytes, list[tuple[int, np.ndarray]], int]:
    """The preamble plus header, and the arrays with their absolute padding before them."""
    encoder = _Encoder()
    tree = encoder.encode(obj)
    crc = 0
    position = 0
    for entry, array in zip(encoder.entries, encoder.arrays):
        padding = entry["offset"] - position
        crc = zlib.crc32(b"\0" * padding, crc)
        crc = zlib.crc32(memoryview(array).cast("B") if array.size else b"", crc)
        position = entry["offset"] + entry["nbytes"]
    header = json.dumps({"tree": tree, "tensors": encoder.entries, "data_size": position,
                         "data_crc32": crc}, allow_nan=False, separators=(",", ":")).encode()
    head = _PREAMBLE.pack(MAGIC, VERSION, len(header)) + header
    head += b"\0" * (_aligned(len(head)) - len(head))
    chunks = []
    position = 0
    for entry, array in zip(encoder.entries, encoder.arrays):
        chunks.append((entry["offset"] - position, array))
        position = entry["offset"] + entry["nbytes"]
    return head, chunks, position


def _write_arrays(f: IO[bytes], chunks: list[tuple[int, np.ndarray]]) -> None:
    for padding, array in chunks:
        if padding:
            f.write(b"\0" * padding)
        if array.size:
            f.write(memoryview(array).cast("B"))


def save(obj: Any, f, pickle_module=None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Write ``obj`` (tensors, dicts, lists, numbers...) to a path or binary file object.

    Writing to a path is atomic: the data goes to a temporary file in the same
    directory, is flushed to disk, and only then replaces ``f``.
    """
    head, chunks, _ = _encode_file(obj)
    if hasattr(f, "write"):
        f.write(head)
        _write_arrays(f, chunks)
        return
    with atomic_writer(f) as out:
        out.write(head)
        _write_arrays(out, chunks)


@contextmanager
def atomic_writer(path):
    """A binary file that replaces ``path`` only once fully written and flushed to disk.

    Readers see the old file or the new one, never half of one; a failure
    while writing leaves the old file as it was. The file gets the permissions ``open()`` would
    give it (the umask's), not the owner-only ones of a temporary file.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".chainrule", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
            os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it, so put it straight back
    os.umask(mask)
    return mask


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------- loading
def _read_all(f) -> tuple[bytes, str]:
    if hasattr(f, "read"):
        return f.read(), getattr(f, "name", None) or type(f).__name__
    path = os.fspath(f)
    with open(path, "rb") as handle:
        return handle.read(), path


def _describe_foreign(raw: bytes) -> str | None:
    if raw[:1] == b"\x80" or raw[:1] in (b"(", b"]", b"}", b"c"):
        return "it looks like a pickle, which chainrule.load never unpickles"
    if raw[:4] == b"PK\x03\x04":
        return ("it looks like a zip archive (PyTorch's torch.save format, which is pickle "
                "inside); re-save tensors with safetensors and use load_safetensors")
    return None


def load(f, map_location=None, pickle_module=None, *, weights_only: bool | None = True,
         mmap: bool | None = None, **pickle_load_args) -> Any:
    """Read an object written by ``save``. No code from the file is ever run.

    ``map_location`` is accepted for compatibility (every tensor is on the CPU).
    Truncated, corrupted or foreign files raise ``RuntimeError`` naming the file.
    """
    raw, name = _read_all(f)

    def fail(reason: str):
        return RuntimeError(f"chainrule.load: cannot read '{name}': {reason}")

    if len(raw) < _PREAMBLE.size or raw[:8] != MAGIC:
        foreign = _describe_foreign(raw)
        raise fail(foreign or "not a chainrule checkpoint (bad magic bytes; the file may be "
                   "truncated or of another format)")
    _, version, header_size = _PREAMBLE.unpack_from(raw)
    if version > VERSION:
        raise fail(f"format version {version} is newer than this chainrule understands ({VERSION})")
    header_end = _PREAMBLE.size + header_size
    if header_end > len(raw):
        raise fail("the file is truncated (header incomplete)")
    try:
        header = json.loads(raw[_PREAMBLE.size:header_end].decode("utf-8"))
        entries, data_size, crc = header["tensors"], header["data_size"], header["data_crc32"]
    except (ValueError, KeyError, TypeError) as error:
        raise fail(f"the header is corrupted ({error})") from None
    data_start = _aligned(header_end)
    if len(raw) < data_start + data_size:
        raise fail(f"the file is truncated (expected {data_start + data_size} bytes, found {len(raw)})")
    data = memoryview(raw)[data_start:data_start + data_size]
    if zlib.crc32(data) != crc:
        raise fail("the data is corrupted (checksum mismatch)")
    buffer = bytearray(data)  # one writable buffer that every loaded array views
    try:
        arrays = [_array_from(buffer, entry) for entry in entries]
        return _Decoder(arrays, entries).decode(header["tree"])
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise fail(f"the header is corrupted ({error})") from None


def _array_from(buffer: bytearray, entry: dict) -> np.ndarray:
    dtype = np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<")
    shape = tuple(int(s) for s in entry["shape"])
    count = int(np.prod(shape, dtype=np.int64))
    array = np.frombuffer(buffer, dtype=dtype, count=count, offset=int(entry["offset"]))
    return array.reshape(shape).astype(dtype.newbyteorder("="), copy=False)


class _Decoder:
    def __init__(self, arrays: list[np.ndarray], entries: list[dict]) -> None:
        self.arrays = arrays
        self.entries = entries
        self.made: dict[int, Any] = {}

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(item) for item in node]
        if not isinstance(node, dict) or len(node) not in (1, 2):
            raise ValueError(f"unexpected node {node!r}")
        if "$tensor" in node:
            return self._tensor(int(node["$tensor"]))
        if "$tuple" in node:
            return tuple(self.decode(item) for item in node["$tuple"])
        if "$dict" in node:
            return {self._key(k): self.decode(v) for k, v in node["$dict"]}
        if "$odict" in node:
            result = OrderedDict((self._key(k), self.decode(v)) for k, v in node["$odict"])
            if "metadata" in node:
                result._metadata = self.decode(node["metadata"])
            return result
        if "$float" in node:
            return float(node["$float"])
        if "$dtype" in node:
            from chainrule._dtype import to_dtype

            return to_dtype(node["$dtype"])
        if "$size" in node:
            from chainrule._size import Size

            return Size(int(s) for s in node["$size"])
        raise ValueError(f"unknown tag in {node!r}")

    def _key(self, node):
        key = self.decode(node)
        return tuple(key) if isinstance(key, list) else key

    def _tensor(self, index: int):
        if index in self.made:
            return self.made[index]
        entry, array = self.entries[index], self.arrays[index]
        if entry["kind"] == "ndarray":
            value = array
        elif entry["kind"] == "parameter":
            from chainrule.nn.parameter import Parameter

            value = Parameter(make_tensor(array), requires_grad=bool(entry["requires_grad"]))
        else:
            value = make_tensor(array)
            if entry["requires_grad"] and array.dtype.kind == "f":
                value._requires_grad = True
        self.made[index] = value
        return value


# ------------------------------------------------------------------ safetensors
def _safetensors_numpy():
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError("save_safetensors/load_safetensors need the safetensors package: "
                          "pip install safetensors") from None
    return safetensors.numpy


def save_safetensors(state_dict: dict, path, metadata: dict[str, str] | None = None) -> None:
    """Write a flat ``{name: tensor}`` dict as a ``.safetensors`` file (atomically)."""
    st = _safetensors_numpy()
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(value, (Tensor, np.ndarray)):
            raise TypeError(f"safetensors stores only tensors, but '{name}' is a {type(value).__name__}")
        array = value._data if isinstance(value, Tensor) else value
        arrays[name] = np.ascontiguousarray(array).reshape(array.shape)
    payload = st.save(arrays, metadata=metadata)
    with atomic_writer(path) as out:
        out.write(payload)


def load_safetensors(path) -> OrderedDict:
    """Read a ``.safetensors`` file (e.g. one written by ``safetensors.torch.save_file``)."""
    st = _safetensors_numpy()
    if hasattr(path, "read"):
        arrays = st.load(path.read())
    else:
        with open(os.fspath(path), "rb") as handle:
            arrays = st.load(handle.read())
    return OrderedDict((name, make_tensor(np.require(array, requirements=["C", "W"])))
                       for name, array in arrays.items())

