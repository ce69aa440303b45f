"""The LeNet-5 and GPT steps with chainrule's compiled kernels on and off, alternating in one
process (the GPT's: attention, GELU and layer norm).

    python -m benchmarks.native_kernels [--quick]
"""

from __future__ import annotations

import chainrule
from benchmarks import gpt_step, lenet_step
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
    rows = []
    for name, module in (("LeNet-5 train step, batch 64", lenet_step),
                         ("GPT train step (4x128, batch 12)", gpt_step)):
        with_kernels, without = alternate(switched(module.build(chainrule), True),
                                          switched(module.build(chainrule), False), repeats, rounds)
        rows.append(report_row(name, with_kernels, without))
    return rows


TABLE_HEADER = ("| case                               | with kernels  | NumPy only    | speed-up |\n"
                "|------------------------------------|---------------|---------------|----------|")


def main() -> None:
    table_main(__doc__, TABLE_HEADER, run)


if __name__ == "__main__":
    main()
