"""Where a chainrule training step spends its time: wall time per op, forward and backward.

Every ``Function``'s ``forward`` and ``backward`` is wrapped with a timer for the run, so the
table says which op and which direction costs what (a backward's time includes the ops it
calls). ``--tiny`` swaps in a 8-8-8-4 MLP on 4 samples: what remains is the framework's own
cost per step (graph, hooks, version counters, optimizer loop), compared with torch's.

    python -m benchmarks.profile_step mlp --batch 1024
    python -m benchmarks.profile_step lenet
    python -m benchmarks.profile_step mlp --tiny
"""

from __future__ import annotations

import argparse
import collections
import time

import chainrule
from benchmarks import lenet_step, mlp_step
from chainrule.autograd.function import Function


def _subclasses(cls: type):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _timed(totals: dict, calls: collections.Counter, key: tuple, function):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - start
            calls[key] += 1

    return staticmethod(wrapper)


def per_op(step, steps: int) -> tuple[float, list[tuple[str, str, float, int]]]:
    """Seconds per step, and (op, direction, seconds per step, calls per step), costliest first."""
    totals: dict = collections.defaultdict(float)
    calls: collections.Counter = collections.Counter()
    originals = []
    for cls in list(_subclasses(Function)):
        for direction in ("forward", "backward"):
            if direction in cls.__dict__:
                original = cls.__dict__[direction]
                originals.append((cls, direction, original))
                setattr(cls, direction, _timed(totals, calls, (cls.__name__, direction),
                                               original.__func__))
    try:
        for _ in range(3):
            step()
        totals.clear()
        calls.clear()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        per_step = (time.perf_counter() - start) / steps
    finally:
        for cls, direction, original in originals:
            setattr(cls, direction, original)
    rows = [(name, direction, seconds / steps, calls[(name, direction)] // steps)
            for (name, direction), seconds in totals.items()]
    return per_step, sorted(rows, key=lambda row: -row[2])


def framework_cost(steps: int = 2000) -> tuple[float, float]:
    """Seconds per step of a 8-8-8-4 MLP on 4 samples in chainrule and torch: bookkeeping only."""
    import torch

    original = mlp_step.SIZES
    mlp_step.SIZES = (8, 8, 8, 4)
    try:
        results = []
        for lib in (chainrule, torch):
            step = mlp_step.build(lib, 4)
            for _ in range(100):
                step()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            results.append((time.perf_counter() - start) / steps)
    finally:
        mlp_step.SIZES = original
    return results[0], results[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=("mlp", "lenet"))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--tiny", action="store_true", help="framework cost only (tiny MLP)")
    args = parser.parse_args()
    if args.tiny:
        ours, theirs = framework_cost()
        print(f"framework cost per step: chainrule {ours * 1e6:.0f} µs, torch {theirs * 1e6:.0f} µs")
        return
    module = mlp_step if args.model == "mlp" else lenet_step
    per_step, rows = per_op(module.build(chainrule, args.batch), args.steps)
    print(f"{args.model}, batch {args.batch}: {per_step * 1e3:.3f} ms per step (with timers)\n")
    print(f"{'op':<32}{'direction':<10}{'ms/step':>9}{'calls':>7}")
    for name, direction, seconds, count in rows:
        print(f"{name:<32}{direction:<10}{seconds * 1e3:>9.3f}{count:>7}")


if __name__ == "__main__":
    main()
