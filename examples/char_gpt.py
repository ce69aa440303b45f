"""A character-level GPT (nanoGPT's architecture) learns to write like Shakespeare.

Token and position embeddings, then blocks of LayerNorm -> causal self-attention -> LayerNorm ->
MLP with GELU (each with a residual connection), a final LayerNorm and a linear head whose
weight is tied to the token embedding. Trained with AdamW on the text shipped with chainrule
(``chainrule/datasets/_embedded/tiny_shakespeare.txt``, 300 kB, public domain); prints the
training and validation loss, then a sample, and writes ``losses.txt`` into
``runs/char_gpt/`` (or ``--out DIR``).

The file is written against PyTorch's names, so ``--backend torch`` runs the very same code
with PyTorch, to compare the validation loss (benchmarks/RESULTS.md: 2.19 against 2.25 after
600 steps). ``gpt_model``, ``char_splits``, ``random_batch`` and ``estimate_loss`` are plain
functions taking the library, so other code (``benchmarks/gpt_step.py``, a future
``chainrule train --model gpt``) can reuse them.

Run: ``python examples/char_gpt.py [--quick] [--backend chainrule|torch] [--out DIR]``
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import math
import os

import numpy as np

TEXT = os.path.join(os.path.dirname(importlib.util.find_spec("chainrule").origin), "datasets", "_embedded",
                    "tiny_shakespeare.txt")  # shipped inside the chainrule package


def gpt_model(torch, vocab_size: int, block_size: int = 64, n_layer: int = 4, n_head: int = 4,
              n_embd: int = 128, dropout: float = 0.0, tie_weights: bool = True):
    """nanoGPT's model, built from ``torch.nn`` of the library passed in (chainrule or torch)."""
    nn, F = torch.nn, torch.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)  # query, key and value in one product
            self.c_proj = nn.Linear(n_embd, n_embd)
            self.resid_dropout = nn.Dropout(dropout)

        def forward(self, x):
            batch, length, width = x.shape
            q, k, v = self.c_attn(x).split(n_embd, dim=2)
            q, k, v = (t.view(batch, length, n_head, width // n_head).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout if self.training else 0.0,
                                               is_causal=True)
            y = y.transpose(1, 2).contiguous().view(batch, length, width)
            return self.resid_dropout(self.c_proj(y))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(n_embd, 4 * n_embd)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * n_embd, n_embd)
            self.dropout = nn.Dropout(dropout)

        def forward(self, x):
            return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(n_embd)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.block_size = block_size
            self.wte = nn.Embedding(vocab_size, n_embd)
            self.wpe = nn.Embedding(block_size, n_embd)
            self.drop = nn.Dropout(dropout)
            self.h = nn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
            if tie_weights:
                self.lm_head.weight = self.wte.weight
            self.apply(self._init_weights)
            for name, p in self.named_parameters():  # GPT-2's scaled init of residual projections
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

        @staticmethod
        def _init_weights(module):
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

        def forward(self, idx, targets=None):
            positions = torch.arange(idx.shape[1])
            x = self.drop(self.wte(idx) + self.wpe(positions))
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            if targets is None:
                return logits, None
            return logits, F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))

        @torch.no_grad()
        def generate(self, idx, max_new_tokens: int, temperature: float = 1.0):
            """Append ``max_new_tokens`` characters, each sampled from the model's prediction."""
            for _ in range(max_new_tokens):
                logits, _ = self(idx[:, -self.block_size:])
                probs = F.softmax(logits[:, -1, :] / temperature, dim=-1)
                idx = torch.cat((idx, torch.multinomial(probs, num_samples=1)), dim=1)
            return idx

    return GPT()


def char_splits(text: str, validation_fraction: float = 0.1):
    """``(train, val, chars)``: the text as int64 character codes split in two, and the alphabet."""
    chars = sorted(set(text))
    lookup = {c: i for i, c in enumerate(chars)}
    codes = np.array([lookup[c] for c in text], dtype=np.int64)
    split = int(len(codes) * (1 - validation_fraction))
    return codes[:split], codes[split:], chars


def random_batch(codes: np.ndarray, batch_size: int, block_size: int, rng: np.random.Generator):
    """``(x, y)`` as NumPy int64 arrays: ``batch_size`` windows and the same shifted by one."""
    starts = rng.integers(0, len(codes) - block_size - 1, batch_size)
    x = np.stack([codes[s:s + block_size] for s in starts])
    y = np.stack([codes[s + 1:s + block_size + 1] for s in starts])
    return x, y


def estimate_loss(torch, model, codes: np.ndarray, batches: int, batch_size: int, block_size: int,
                  rng: np.random.Generator) -> float:
    model.eval()
    with torch.no_grad():
        losses = [model(*map(torch.from_numpy, random_batch(codes, batch_size, block_size, rng)))[1].item()
                  for _ in range(batches)]
    model.train()
    return float(np.mean(losses))


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
