"""Training step of the seed MLP (784-128-64-10, ReLU, SGD, cross-entropy), chainrule vs torch.

Also measures the machine's float32 matmul throughput with a plain matmul of the
same FLOP count as one step, to say how close the step gets to the hardware.

    python -m benchmarks.mlp_step [--quick]
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks._harness import (
    SETTLE_SECONDS,
    TABLE_HEADER,
    alternate,
    classification_step,
    report_row,
    table_main,
)

SIZES = (784, 128, 64, 10)


def build(lib, batch: int, seed: int = 0):
    """A model, optimizer, loss and one fixed batch in ``lib`` (chainrule or torch)."""
    from collections import OrderedDict

    nn, optim = lib.nn, lib.optim
    lib.manual_seed(seed)
    model = nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(SIZES[0], SIZES[1])), ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(SIZES[1], SIZES[2])), ("relu2", nn.ReLU()),
        ("logits", nn.Linear(SIZES[2], SIZES[3]))]))
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    return classification_step(lib, model, optimizer, (batch, SIZES[0]), SIZES[-1], seed)


def step_flops(batch: int) -> float:
    """FLOPs of the matrix products in one step (forward, grad of weights, grad of hidden inputs)."""
    flops = 0
    for i, (fan_in, fan_out) in enumerate(zip(SIZES, SIZES[1:])):
        flops += 2 * batch * fan_in * fan_out * (2 if i == 0 else 3)
    return flops


def matmul_reference(batch: int, repeats: int) -> float:
    """Seconds for plain float32 matmuls with the step's FLOP count (the hardware's pace)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    b = rng.standard_normal((SIZES[0], SIZES[1])).astype(np.float32)
    per_call = 2 * batch * SIZES[0] * SIZES[1]
    calls = step_flops(batch) / per_call
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return (time.perf_counter() - start) / repeats * calls


def run(quick: bool = False) -> list[str]:
    import torch

    import chainrule

    torch.set_num_threads(torch.get_num_threads())
    rows = []
    for batch in (64, 256, 1024):
        repeats = (20 if batch < 1024 else 5) if quick else (100 if batch < 1024 else 20)
        rounds = 3 if quick else 7
        ours, theirs = alternate(build(chainrule, batch), build(torch, batch), repeats, rounds)
        rows.append(report_row(f"MLP train step, batch {batch}", ours, theirs))
        if batch == 1024:
            time.sleep(SETTLE_SECONDS)
            reference = matmul_reference(batch, repeats * 3)
            rows.append(f"|   matmul-only time for same FLOPs  | {reference * 1e3:>10.3f} ms | "
                        f"step reaches {reference / ours:.0%} of matmul throughput |")
    return rows


def main() -> None:
    table_main(__doc__, TABLE_HEADER, run)


if __name__ == "__main__":
    main()
