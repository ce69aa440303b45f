"""``FakeData``: random images with random labels, the same for an index every time."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import chainrule
from chainrule.datasets._images import as_image, transformed
from chainrule.datasets.vision import ImageClassificationDataset
from chainrule.utils.data.dataset import Dataset


class FakeData(Dataset):
    """``size`` random images of ``image_size`` (C, H, W) with labels in ``[0, num_classes)``.

    Item ``i`` is drawn from a generator seeded with ``i + random_offset`` (the global random
    state is left alone) and handed out as a PIL image, as torchvision's ``ToPILImage`` makes
    it from a standard-normal tensor. The values follow chainrule's generator, not torch's.

    >>> image, label = FakeData(size=2, image_size=(3, 8, 8))[0]
    >>> image.size, 0 <= label < 10
    ((8, 8), True)
    """

    def __init__(self, size: int = 1000, image_size: tuple[int, ...] = (3, 224, 224),
                 num_classes: int = 10, transform: Callable | None = None,
                 target_transform: Callable | None = None, random_offset: int = 0) -> None:
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset
        self.transform = transform
        self.target_transform = target_transform

    def __getitem__(self, index: int):
        if index >= len(self):
            raise IndexError(f"{type(self).__name__} index out of range")
        generator = chainrule.Generator().manual_seed(index + self.random_offset)
        image = chainrule.randn(*self.image_size, generator=generator)
        target = int(chainrule.randint(0, self.num_classes, size=(1,), generator=generator)[0])
        # ToPILImage's float path: scale by 255 and wrap into uint8, as torch's byte() does.
        pixels = (image.numpy() * 255).astype(np.int64).astype(np.uint8)
        sample = as_image(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))
        return transformed(self, sample, target)

    def __len__(self) -> int:
        return self.size

    extra_repr = ImageClassificationDataset.extra_repr
    __repr__ = ImageClassificationDataset.__repr__
