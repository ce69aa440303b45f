"""Build chainrule/datasets/_embedded/digits.npz: a balanced subset of MNIST.

Usage: python tools/make_embedded_digits.py [MNIST_DIR]  (default /work/shared/datasets/mnist)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from chainrule.datasets.digits import EMBEDDED
from chainrule.datasets.mnist import read_idx

PER_CLASS = {"train": 600, "test": 100}
FILES = {"train": "train", "test": "t10k"}


def balanced_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    chosen = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
              for c in range(10)]
    return rng.permutation(np.concatenate(chosen))


def main(source: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, prefix in FILES.items():
        images = read_idx(source / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(source / f"{prefix}-labels-idx1-ubyte.gz")
        keep = balanced_indices(labels, PER_CLASS[split], rng)
        arrays[f"{split}_images"] = images[keep].astype(np.uint8)
        arrays[f"{split}_labels"] = labels[keep].astype(np.uint8)
    EMBEDDED.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(EMBEDDED, **arrays)
    print(f"wrote {EMBEDDED} ({EMBEDDED.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/datasets/mnist"))
