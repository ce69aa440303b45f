"""Per-op overhead: forward + backward of small ops, chainrule against PyTorch eager on the CPU.

Both libraries run in one process, alternating op by op and repeat by repeat so that machine
noise hits both alike; each cell is the median over repeats of the mean time per call.

    .venv/bin/python -m benchmarks.op_overhead            # full run
    .venv/bin/python -m benchmarks.op_overhead --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import numpy as np

import chainrule
from benchmarks._harness import time_per_call

# name -> (input shapes, the op on those inputs); every op ends in a scalar for backward.
OPS: dict[str, tuple[list[tuple[int, ...]], Callable]] = {
    "add 8x8": ([(8, 8), (8, 8)], lambda a, b: (a + b).sum()),
    "mul 8x8": ([(8, 8), (8, 8)], lambda a, b: (a * b).sum()),
    "exp 8x8": ([(8, 8)], lambda a: a.exp().sum()),
    "relu 8x8": ([(8, 8)], lambda a: a.relu().sum()),
    "add 256x256": ([(256, 256), (256, 256)], lambda a, b: (a + b).sum()),
    "mul bcast 64x64*64": ([(64, 64), (64,)], lambda a, b: (a * b).sum()),
    "sum 64x64": ([(64, 64)], lambda a: a.sum()),
    "mean 64x64": ([(64, 64)], lambda a: a.mean()),
    "matmul 8x8": ([(8, 8), (8, 8)], lambda a, b: (a @ b).sum()),
    "matmul 64x64": ([(64, 64), (64, 64)], lambda a, b: (a @ b).sum()),
    "chain x*2+1 exp": ([(8, 8)], lambda a: ((a * 2 + 1).exp()).mean()),
}


def make_inputs(lib, shapes, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [lib.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
            for shape in shapes]


def forward_backward(op: Callable, inputs: list) -> Callable[[], None]:
    def step() -> None:
        for t in inputs:
            t.grad = None
        op(*inputs).backward()

    return step


def forward_only(lib, op: Callable, inputs: list) -> Callable[[], None]:
    def step() -> None:
        with lib.no_grad():
            op(*inputs)

    return step


def measure(torch, repeats: int, calls: int) -> list[tuple[str, float, float, float, float]]:
    """Rows of (op, chainrule fwd+bwd µs, torch fwd+bwd µs, chainrule fwd µs, torch fwd µs)."""
    rows = []
    for name, (shapes, op) in OPS.items():
        libs = {"chainrule": chainrule, "torch": torch}
        inputs = {key: make_inputs(lib, shapes, seed=0) for key, lib in libs.items()}
        steps = {}
        for key, lib in libs.items():
            steps[(key, "fb")] = forward_backward(op, inputs[key])
            steps[(key, "f")] = forward_only(lib, op, inputs[key])
        for step in steps.values():
            time_per_call(step, max(calls // 10, 1))  # warm caches and lazy imports
        samples: dict = {key: [] for key in steps}
        for _ in range(repeats):
            for key, step in steps.items():
                samples[key].append(time_per_call(step, calls))
        median = {key: statistics.median(values) * 1e6 for key, values in samples.items()}
        rows.append((name, median[("chainrule", "fb")], median[("torch", "fb")],
                     median[("chainrule", "f")], median[("torch", "f")]))
    return rows


def print_table(rows) -> None:
    header = (f"{'op':<22}{'chainrule f+b µs':>18}{'torch f+b µs':>14}{'torch/cr':>10}"
              f"{'chainrule fwd µs':>18}{'torch fwd µs':>14}{'torch/cr':>10}")
    print(header)
    print("-" * len(header))
    for name, ours_fb, theirs_fb, ours_f, theirs_f in rows:
        print(f"{name:<22}{ours_fb:>18.1f}{theirs_fb:>14.1f}{theirs_fb / ours_fb:>10.2f}"
              f"{ours_f:>18.1f}{theirs_f:>14.1f}{theirs_f / ours_f:>10.2f}")
    ratios = [theirs_fb / ours_fb for _, ours_fb, theirs_fb, _, _ in rows]
    geomean = float(np.exp(np.mean(np.log(ratios))))
    print(f"\ngeometric mean torch/chainrule (fwd+bwd): {geomean:.2f}  (> 1 means chainrule is faster)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (a few seconds)")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per op (median taken)")
    parser.add_argument("--calls", type=int, default=None, help="calls per repeat")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (NumPy elementwise ops use one)")
    args = parser.parse_args(argv)
    import torch  # the reference, imported only here

    torch.set_num_threads(args.threads)
    repeats = args.repeats or (3 if args.quick else 15)
    calls = args.calls or (50 if args.quick else 400)
    print(f"torch {torch.__version__} ({args.threads} thread(s)), chainrule {chainrule.__version__}, numpy "
          f"{np.__version__}; float32; median of {repeats} repeats x {calls} calls\n")
    print_table(measure(torch, repeats, calls))


if __name__ == "__main__":
    main()
