"""A character-level GPT (nanoGPT's architecture) learns to write like Shakespeare.

Token and position embeddings, then blocks of LayerNorm -> causal self-attention -> LayerNorm ->
MLP with GELU (each with a residual connection), a final LayerNorm and a linear head whose
weight is tied to the token embedding. Trained with AdamW on the text shipped with chainrule
(``chainrule/datasets/_embedded/tiny_shakespeare.txt``, 300 kB, public domain); prints the
training and validation loss, then a sample, and writes ``losses.txt`` into
``runs/char_gpt/`` (or ``--out DIR``).

The model and the data preparation live in ``chainrule/train/gpt.py`` (``chainrule train
--model gpt`` trains them too); they are written against PyTorch's names and take the library
as an argument, so ``--backend torch`` runs the very same code with PyTorch, to compare the
validation loss (benchmarks/RESULTS.md: 2.19 against 2.25 after 600 steps).

Run: ``python examples/char_gpt.py [--quick] [--backend chainrule|torch] [--out DIR]``
"""

from __future__ import annotations

import argparse
import importlib
import os

import numpy as np

from chainrule.train.gpt import SHAKESPEARE as TEXT
from chainrule.train.gpt import char_splits, estimate_loss, gpt_model, random_batch

__all__ = ["TEXT", "char_splits", "estimate_loss", "gpt_model", "random_batch"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny model for a few steps (seconds)")
    parser.add_argument("--backend", choices=("chainrule", "torch"), default="chainrule")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 1000)")
    parser.add_argument("--out", default=os.path.join("runs", "char_gpt"))
    args = parser.parse_args()
    torch = importlib.import_module(args.backend)
    torch.manual_seed(1337)
    rng = np.random.default_rng(1337)
    with open(TEXT, encoding="utf-8") as f:
        train, val, chars = char_splits(f.read())
    if args.quick:
        config = dict(block_size=16, n_layer=1, n_head=2, n_embd=32)
        steps, batch_size, eval_every, eval_batches = args.steps or 30, 8, 15, 2
    else:
        config = dict(block_size=64, n_layer=4, n_head=4, n_embd=128)
        steps, batch_size, eval_every, eval_batches = args.steps or 1000, 12, 250, 20
    block_size = config["block_size"]
    model = gpt_model(torch, len(chars), **config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99))
    print(f"{args.backend}: {sum(p.numel() for p in model.parameters()):,} parameters, "
          f"{len(chars)} characters, {steps} steps")
    history = []
    for step in range(1, steps + 1):
        x, y = map(torch.from_numpy, random_batch(train, batch_size, block_size, rng))
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % eval_every == 0 or step == steps:
            val_loss = estimate_loss(torch, model, val, eval_batches, batch_size, block_size, rng)
            history.append((step, loss.item(), val_loss))
            print(f"step {step:5d}  train loss {loss.item():.4f}  val loss {val_loss:.4f}", flush=True)
    start = torch.zeros((1, 1), dtype=torch.long)
    sample = model.generate(start, 50 if args.quick else 300)[0].tolist()
    print("sample:\n" + "".join(chars[i] for i in sample))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "losses.txt"), "w", encoding="utf-8") as f:
        f.write("step train_loss val_loss\n")
        f.writelines(f"{step} {train_loss:.4f} {val_loss:.4f}\n" for step, train_loss, val_loss in history)
    print(f"final val loss {history[-1][2]:.4f}")


if __name__ == "__main__":
    main()
