"""Bringing a file into memory once: one writable buffer (or a private mapping) that
every loaded array views, so loading needs about the file's size, not twice it."""

from __future__ import annotations

import io
import mmap as mmap_module
import os


def read_source(f, mmap: bool) -> tuple[bytearray | mmap_module.mmap, str]:
    """The bytes of a path or binary file object, and the name to use in errors."""
    if hasattr(f, "read"):
        if mmap:
            raise ValueError("f must be a file path in order to use the mmap argument")
        return _read_rest(f), str(getattr(f, "name", None) or type(f).__name__)
    path = os.fspath(f)
    with open(path, "rb") as handle:
        return (_map(handle) if mmap else _read_rest(handle)), str(path)


def _map(handle) -> bytearray | mmap_module.mmap:
    # ACCESS_COPY: pages come from the file on first touch, and writing to a loaded
    # tensor changes only this process's copy, never the file.
    if os.fstat(handle.fileno()).st_size == 0:
        return bytearray()  # an empty file cannot be mapped
    return mmap_module.mmap(handle.fileno(), 0, access=mmap_module.ACCESS_COPY)


def _read_rest(handle) -> bytearray:
    size = _remaining(handle)
    if size is None or not hasattr(handle, "readinto"):
        return bytearray(handle.read())
    buffer = bytearray(size)
    with memoryview(buffer) as view:
        filled = 0
        while filled < size:
            count = handle.readinto(view[filled:])
            if not count:
                break
            filled += count
    del buffer[filled:]  # the file shrank while being read
    return buffer


def _remaining(handle) -> int | None:
    try:
        position = handle.tell()
        end = handle.seek(0, io.SEEK_END)
        handle.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return max(end - position, 0)
