"""Datasets with torchvision's names: ``MNIST``, ``FashionMNIST``, the embedded ``Digits``,
and the small synthetic sets of the tutorials (``sinc_surface``, ``temperature``)."""

from chainrule.datasets.digits import Digits
from chainrule.datasets.mnist import MNIST, FashionMNIST, read_idx
from chainrule.datasets.synthetic import sinc_surface, temperature
from chainrule.datasets.vision import ImageClassificationDataset

__all__ = ["Digits", "FashionMNIST", "ImageClassificationDataset", "MNIST", "read_idx",
           "sinc_surface", "temperature"]
