"""PyTorch's zip container, read without copying and written with 64-byte-aligned records.

The archive holds ``<prefix>/data.pkl`` (the pickled object; tensors refer to their
storages by key), ``<prefix>/data/<key>`` (each storage's raw bytes),
``<prefix>/byteorder`` (``little`` or ``big``) and ``<prefix>/version``. Records are
stored uncompressed, so a storage is a view of the file's buffer (or of its mapping
with ``mmap=True``). The checks here refuse anything a damaged or hostile zip could
use to read outside the file or to make ``load`` allocate more than the file's size.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from typing import IO

import numpy as np

from chainrule.serialization.layout import ALIGN, FormatError

ZIP_MAGIC = b"PK\x03\x04"
ARCHIVE_NAME = "archive"
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... name length, extra length
_PADDING_ID = b"FB"  # the extra-field id PyTorch pads its records with


class _BufferFile(io.RawIOBase):
    """A read-only, seekable file over a buffer, so ``zipfile`` parses it without a copy."""

    def __init__(self, buffer) -> None:
        self.view = memoryview(buffer).cast("B")
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: len(self.view)}[whence]
        self.position = max(base + offset, 0)
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, target) -> int:
        chunk = self.view[self.position:self.position + len(target)]
        target[:len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)


class TorchArchive:
    """The records of a PyTorch zip file held in ``buffer``, checked and viewed in place."""

    def __init__(self, buffer, verify_crc: bool = True) -> None:
        self.buffer = buffer
        self.verify_crc = verify_crc
        try:
            with zipfile.ZipFile(_BufferFile(buffer)) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
            raise FormatError(f"it is not a readable zip archive ({error})") from None
        self.records = {}
        for info in infos:
            _check_name(info.filename)
            self.records[info.filename] = info
        pickles = [name for name in self.records if name.rsplit("/", 1)[-1] == "data.pkl"]
        if len(pickles) != 1 or pickles[0].count("/") > 1:
            raise FormatError("it is a zip archive but not a PyTorch file (expected one "
                              f"'<archive>/data.pkl' record, found {pickles[:3]})")
        self.prefix = pickles[0][:-len("data.pkl")]

    def has(self, name: str) -> bool:
        return self.prefix + name in self.records

    def read(self, name: str) -> memoryview:
        """The bytes of record ``<prefix>/name``, a view of the buffer."""
        full_name = self.prefix + name
        info = self.records.get(full_name)
        if info is None:
            raise FormatError(f"the archive has no record '{full_name}'")
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            raise FormatError(f"record '{full_name}' is compressed (method {info.compress_type}); "
                              "PyTorch files store their records uncompressed")
        start = self._data_start(info)
        if start + info.file_size > len(self.buffer):
            raise FormatError(f"record '{full_name}' declares {info.file_size} bytes but the file "
                              f"ends {len(self.buffer) - start} bytes after its start")
        view = memoryview(self.buffer)[start:start + info.file_size]
        if self.verify_crc and zlib.crc32(view) != info.CRC:
            raise FormatError(f"record '{full_name}' is damaged (CRC-32 mismatch)")
        return view

    def _data_start(self, info: zipfile.ZipInfo) -> int:
        offset = info.header_offset
        if offset < 0 or offset + _LOCAL_HEADER.size > len(self.buffer):
            raise FormatError(f"record '{info.filename}' starts outside the file")
        signature, name_size, extra_size = _LOCAL_HEADER.unpack_from(self.buffer, offset)
        name_start = offset + _LOCAL_HEADER.size
        name = bytes(self.buffer[name_start:name_start + name_size])
        if signature != ZIP_MAGIC or name != info.orig_filename.encode():
            raise FormatError(f"record '{info.filename}' has a corrupted local header")
        return name_start + name_size + extra_size


def _check_name(name: str) -> None:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
        raise FormatError(f"the archive holds a record with an unsafe path {name!r}")


class TorchArchiveWriter:
    """Writes records the way ``torch.save`` does: stored, each data record 64-byte aligned."""

    def __init__(self, out: IO[bytes]) -> None:
        self.zip = zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True)

    def write(self, name: str, data, align: bool = False) -> None:
        info = zipfile.ZipInfo(f"{ARCHIVE_NAME}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
        data = memoryview(data).cast("B")
        info.file_size = len(data)
        if align:
            info.extra = _padding(self.zip.fp.tell() + 30 + len(info.filename.encode()))
        with self.zip.open(info, "w") as record:
            record.write(data)

    def close(self) -> None:
        self.zip.close()


def _padding(data_start: int) -> bytes:
    """An extra field that moves a record's data from ``data_start`` to a multiple of ALIGN."""
    size = -(data_start + 4) % ALIGN
    return _PADDING_ID + struct.pack("<H", size) + b"Z" * size


def storage_array(view: memoryview, dtype: np.dtype, big_endian: bool) -> np.ndarray:
    """A storage record as a 1-D array in native byte order (a view when no swap is needed)."""
    if len(view) % dtype.itemsize:
        raise FormatError(f"a storage of {len(view)} bytes is not a whole number of "
                          f"{dtype.name} elements")
    array = np.frombuffer(view, dtype=dtype.newbyteorder(">" if big_endian else "<"))
    return array.astype(dtype.newbyteorder("="), copy=False)
