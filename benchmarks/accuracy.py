"""Test accuracy and wall time of full trainings on MNIST and Fashion-MNIST.

    python -m benchmarks.accuracy [--only mlp-mnist,mlp-fashion,lenet-mnist,cnn-fashion]
                                  [--mnist DIR] [--fashion DIR]

MNIST defaults to ../shared/datasets/mnist beside the repository; Fashion-MNIST to
/usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist package).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import chainrule as torch
from chainrule import nn, optim
from chainrule.datasets import MNIST, FashionMNIST
from chainrule.train.recipes import build_lenet5
from chainrule.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parents[1]


def load(kind: str, folder: str, flat: bool):
    """Standardised float32 images and int64 labels, as tensors."""
    dataset_class = MNIST if kind == "mnist" else FashionMNIST
    splits = []
    for train in (True, False):
        ds = dataset_class(folder, train=train)
        images = ds.data.numpy().astype(np.float32) / 255.0
        images = (images - 0.2860 if kind == "fashion" else images - 0.1307) / (
            0.3530 if kind == "fashion" else 0.3081)
        images = images.reshape(len(images), -1) if flat else images[:, None]
        splits.append((torch.from_numpy(np.ascontiguousarray(images)), ds.targets))
    return splits


def mlp():
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                         nn.Linear(64, 10))


def cnn(width: int = 1):
    """A LeNet-style network with batch norm (``width`` times the channels) for Fashion-MNIST;
    the MNIST case is plain LeNet-5 (``build_lenet5``, what ``chainrule train --model cnn`` trains)."""
    c1, c2, hidden = 6 * width, 16 * width, 120 * width
    return nn.Sequential(
        nn.Conv2d(1, c1, 5, padding=2), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 5), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c2 * 25, hidden), nn.ReLU(), nn.Dropout(0.25 if width > 1 else 0.0),
        nn.Linear(hidden, 84), nn.ReLU(), nn.Linear(84, 10))


def accuracy(model, images, labels, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), batch):
            logits = model(images[start:start + batch])
            correct += int((logits.argmax(1) == labels[start:start + batch]).sum())
    return correct / len(images)


def train(model, data, epochs: int, lr: float, batch: int) -> tuple[float, float]:
    (x_train, y_train), (x_test, y_test) = data
    torch.manual_seed(0)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch, shuffle=True)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, epochs=epochs,
                                              steps_per_epoch=len(loader))
    criterion = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for images, labels in loader:
            optimizer.zero_grad()
            criterion(model(images), labels).backward()
            optimizer.step()
            scheduler.step()
    return accuracy(model, x_test, y_test), time.perf_counter() - start


CASES = {
    "mlp-mnist": ("mnist", True, mlp, 15, 3e-3, 100, "98.0 %, < 3 min"),
    "mlp-fashion": ("fashion", True, mlp, 15, 3e-3, 100, "89.0 %, < 3 min"),
    "lenet-mnist": ("mnist", False, build_lenet5, 10, 3e-3, 64, "99.0 %, < 15 min"),
    "cnn-fashion": ("fashion", False, lambda: cnn(2), 10, 3e-3, 64, "91.5 %, < 15 min"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(CASES))
    parser.add_argument("--mnist", default=str(ROOT.parent / "shared" / "datasets" / "mnist"))
    parser.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    print("| case | test accuracy | training time | goal |\n|---|---|---|---|")
    for name in args.only.split(","):
        kind, flat, make, epochs, lr, batch, goal = CASES[name]
        torch.manual_seed(0)
        data = load(kind, args.mnist if kind == "mnist" else args.fashion, flat)
        acc, seconds = train(make(), data, epochs, lr, batch)
        print(f"| {name} ({epochs} epochs, batch {batch}) | {acc:.2%} | {seconds:.0f} s | {goal} |",
              flush=True)


if __name__ == "__main__":
    main()
