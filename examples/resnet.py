"""Why residual connections and batch norm matter: a deep plain CNN versus a ResNet of the
same depth.

Both networks have 21 convolution layers and are trained identically on a small synthetic
image task (which quadrant holds a bright blob; chance is 25%). The plain stack
(``relu(conv(x))`` twenty times) loses its signal layer after layer, so the gradient that
reaches its first layers is orders of magnitude smaller than at its last, and it stays near
chance. The ResNet's blocks compute ``relu(x + bn(conv(relu(bn(conv(x))))))``: batch norm keeps
every layer's activations standardised and the identity path carries the gradient straight
through, so it learns. The script prints, for each, the mean |grad| of the first and last
convolution at initialisation (``chainrule.diagnostics.grad_stats``), the final training loss
and the test accuracy.

    python examples/resnet.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as torch
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.diagnostics import grad_stats


def blob_dataset(n: int, size: int = 12, seed: int = 0):
    """``n`` noisy ``size x size`` images; the label is the quadrant of a bright 3x3 blob."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0.0, 0.3, (n, 1, size, size)).astype(np.float32)
    labels = rng.integers(0, 4, n)
    half = size // 2
    rows = rng.integers(0, half - 2, n) + (labels // 2) * half
    cols = rng.integers(0, half - 2, n) + (labels % 2) * half
    for k in range(n):
        images[k, 0, rows[k]:rows[k] + 3, cols[k]:cols[k] + 3] += 1.5
    return torch.tensor(images), torch.tensor(labels)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions. ``residual=True``: ``relu(x + bn(conv(relu(bn(conv(x))))))``, the
    ResNet basic block; ``residual=False``: ``relu(conv(relu(conv(x))))``, a plain stack."""

    def __init__(self, channels: int, residual: bool = True) -> None:
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=not residual)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=not residual)
        # The convolutions' bias is redundant before batch norm, which subtracts the mean.
        self.bn1 = nn.BatchNorm2d(channels) if residual else nn.Identity()
        self.bn2 = nn.BatchNorm2d(channels) if residual else nn.Identity()

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(x + out if self.residual else out)


class Net(nn.Module):
    """A stem convolution, ``blocks`` two-layer blocks, 2x2 average pooling and a classifier."""

    def __init__(self, blocks: int, residual: bool, channels: int = 8, classes: int = 4) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        self.blocks = nn.Sequential(*[ResidualBlock(channels, residual) for _ in range(blocks)])
        self.pool = nn.AdaptiveAvgPool2d(2)  # one summary per quadrant
        self.head = nn.Linear(4 * channels, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.stem(x)))
        return self.head(self.pool(x).flatten(1))


def train(model: nn.Module, images, labels, epochs: int, batch: int = 32, lr: float = 0.02):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    n = images.shape[0]
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch):
            idx = torch.tensor(order[start:start + batch])
            loss = F.cross_entropy(model(images[idx]), labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return loss.item()


def first_and_last_gradients(model: nn.Module, images, labels) -> tuple[float, float]:
    """Mean |grad| of the first and the last convolution's weight, one batch at initialisation."""
    F.cross_entropy(model(images), labels).backward()
    convolutions = [row for row in grad_stats(model) if len(row.shape) == 4]
    model.zero_grad()
    return convolutions[0].mean_abs_grad, convolutions[-1].mean_abs_grad


def accuracy(model: nn.Module, images, labels) -> float:
    model.eval()  # batch norm uses its running statistics
    with torch.no_grad():
        return (model(images).argmax(1) == labels).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run (well under a minute)")
    args = parser.parse_args()
    torch.manual_seed(0)
    n, epochs = (384, 4) if args.quick else (2048, 8)
    images, labels = blob_dataset(n)
    test_images, test_labels = blob_dataset(512, seed=1)
    blocks = 10  # 1 stem + 2 * 10 block convolutions = 21 convolution layers
    for name, residual in (("plain", False), ("resnet", True)):
        torch.manual_seed(0)
        model = Net(blocks, residual)
        first, last = first_and_last_gradients(model, images[:64], labels[:64])
        start = time.perf_counter()
        loss = train(model, images, labels, epochs)
        print(f"{name:>6}: {2 * blocks + 1} conv layers, mean |grad| at initialisation "
              f"{first:.1e} (first conv) vs {last:.1e} (last conv), final loss {loss:.3f}, "
              f"test accuracy {accuracy(model, test_images, test_labels):.1%} "
              f"({time.perf_counter() - start:.1f}s)")


if __name__ == "__main__":
    main()
