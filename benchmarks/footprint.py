"""Import time, peak memory of a training run, and installed size: chainrule vs torch.

Each measurement runs in a fresh subprocess so neither library's state leaks
into the other's numbers.

    python -m benchmarks.footprint [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
from pathlib import Path

IMPORT_SNIPPET = "import time; t = time.perf_counter(); import {lib}; print(time.perf_counter() - t)"

# VmHWM, not getrusage: ru_maxrss survives fork+exec, so a child of a big parent (this runner,
# after the in-process benchmarks) would report the parent's peak.
TRAIN_SNIPPET = """
import sys
import {lib}
sys.path.insert(0, {root!r})
from benchmarks.{module} import build
def status(field):
    return int(next(line for line in open("/proc/self/status") if line.startswith(field)).split()[1])
step = build({lib}, {batch})
before = status("VmRSS")
for _ in range({steps}):
    step()
print(status("VmHWM") * 1024, (status("VmHWM") - before) * 1024)
"""

# (row label, benchmark module whose build() makes the step, batch)
TRAININGS = [("peak RSS, MLP training (batch 64)", "mlp_step", 64),
             ("peak RSS, LeNet-5 training (b. 64)", "lenet_step", 64)]


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()[-1]


def _training_peak(lib: str, module: str, batch: int, steps: int) -> tuple[int, int]:
    """Peak resident bytes of a process running training steps, and how far the steps raised
    it above the set-up (library, model, data)."""
    root = str(Path(__file__).resolve().parents[1])
    peak, growth = _run(TRAIN_SNIPPET.format(lib=lib, root=root, module=module, batch=batch,
                                             steps=steps)).split()
    return int(peak), int(growth)


def import_seconds(lib: str, repeats: int) -> float:
    return statistics.median(float(_run(IMPORT_SNIPPET.format(lib=lib))) for _ in range(repeats))


def installed_bytes(package: str) -> int:
    """Bytes on disk of the package folder (and, for torch, its bundled libraries)."""
    spec = importlib.util.find_spec(package)
    folder = Path(spec.origin).parent
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def run(quick: bool = False) -> list[str]:
    repeats = 3 if quick else 7
    steps = 50 if quick else 300
    rows = []
    ours, theirs = import_seconds("chainrule", repeats), import_seconds("torch", repeats)
    rows.append(f"| import time                        | {ours * 1e3:>10.1f} ms | {theirs * 1e3:>10.1f} ms "
                f"| chainrule/torch = {ours / theirs:.3f} |")
    for label, module, batch in TRAININGS:
        (ours, our_growth) = _training_peak("chainrule", module, batch, steps)
        (theirs, their_growth) = _training_peak("torch", module, batch, steps)
        rows.append(f"| {label:<34} | {ours / 2**20:>10.1f} MB | {theirs / 2**20:>10.1f} MB "
                    f"| chainrule/torch = {ours / theirs:.3f}; the steps' own: "
                    f"{our_growth / 2**20:.1f} MB vs {their_growth / 2**20:.1f} MB |")
    ours, theirs = installed_bytes("chainrule"), installed_bytes("torch")
    rows.append(f"| installed size (package folder)    | {ours / 2**20:>10.1f} MB | {theirs / 2**20:>10.1f} MB "
                f"| chainrule/torch = {ours / theirs:.4f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))
    for row in run(args.quick):
        print(row)


if __name__ == "__main__":
    main()
