"""CIFAR-10 and CIFAR-100 from their "python version" tarballs, optionally downloaded.

The batches inside are pickles; they are read by an unpickler that can build only lists, dicts,
strings, bytes, numbers and NumPy arrays, so a tampered file cannot run code.
"""

from __future__ import annotations

import os
import pickle
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from chainrule.datasets._images import as_image, transformed
from chainrule.datasets.mnist import _download_checked, _md5
from chainrule.datasets.vision import ImageClassificationDataset

# The globals a pickled NumPy array refers to (``numpy._core`` since NumPy 2), and the one
# Python 3 writes bytes with in protocol 2 (a pure string-to-bytes conversion).
_ARRAY_GLOBALS = {("numpy", "ndarray"), ("numpy", "dtype"),
                  ("numpy.core.multiarray", "_reconstruct"),
                  ("numpy._core.multiarray", "_reconstruct"), ("_codecs", "encode")}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ARRAY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: CIFAR batches hold only "
                                     f"lists, dicts, strings, numbers and NumPy arrays")


def load_batch(path: str | os.PathLike) -> dict:
    """Read one CIFAR batch file (a Python 2 pickle of a dict) without running code from it."""
    try:
        with open(path, "rb") as f:
            entry = _ArrayUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        raise RuntimeError(f"{path}: not a CIFAR batch ({error})") from error
    if not isinstance(entry, dict):
        raise RuntimeError(f"{path}: not a CIFAR batch (a {type(entry).__name__}, not a dict)")
    return entry


def extract_tarball(archive: Path, destination: Path) -> None:
    """Unpack ``archive`` refusing links and paths that would land outside ``destination``."""
    with tarfile.open(archive, "r:*") as tar:
        tar.extractall(destination, filter="data")


class CIFAR10(ImageClassificationDataset):
    """CIFAR-10: 50,000 training and 10,000 test 32x32 colour images in 10 classes.

    ``root`` holds ``cifar-10-batches-py``; ``download=True`` fetches and unpacks the tarball
    (MD5-checked). Items are ``(PIL image, int)`` as in torchvision (an H x W x 3 array without
    Pillow). ``data`` is N x 32 x 32 x 3 uint8, ``targets`` a list of ints.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [["data_batch_1", "c99cafc152244af753f735de768cd75f"],
                  ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
                  ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
                  ["data_batch_4", "634d18415352ddfa80567beed471001a"],
                  ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"]]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names",
            "md5": "5ff9c542aee3614f3951f8cda6e48888"}

    def __init__(self, root: str | os.PathLike, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        self._open_root(root, train, download)
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                               "download it")
        images, labels = [], []
        for name, _ in self.train_list if train else self.test_list:
            entry = load_batch(self._folder / name)
            images.append(np.asarray(entry["data"], dtype=np.uint8))
            labels.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
        pixels = np.vstack(images).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        super().__init__(pixels, np.asarray(labels), transform, target_transform)
        self.classes = list(load_batch(self._folder / self.meta["filename"])[self.meta["key"]])

    @property
    def _folder(self) -> Path:
        return Path(self.root) / self.base_folder

    @property
    def data(self) -> np.ndarray:
        return self._images

    @data.setter
    def data(self, images) -> None:
        self._images = np.asarray(getattr(images, "_data", images), dtype=np.uint8)

    @property
    def targets(self) -> list[int]:
        return self._labels.tolist()

    @targets.setter
    def targets(self, labels) -> None:
        self._labels = np.asarray(getattr(labels, "_data", labels), dtype=np.int64)

    def __getitem__(self, index: int):
        return transformed(self, as_image(self._images[index]), int(self._labels[index]))

    def _check_integrity(self) -> bool:
        for name, md5 in [*self.train_list, *self.test_list, [self.meta["filename"],
                                                              self.meta["md5"]]]:
            path = self._folder / name
            if not path.is_file() or _md5(path) != md5:
                return False
        return True

    def download(self) -> None:
        """Fetch the tarball into ``root`` (MD5-checked, atomically) and unpack it there."""
        if self._check_integrity():
            return
        os.makedirs(self.root, exist_ok=True)
        archive = Path(self.root) / self.filename
        if not (archive.is_file() and _md5(archive) == self.tgz_md5):
            try:
                _download_checked(self.url, archive, self.tgz_md5)
            except (OSError, ValueError) as error:
                raise RuntimeError(f"Error downloading {self.url}: {error}") from error
        extract_tarball(archive, Path(self.root))

    def extra_repr(self) -> str:
        return f"Root location: {self.root}\nSplit: {'Train' if self.train is True else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100: like CIFAR-10 with 100 classes (``fine_labels``)."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {"filename": "meta", "key": "fine_label_names",
            "md5": "7973b15100ade9c7d40fb424638fde48"}
