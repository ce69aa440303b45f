"""Every benchmark, chainrule side by side with torch, in one run: ``python -m benchmarks.run``.

Prints medians and ratios (torch time / chainrule time; above 1 means chainrule
is faster). Paste the output into benchmarks/RESULTS.md with the date and machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform

from benchmarks import (
    char_rnn_step,
    fit_overhead,
    footprint,
    gpt_step,
    lenet_step,
    mlp_step,
    native_kernels,
    op_overhead,
)
from benchmarks._harness import TABLE_HEADER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    args = parser.parse_args()
    print(f"date: {datetime.date.today()}  machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"{platform.python_implementation()} {platform.python_version()}")
    print(TABLE_HEADER)
    for row in (mlp_step.run(args.quick) + lenet_step.run(args.quick) + gpt_step.run(args.quick)
                + char_rnn_step.run(args.quick)):
        print(row, flush=True)
    for row in footprint.run(args.quick):
        print(row, flush=True)
    print("\nchainrule's compiled kernels (chainrule.backends.native), on vs off\n"
          + native_kernels.TABLE_HEADER)
    for row in native_kernels.run(args.quick):
        print(row, flush=True)
    print("\nfit's own overhead (goal: at most 2 %)\n" + fit_overhead.TABLE_HEADER)
    for row in fit_overhead.run(args.quick):
        print(row, flush=True)
    print("\nper-op overhead")
    op_overhead.main(["--quick"] if args.quick else [])


if __name__ == "__main__":
    main()
