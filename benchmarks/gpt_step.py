"""Training step of a nanoGPT-style character model, chainrule vs torch.

4 layers, 4 heads, width 128, block 64, batch 12, vocabulary 65, AdamW: the configuration of
issue 14, with the model of ``examples/char_gpt.py``.

    python -m benchmarks.gpt_step [--quick]
"""

from __future__ import annotations

import numpy as np

from benchmarks._harness import TABLE_HEADER, alternate_rounds, median_and_spread_rows, table_main
from examples.char_gpt import gpt_model

VOCAB, BLOCK, BATCH = 65, 64, 12


def build(lib, seed: int = 0):
    """One AdamW training step of the GPT on a fixed batch, in ``lib`` (chainrule or torch)."""
    lib.manual_seed(seed)
    model = gpt_model(lib, VOCAB, block_size=BLOCK, n_layer=4, n_head=4, n_embd=128)
    optimizer = lib.optim.AdamW(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCAB, (BATCH, BLOCK + 1))
    x, y = lib.from_numpy(tokens[:, :-1].copy()), lib.from_numpy(tokens[:, 1:].copy())

    def step():
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    return step


def run(quick: bool = False) -> list[str]:
    import torch

    import chainrule

    repeats, rounds = (2, 3) if quick else (5, 15)
    ours, theirs = alternate_rounds(build(chainrule), build(torch), repeats, rounds)
    return median_and_spread_rows("GPT train step (4x128, batch 12)", ours, theirs)


def main() -> None:
    table_main(__doc__, TABLE_HEADER, run)


if __name__ == "__main__":
    main()
