"""The shared shape of image-classification datasets: ``data``, ``targets`` and transforms."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from chainrule._tensor import make_tensor
from chainrule.utils.data.dataset import Dataset


class ImageClassificationDataset(Dataset):
    """Images (uint8, N x H x W) with integer labels.

    An item is ``(image, target)``; the image is handed to ``transform`` as an H x W uint8
    NumPy array (the stand-in for a PIL image), or returned as a uint8 tensor without one.
    """

    classes: list[str] = []

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self._images = np.ascontiguousarray(images, dtype=np.uint8)
        self._labels = np.asarray(labels, dtype=np.int64)
        self.transform = transform
        self.target_transform = target_transform

    def _open_root(self, root: str | os.PathLike, train: bool, download: bool) -> None:
        """Keep ``root`` (``~`` expanded) and ``train`` as torchvision does; with ``download``,
        fetch the files first (the subclass's ``download``)."""
        self.root = os.path.expanduser(str(root))
        self.train = train
        if download:
            self.download()

    @property
    def data(self):
        return make_tensor(self._images)

    @data.setter
    def data(self, images) -> None:
        # Tutorials subset datasets by assigning to ``data`` and ``targets``.
        self._images = np.asarray(getattr(images, "_data", images), dtype=np.uint8)

    @property
    def targets(self):
        return make_tensor(self._labels)

    @targets.setter
    def targets(self, labels) -> None:
        self._labels = np.asarray(getattr(labels, "_data", labels), dtype=np.int64)

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    def __getitem__(self, index: int):
        image, target = self._images[index], int(self._labels[index])
        image = self.transform(image) if self.transform is not None else make_tensor(image.copy())
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __len__(self) -> int:
        return len(self._labels)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        lines += ["    " + line for line in self.extra_repr().splitlines()]
        for name in ("transform", "target_transform"):
            value = getattr(self, name)
            if value is not None:
                label = "Transform" if name == "transform" else "Target transform"
                lines.append(f"    {label}: " + repr(value).replace("\n", "\n    "))
        return "\n".join(lines)
