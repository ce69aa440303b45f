"""The checkpoint format of ``chainrule.save`` / ``chainrule.load``, byte by byte.

There is no pickle in the format, only a JSON description of the saved object
and the raw bytes of its arrays, so loading never executes code from a file.

File layout, version 2 (all integers little-endian)::

    offset 0   8 bytes   magic  b"CHRNCKPT"
    offset 8   4 bytes   format version (uint32, currently 2)
    offset 12  8 bytes   header length H (uint64)
    offset 20  H bytes   header: UTF-8 JSON object, see below
    then       zero bytes up to a multiple of 64
    then       data section: the arrays' bytes, each starting at a multiple of 64
    last       4 bytes   CRC-32 (zlib's) of every byte before it

The checksum covers the whole file, so any damage up to 32 adjacent bits (and
all but one in four billion larger ones) is detected before the header is read.

The header is ``{"tree": T, "tensors": [...], "data_size": n}``. Each entry of
``tensors`` is ``{"dtype": "float32", "shape": [2, 3], "offset": o, "nbytes": b,
"kind": "tensor" | "parameter" | "ndarray", "requires_grad": bool}``, with
``offset`` relative to the data section; arrays are C-contiguous and
little-endian. ``T`` encodes the saved object:

* ``null``, ``true``/``false``, integers, finite floats and strings: themselves;
* a list: a JSON array of encoded items;
* any other value: an object with one tag key --
  ``{"$tensor": i}`` (entry ``i`` of ``tensors``; a tensor saved twice is stored
  once and loads as one object), ``{"$tuple": [...]}``,
  ``{"$dict": [[key, value], ...]}`` (keys encoded too, so ``int`` keys such as
  an optimizer's parameter indices stay ``int``), ``{"$odict": [[key, value],
  ...], "metadata": M}`` (an ``OrderedDict``, with a module state dict's
  ``_metadata``), ``{"$float": "nan" | "inf" | "-inf"}``, ``{"$dtype": "float32"}``,
  ``{"$size": [...]}`` (``torch.Size``).

What ``load`` checks, so that a damaged or hostile file raises ``RuntimeError``
naming the file instead of loading different content or exhausting the machine:

* the magic, the version, the checksum, and that the file ends right after it;
* the header nests at most ``MAX_DEPTH`` JSON levels (checked before parsing, so
  no recursion limit matters) and holds at most ``FREE_CONTAINERS`` JSON arrays
  and objects or one per ``BYTES_PER_CONTAINER`` bytes of file, whichever is more,
  which keeps the parsed header within a small multiple of the file's size
  (measured: under 20 times, or a few megabytes for files under 512 KiB);
  ``save`` refuses objects outside these limits;
* exactly the keys above, of the types above; known dtypes and kinds;
  ``requires_grad`` only on floating-point tensors and parameters;
* shapes of at most ``MAX_NDIM`` non-negative integers; ``nbytes`` equal to the
  shape's element count times the dtype's size; each array starting at the first
  multiple of 64 after the previous one ends (so arrays never overlap: version 2
  has no views), and ``data_size`` ending exactly at the last array;
* every tag, tensor index, dtype name and ``Size`` in the tree.

``save`` writes this format for the objects it holds; for any other object (a whole
``nn.Module``, an optimizer) and for ``format="torch"`` it writes PyTorch's zip format
instead, and ``load`` tells the two apart by the first bytes (``PK\x03\x04`` for a zip).
That format, and what loading it may run, is documented in
``chainrule.serialization.torch_format``.

Version 1 files (written before December 2026) had ``"data_crc32"`` in the
header instead of the trailing checksum, which covered the data section only.
They still load, with every check above except that damage to their header is
caught only when it breaks one of the rules; re-save them to get version 2.

>>> import chainrule as torch, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.pt")
>>> torch.save({"step": 3, "w": torch.ones(2)}, path)
>>> torch.load(path)
{'step': 3, 'w': tensor([1., 1.])}
>>> with open(path, "rb") as f:
...     raw = f.read()
>>> raw[:8], int.from_bytes(raw[8:12], "little"), len(raw) % 4
(b'CHRNCKPT', 2, 0)
"""

from __future__ import annotations

import struct

import numpy as np

MAGIC = b"CHRNCKPT"
VERSION = 2
PREAMBLE = struct.Struct("<8sIQ")
TRAILER = struct.Struct("<I")
ALIGN = 64
MAX_DEPTH = 128
MAX_NDIM = 64
BYTES_PER_CONTAINER = 8
FREE_CONTAINERS = 65536
DTYPES = {"bool": np.bool_, "uint8": np.uint8, "int8": np.int8, "int16": np.int16,
          "int32": np.int32, "int64": np.int64, "float16": np.float16, "float32": np.float32,
          "float64": np.float64}
KINDS = ("tensor", "parameter", "ndarray")
ENTRY_KEYS = frozenset({"dtype", "shape", "offset", "nbytes", "kind", "requires_grad"})
HEADER_KEYS = {1: frozenset({"tree", "tensors", "data_size", "data_crc32"}),
               2: frozenset({"tree", "tensors", "data_size"})}


class FormatError(ValueError):
    """What is wrong with a file's bytes; ``load`` reports it as a ``RuntimeError``."""


def widen_bfloat16(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) as float32, exactly: bfloat16 is float32's top half."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def aligned(n: int) -> int:
    """``n`` rounded up to the next multiple of ``ALIGN``."""
    return -(-n // ALIGN) * ALIGN


def file_size(header_size: int, data_size: int, version: int = VERSION) -> int:
    """The exact size of a file with this header and data section."""
    trailer = TRAILER.size if version >= 2 else 0
    return aligned(PREAMBLE.size + header_size) + data_size + trailer
