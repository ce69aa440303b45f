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

import functools
import os
from typing import IO, Any

import numpy as np

from chainrule.serialization._allowlist import (
    add_safe_globals,
    clear_safe_globals,
    get_safe_globals,
    safe_globals,
)
from chainrule.serialization._atomic import atomic_writer
from chainrule.serialization._decode import Decoder
from chainrule.serialization._encode import ChecksumWriter, encode_file
from chainrule.serialization._header import split_file
from chainrule.serialization._safetensors import load_safetensors, save_safetensors
from chainrule.serialization._source import read_source
from chainrule.serialization._torch_zip import ZIP_MAGIC
from chainrule.serialization.layout import TRAILER, FormatError
from chainrule.serialization.torch_format import load_torch_format, save_torch_format

__all__ = ["save", "load", "save_safetensors", "load_safetensors", "add_safe_globals",
           "safe_globals", "get_safe_globals", "clear_safe_globals"]

FileLike = str | os.PathLike | IO[bytes]


def save(obj: Any, f: FileLike, pickle_module=None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True, *, format: str | None = None) -> None:
    """Write ``obj`` to a path or binary file object.

    ``format="chainrule"`` writes chainrule's pickle-free format (``layout``), which
    holds tensors, arrays, dicts, lists, tuples, strings, numbers, bools and None;
    ``format="torch"`` writes PyTorch's zip format (``torch_format``), which real
    ``torch.load`` reads and which holds any picklable object. The default is the
    first for the objects it holds and the second otherwise (``torch.save(model)``).
    ``pickle_module``, ``pickle_protocol`` and ``_use_new_zipfile_serialization`` are
    accepted for compatibility; PyTorch's legacy (pre-zip) format is never written.
    Writing to a path is atomic: the data goes to a temporary file in the same
    directory, is flushed to disk, and only then replaces ``f``.
    """
    if format not in (None, "chainrule", "torch"):
        raise ValueError(f"format must be 'chainrule' or 'torch', got {format!r}")
    if format == "torch":
        write = functools.partial(save_torch_format, obj)
    else:
        try:
            head, chunks = encode_file(obj)
            write = functools.partial(_write_file, head=head, chunks=chunks)
        except TypeError:
            if format == "chainrule":
                raise
            write = functools.partial(save_torch_format, obj)  # a whole object, as torch.save
    if hasattr(f, "write"):
        write(f)
        return
    with atomic_writer(f) as out:
        write(out)


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
    """Read an object written by ``save`` or by PyTorch's ``torch.save``.

    chainrule's format never runs code. In PyTorch's zip format, ``weights_only=True``
    (the default; None means the same) rebuilds only tensors, plain containers and
    the classes allowed by ``add_safe_globals``, refusing anything else with
    ``pickle.UnpicklingError``; ``weights_only=False`` unpickles fully, which runs
    code the file names, so use it only on files you trust.

    The file is read once into a buffer that the loaded arrays share, so loading
    takes about the file's size in memory; with ``mmap=True`` (paths only) the
    arrays are backed by a private mapping of the file instead. ``map_location``
    is accepted for compatibility (every tensor is on the CPU). Truncated,
    corrupted, foreign or hostile files raise ``RuntimeError`` naming the file.
    """
    buffer, name = read_source(f, mmap=bool(mmap))
    try:
        if bytes(buffer[:len(ZIP_MAGIC)]) == ZIP_MAGIC:
            return load_torch_format(buffer, name, weights_only=weights_only is not False,
                                     verify_crc=not mmap)
        tree, entries, data = split_file(buffer)
        return Decoder(entries, data).decode(tree)
    except FormatError as error:
        reason = str(error)
    except RecursionError:
        reason = "the header nests too deeply for the interpreter's recursion limit"
    raise RuntimeError(f"chainrule.load: cannot read '{name}': {reason}")
