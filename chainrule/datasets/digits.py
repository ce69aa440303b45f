"""``Digits``: a balanced 7,000-image subset of MNIST shipped inside chainrule (no download)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from chainrule.datasets.vision import ImageClassificationDataset

EMBEDDED = Path(__file__).parent / "_embedded" / "digits.npz"


class Digits(ImageClassificationDataset):
    """6,000 training and 1,000 test MNIST digits (balanced classes), 28x28 uint8.

    Built by ``tools/make_embedded_digits.py``; MNIST is by Yann LeCun and Corinna Cortes
    (CC BY-SA 3.0), see ``_embedded/LICENSE-digits.txt``.

    >>> from chainrule.datasets import Digits
    >>> image, label = Digits(train=False)[0]
    >>> image.shape, image.dtype
    (torch.Size([28, 28]), torch.uint8)
    """

    classes = [str(d) for d in range(10)]

    def __init__(self, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        split = "train" if train else "test"
        with np.load(EMBEDDED) as arrays:
            images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        self.train = train
        super().__init__(images, labels, transform, target_transform)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"
