"""LeNet-5 training step at batch 64 (SGD, cross-entropy), chainrule vs torch.

    python -m benchmarks.lenet_step [--quick]
"""

from __future__ import annotations

from benchmarks._harness import (
    TABLE_HEADER,
    alternate,
    classification_step,
    report_row,
    table_main,
)


def lenet5(nn):
    """LeNet-5 as in LeCun et al. (1998), with ReLU and max pooling, for 28x28 inputs."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def build(lib, batch: int = 64, seed: int = 0):
    lib.manual_seed(seed)
    model = lenet5(lib.nn)
    optimizer = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return classification_step(lib, model, optimizer, (batch, 1, 28, 28), 10, seed)


def run(quick: bool = False) -> list[str]:
    import torch

    import chainrule

    repeats, rounds = (5, 3) if quick else (20, 7)
    ours, theirs = alternate(build(chainrule), build(torch), repeats, rounds)
    return [report_row("LeNet-5 train step, batch 64", ours, theirs)]


def main() -> None:
    table_main(__doc__, TABLE_HEADER, run)


if __name__ == "__main__":
    main()
