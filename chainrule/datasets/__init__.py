"""Datasets with torchvision's names: ``MNIST``, ``FashionMNIST``, ``CIFAR10``, ``CIFAR100``,
``ImageFolder``, ``DatasetFolder``, ``FakeData``, the embedded ``Digits``, and the small
synthetic sets of the tutorials (``sinc_surface``, ``temperature``)."""

from chainrule.datasets.cifar import CIFAR10, CIFAR100
from chainrule.datasets.digits import Digits
from chainrule.datasets.fakedata import FakeData
from chainrule.datasets.folder import DatasetFolder, ImageFolder
from chainrule.datasets.mnist import MNIST, FashionMNIST, read_idx
from chainrule.datasets.synthetic import sinc_surface, temperature
from chainrule.datasets.vision import ImageClassificationDataset

__all__ = ["CIFAR10", "CIFAR100", "DatasetFolder", "Digits", "FakeData", "FashionMNIST",
           "ImageClassificationDataset", "ImageFolder", "MNIST", "read_idx", "sinc_surface",
           "temperature"]
