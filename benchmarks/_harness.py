"""Side-by-side timing: alternate chainrule and torch, report medians and torch/chainrule ratios."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np


def classification_step(lib, model, optimizer, input_shape: tuple[int, ...], classes: int,
                        seed: int = 0) -> Callable[[], object]:
    """One training step of ``model`` (cross-entropy) on a fixed random float32 batch of
    ``input_shape`` in ``lib`` (chainrule or torch): zero_grad, forward, backward, step."""
    criterion = lib.nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    images = lib.from_numpy(rng.standard_normal(input_shape).astype(np.float32))
    labels = lib.from_numpy(rng.integers(0, classes, input_shape[0]).astype(np.int64))

    def step():
        optimizer.zero_grad()
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss

    return step


def time_per_call(step: Callable[[], object], repeats: int) -> float:
    """Seconds per call of ``step`` over ``repeats`` calls."""
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


# Both libraries keep worker threads that spin for a while after their last parallel call
# (OpenBLAS's for chainrule, OpenMP's for torch). A round that starts while the other
# library's threads still spin shares the cores with them: torch's LeNet-5 step measured
# 9.4 ms right after chainrule's and 4.0 ms after a pause. Each round waits them out.
SETTLE_SECONDS = 0.25


def alternate_rounds(chainrule_step: Callable, torch_step: Callable, repeats: int, rounds: int,
                     warmup: int = 3, settle: float = SETTLE_SECONDS) -> tuple[list[float], list[float]]:
    """Seconds per call of each in every round, measured in alternating rounds (so drift hits
    both), each round after a pause that lets the other library's spinning threads go idle."""
    for _ in range(warmup):
        chainrule_step()
        torch_step()
    ours, theirs = [], []
    for _ in range(rounds):
        time.sleep(settle)
        ours.append(time_per_call(chainrule_step, repeats))
        time.sleep(settle)
        theirs.append(time_per_call(torch_step, repeats))
    return ours, theirs


def alternate(chainrule_step: Callable, torch_step: Callable, repeats: int, rounds: int,
              warmup: int = 3, settle: float = SETTLE_SECONDS) -> tuple[float, float]:
    """Median seconds per call of each over ``alternate_rounds``."""
    ours, theirs = alternate_rounds(chainrule_step, torch_step, repeats, rounds, warmup, settle)
    return statistics.median(ours), statistics.median(theirs)


def spread_row(ours: list[float], theirs: list[float]) -> str:
    """The spread of the per-round ratios (torch/chainrule): quartiles and extremes."""
    ratios = sorted(t / o for o, t in zip(ours, theirs))
    low, _, high = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    label = f"  ratio per round ({len(ratios)} rounds)"
    return (f"| {label:<34} | min {ratios[0]:.2f}, quartiles {low:.2f}-{high:.2f}, "
            f"max {ratios[-1]:.2f} |")


def median_and_spread_rows(name: str, ours: list[float], theirs: list[float]) -> list[str]:
    """The row of the medians of ``alternate_rounds``' times, then the row of their spread."""
    return [report_row(name, statistics.median(ours), statistics.median(theirs)),
            spread_row(ours, theirs)]


def report_row(name: str, ours: float, theirs: float, unit: float = 1e-3, unit_name: str = "ms") -> str:
    return (f"| {name:<34} | {ours / unit:>10.3f} {unit_name} | {theirs / unit:>10.3f} {unit_name} "
            f"| {theirs / ours:>6.2f} |")


TABLE_HEADER = ("| case                               |   chainrule   |     torch     | torch/chainrule |\n"
                "|------------------------------------|---------------|---------------|-----------------|")


def table_main(doc: str, header: str, run: Callable[[bool], list[str]]) -> None:
    """The command line of a one-table benchmark: ``--quick`` for a smoke run, then the table."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    args = parser.parse_args()
    print(header)
    for row in run(args.quick):
        print(row, flush=True)
