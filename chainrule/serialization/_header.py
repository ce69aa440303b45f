"""Reading a checkpoint's structure: preamble, checksum, and a header parsed within bounds.

Every check raises ``FormatError`` saying what is wrong; the layout and the rules
are documented in ``chainrule.serialization.layout``.
"""

from __future__ import annotations

import json
import math
import zlib
from typing import Any

import numpy as np

from chainrule.serialization.layout import (
    BYTES_PER_CONTAINER,
    DTYPES,
    ENTRY_KEYS,
    FREE_CONTAINERS,
    HEADER_KEYS,
    KINDS,
    MAGIC,
    MAX_DEPTH,
    MAX_NDIM,
    PREAMBLE,
    TRAILER,
    VERSION,
    FormatError,
    aligned,
    file_size,
)

_CHUNK = 1 << 16  # keeps the scan's scratch arrays small


def split_file(buffer) -> tuple[Any, list[dict], memoryview]:
    """The encoded tree, the validated tensor entries and the data section of a whole file."""
    view = memoryview(buffer)
    version, header_end = _check_preamble(view)
    header_bytes = view[PREAMBLE.size:header_end]
    check_nesting(header_bytes, len(view))
    header = parse_json(header_bytes)
    tree, entries, data_size = check_header(header, version)
    expected = file_size(header_end - PREAMBLE.size, data_size, version)
    if len(view) != expected:
        problem = "is truncated" if len(view) < expected else "has trailing data"
        raise FormatError(f"the file {problem} (the header describes {expected} bytes, "
                          f"found {len(view)})")
    data_start = aligned(header_end)
    data = view[data_start:data_start + data_size]
    if version == 1 and zlib.crc32(data) != parse_count(header["data_crc32"], "data_crc32"):
        raise FormatError("the data is corrupted (checksum mismatch)")
    return tree, entries, data


def _check_preamble(view: memoryview) -> tuple[int, int]:
    """The format version and where the header ends, once magic, version and checksum match."""
    if len(view) < PREAMBLE.size or view[:len(MAGIC)] != MAGIC:
        raise FormatError(_describe_foreign(view))
    _, version, header_size = PREAMBLE.unpack_from(view)
    if version not in HEADER_KEYS:
        newer = " is newer than this chainrule understands" if version > VERSION else " is unknown"
        raise FormatError(f"format version {version}{newer} (it reads 1 to {VERSION})")
    trailer = TRAILER.size if version >= 2 else 0
    header_end = PREAMBLE.size + header_size
    if header_end + trailer > len(view):
        raise FormatError(f"the file is truncated (header incomplete: {len(view)} bytes, the "
                          f"header alone needs {header_end + trailer})")
    if trailer and zlib.crc32(view[:-trailer]) != TRAILER.unpack_from(view, len(view) - trailer)[0]:
        raise FormatError("the file is damaged or truncated (checksum mismatch)")
    return version, header_end


def _describe_foreign(view: memoryview) -> str:
    start = bytes(view[:4])
    if start[:1] == b"\x80" or start[:1] in (b"(", b"]", b"}", b"c"):
        return "it looks like a pickle, which chainrule.load never unpickles"
    if start == b"PK\x03\x04":
        return ("it looks like a zip archive (PyTorch's torch.save format, which is pickle "
                "inside); re-save tensors with safetensors and use load_safetensors")
    return ("not a chainrule checkpoint (bad magic bytes; the file may be truncated or of "
            "another format)")


def check_nesting(header: bytes | memoryview, total_size: int) -> None:
    """Refuse a header nested deeper than ``MAX_DEPTH`` or with more JSON arrays and
    objects than ``FREE_CONTAINERS`` or one per ``BYTES_PER_CONTAINER`` bytes of a
    ``total_size``-byte file, whichever is more.

    It runs before any parsing and counts brackets outside strings chunk by chunk,
    without recursing or copying the header, so it holds whatever the interpreter's
    recursion limit is and needs little memory.
    """
    codes = np.frombuffer(header, dtype=np.uint8)
    depth = containers = 0
    in_string, backslashes = False, 0
    for start in range(0, codes.size, _CHUNK):
        chunk = codes[start:start + _CHUNK]
        outside, in_string, backslashes = _outside_strings(chunk, in_string, backslashes)
        opens = outside & ((chunk == ord("[")) | (chunk == ord("{")))
        closes = outside & ((chunk == ord("]")) | (chunk == ord("}")))
        levels = np.cumsum(opens.astype(np.int32) - closes, dtype=np.int32) + depth
        if levels.max() > MAX_DEPTH:
            raise FormatError(f"the header nests more than {MAX_DEPTH} levels deep")
        depth = int(levels[-1])
        containers += int(np.count_nonzero(opens))
    if containers > max(FREE_CONTAINERS, total_size // BYTES_PER_CONTAINER):
        raise FormatError(f"the header holds {containers} JSON arrays and objects, more than "
                          f"{FREE_CONTAINERS} or one per {BYTES_PER_CONTAINER} bytes of the "
                          f"{total_size}-byte file")


def _outside_strings(chunk: np.ndarray, in_string: bool, backslashes: int):
    """Which bytes of ``chunk`` lie outside JSON strings, given whether the text before it
    ended inside a string and in how many backslashes; and those two facts after ``chunk``.

    A quote delimits a string unless an odd number of backslashes precedes it.
    """
    positions = np.arange(chunk.size, dtype=np.int32)
    last_other = np.maximum.accumulate(np.where(chunk == ord("\\"), -1, positions))
    backslashes_before = np.empty(chunk.size, dtype=np.int32)
    backslashes_before[0] = backslashes
    backslashes_before[1:] = positions[:-1] - last_other[:-1]
    backslashes_before[1:] += np.where(last_other[:-1] < 0, backslashes, 0)
    quotes = (chunk == ord('"')) & (backslashes_before % 2 == 0)
    inside = (np.cumsum(quotes, dtype=np.int32) % 2 == 1) ^ in_string
    trailing = chunk.size - 1 - int(last_other[-1]) + (backslashes if last_other[-1] < 0 else 0)
    return ~inside, bool(inside[-1]), trailing


def parse_json(header: bytes | memoryview) -> Any:
    """The header's JSON, refusing NaN/Infinity, duplicate keys and invalid UTF-8."""
    try:
        return json.loads(str(header, "utf-8"), object_pairs_hook=_unique_keys,
                          parse_constant=_refuse_constant)
    except FormatError:
        raise
    except ValueError as error:
        raise FormatError(f"the header is corrupted ({error})") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise FormatError("the header is corrupted (an object repeats a key)")
    return result


def _refuse_constant(name: str):
    raise FormatError(f"the header is corrupted ({name} is not valid JSON)")


def parse_count(value: Any, what: str = "a size") -> int:
    """``value`` if it is a non-negative integer (not a bool, not a float)."""
    if type(value) is not int or value < 0:
        raise FormatError(f"the header is corrupted ({what} is {value!r}, expected a "
                          "non-negative integer)")
    return value


def check_header(header: Any, version: int) -> tuple[Any, list[dict], int]:
    """The tree, the tensor entries and ``data_size`` of a parsed header, all checked."""
    if not isinstance(header, dict) or set(header) != HEADER_KEYS[version]:
        keys = sorted(header) if isinstance(header, dict) else type(header).__name__
        raise FormatError(f"the header is corrupted (keys {keys}, expected "
                          f"{sorted(HEADER_KEYS[version])})")
    entries = header["tensors"]
    if not isinstance(entries, list):
        raise FormatError("the header is corrupted ('tensors' is not a list)")
    end = 0
    for index, entry in enumerate(entries):
        end = _check_entry(entry, index, start=aligned(end))
    data_size = parse_count(header["data_size"], "data_size")
    if data_size != end:
        raise FormatError(f"the header is corrupted (data_size is {data_size} but the arrays "
                          f"end at {end})")
    return header["tree"], entries, data_size


def _check_entry(entry: Any, index: int, start: int) -> int:
    """Check tensor entry ``index``, which must begin at ``start``; return where it ends."""
    where = f"tensor {index}"
    if not isinstance(entry, dict) or set(entry) != ENTRY_KEYS:
        raise FormatError(f"the header is corrupted ({where} must have exactly the keys "
                          f"{sorted(ENTRY_KEYS)})")
    dtype, kind, shape = entry["dtype"], entry["kind"], entry["shape"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise FormatError(f"the header is corrupted ({where} has unknown dtype {dtype!r})")
    if not isinstance(kind, str) or kind not in KINDS:
        raise FormatError(f"the header is corrupted ({where} has unknown kind {kind!r})")
    if not isinstance(shape, list) or len(shape) > MAX_NDIM:
        raise FormatError(f"the header is corrupted ({where} has shape {shape!r}, expected a "
                          f"list of at most {MAX_NDIM} sizes)")
    for size in shape:
        parse_count(size, f"a size in {where}'s shape {shape}")
    offset = parse_count(entry["offset"], f"{where}'s offset")
    nbytes = parse_count(entry["nbytes"], f"{where}'s nbytes")
    needed = math.prod(shape) * np.dtype(DTYPES[dtype]).itemsize
    if nbytes != needed:
        raise FormatError(f"the header is corrupted ({where} has nbytes {nbytes}, but shape "
                          f"{shape} of {dtype} needs {needed})")
    if offset != start:
        raise FormatError(f"the header is corrupted ({where} is at offset {offset}; arrays are "
                          f"packed in order without overlap, so it must be at {start})")
    requires_grad = entry["requires_grad"]
    if not isinstance(requires_grad, bool) or (
            requires_grad and (kind == "ndarray" or not dtype.startswith("float"))):
        raise FormatError(f"the header is corrupted ({where}: requires_grad={requires_grad!r} "
                          f"for a {dtype} {kind})")
    return offset + nbytes
