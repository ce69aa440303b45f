"""MNIST and Fashion-MNIST, read from IDX files (gzipped or raw), optionally downloaded."""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from chainrule.datasets.vision import ImageClassificationDataset

# IDX type codes (the third byte of the magic number); MNIST uses only uint8.
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise RuntimeError(f"{path}: cannot read IDX file ({error}); it may be truncated or "
                           f"corrupt, delete it and download again") from error


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), ``.gz`` or raw, checking its header and length.

    Raises RuntimeError naming the file when the magic number or the length is wrong.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        magic = raw[:4].hex() if raw else "empty file"
        raise RuntimeError(f"{path}: not an IDX file (bad magic number 0x{magic})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise RuntimeError(f"{path}: truncated IDX header ({len(raw)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise RuntimeError(f"{path}: wrong length for IDX shape {shape}: expected {expected} "
                           f"bytes of data, found {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(
        dtype.newbyteorder("="), copy=False)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


class MNIST(ImageClassificationDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test 28x28 images.

    Files are looked for in ``root``, ``root/MNIST/raw``, ``root/MNIST`` and the class's
    ``system_dirs``; ``download=True`` fetches missing ones into ``root/MNIST/raw``.
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")]
    system_dirs: list[str] = ["/usr/share/datasets/mnist"]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root: str | os.PathLike, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        self._open_root(root, train, download)
        prefix = "train" if train else "t10k"
        images = read_idx(self._find(f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(self._find(f"{prefix}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise RuntimeError(f"{type(self).__name__}: images {images.shape} and labels "
                               f"{labels.shape} do not match")
        super().__init__(images, labels, transform, target_transform)

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")

    def _search_dirs(self) -> list[Path]:
        name = type(self).__name__
        dirs = [self.root, self.raw_folder, os.path.join(self.root, name), *self.system_dirs]
        return [Path(d) for d in dirs]

    def _find(self, stem: str) -> Path:
        for folder in self._search_dirs():
            for candidate in (folder / stem, folder / f"{stem}.gz"):
                if candidate.is_file():
                    return candidate
        searched = ", ".join(str(d) for d in self._search_dirs())
        raise RuntimeError(f"Dataset not found: {stem}(.gz) is in none of {searched}. You can "
                           f"use download=True to download it")

    def _check_exists(self) -> bool:
        try:
            for filename, _ in self.resources:
                self._find(filename.removesuffix(".gz"))
        except RuntimeError:
            return False
        return True

    def download(self) -> None:
        """Fetch the missing files from ``mirrors`` into ``raw_folder``, checking their MD5."""
        if self._check_exists():
            return
        created = _make_folders(Path(self.raw_folder))
        try:
            self._download_missing()
        except BaseException:
            _remove_if_empty(created)  # a failed download leaves nothing behind
            raise

    def _download_missing(self) -> None:
        for filename, md5 in self.resources:
            target = Path(self.raw_folder) / filename
            if target.is_file() and _md5(target) == md5:
                continue
            errors = []
            for mirror in self.mirrors:
                try:
                    _download_checked(f"{mirror}{filename}", target, md5)
                    break
                except (OSError, ValueError) as error:
                    errors.append(f"{mirror}{filename}: {error}")
            else:
                raise RuntimeError(f"Error downloading {filename} from every mirror: "
                                   + "; ".join(errors))

    def extra_repr(self) -> str:
        return f"Root location: {self.root}\nSplit: {'Train' if self.train else 'Test'}"


def _make_folders(folder: Path) -> list[Path]:
    """``os.makedirs(folder)``; returns the folders it created, outermost first."""
    missing = [folder, *folder.parents]
    missing = [path for path in missing if not path.exists()][::-1]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_if_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:  # not empty (or already gone): keep it
            return


def _download_checked(url: str, target: Path, md5: str) -> None:
    """Download ``url`` to ``target`` atomically: a temporary file, checked, then renamed."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=30) as response:
            while chunk := response.read(1 << 20):
                out.write(chunk)
        actual = _md5(Path(temporary))
        if actual != md5:
            raise ValueError(f"MD5 mismatch for {target.name}: expected {md5}, got {actual}")
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 greyscale images of 10 kinds of clothing."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                 ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                 ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")]
    system_dirs = ["/usr/share/datasets/fashion-mnist"]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
