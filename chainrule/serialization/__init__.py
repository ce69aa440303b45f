"""``save`` and ``load``: checkpoints in a documented, pickle-free format.

``chainrule.load`` never executes code from a file, and any damaged, truncated or
hostile file raises ``RuntimeError`` naming the file and what is wrong. Files are
written atomically, so a crash mid-save leaves the previous checkpoint intact. The
format, byte by byte, and every check ``load`` makes are documented in
``chainrule.serialization.layout``.

>>> import chainrule as torch, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.pt")
>>> torch.save({"step": 3, "w": torch.ones(2)}, path)
>>> torch.load(path, mmap=True)
{'step': 3, 'w': tensor([1., 1.])}
"""

from __future__ import annotations

import os
from typing import IO, Any

import numpy as np

from chainrule.serialization._atomic import atomic_writer
from chainrule.serialization._decode import Decoder
from chainrule.serialization._encode import ChecksumWriter, encode_file
from chainrule.serialization._header import split_file
from chainrule.serialization._safetensors import load_safetensors, save_safetensors
from chainrule.serialization._source import read_source
from chainrule.serialization.layout import TRAILER, FormatError

__all__ = ["save", "load", "save_safetensors", "load_safetensors"]

FileLike = str | os.PathLike | IO[bytes]


def save(obj: Any, f: FileLike, pickle_module=None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True) -> None:
    """Write ``obj`` (tensors, dicts, lists, numbers...) to a path or binary file object.

    Writing to a path is atomic: the data goes to a temporary file in the same
    directory, is flushed to disk, and only then replaces ``f``.
    """
    head, chunks = encode_file(obj)
    if hasattr(f, "write"):
        _write_file(f, head, chunks)
        return
    with atomic_writer(f) as out:
        _write_file(out, head, chunks)


def _write_file(out: IO[bytes], head: bytes, chunks: list[tuple[int, np.ndarray]]) -> None:
    checksummed = ChecksumWriter(out)
    checksummed.write(head)
    _write_arrays(checksummed, chunks)
    out.write(TRAILER.pack(checksummed.crc))


def _write_arrays(f, chunks: list[tuple[int, np.ndarray]]) -> None:
    for padding, array in chunks:
        if padding:
            f.write(b"\0" * padding)
        if array.size:
            f.write(memoryview(array).cast("B"))


def load(f: FileLike, map_location=None, pickle_module=None, *, weights_only: bool | None = True,
         mmap: bool | None = None, **pickle_load_args) -> Any:
    """Read an object written by ``save``. No code from the file is ever run.

    The file is read once into a buffer that the loaded arrays share, so loading
    takes about the file's size in memory; with ``mmap=True`` (paths only) the
    arrays are backed by a private mapping of the file instead. ``map_location``
    is accepted for compatibility (every tensor is on the CPU). Truncated,
    corrupted, foreign or hostile files raise ``RuntimeError`` naming the file.
    """
    buffer, name = read_source(f, mmap=bool(mmap))
    try:
        tree, entries, data = split_file(buffer)
        return Decoder(entries, data).decode(tree)
    except FormatError as error:
        reason = str(error)
    except RecursionError:
        reason = "the header nests too deeply for the interpreter's recursion limit"
    raise RuntimeError(f"chainrule.load: cannot read '{name}': {reason}")
