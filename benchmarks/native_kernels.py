"""The LeNet-5 step with chainrule's compiled kernels on and off, alternating in one process.

    python -m benchmarks.native_kernels [--quick]
"""

from __future__ import annotations

import chainrule
from benchmarks import lenet_step
from benchmarks._harness import alternate, report_row, table_main
from chainrule.backends import native


def switched(step, enabled: bool):
    def run():
        saved, native.enabled = native.enabled, enabled
        try:
            return step()
        finally:
            native.enabled = saved
    return run


def run(quick: bool = False) -> list[str]:
    if not native.is_available():
        return ["(the compiled kernels were not built: no C compiler when chainrule was installed)"]
    repeats, rounds = (5, 3) if quick else (20, 7)
    with_kernels, without = alternate(switched(lenet_step.build(chainrule), True),
                                      switched(lenet_step.build(chainrule), False), repeats, rounds)
    return [report_row("LeNet-5 train step, batch 64", with_kernels, without)]


TABLE_HEADER = ("| case                               | with kernels  | NumPy only    | speed-up |\n"
                "|------------------------------------|---------------|---------------|----------|")


def main() -> None:
    table_main(__doc__, TABLE_HEADER, run)


if __name__ == "__main__":
    main()
