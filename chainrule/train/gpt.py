"""A character-level GPT (nanoGPT's architecture) and the data preparation it trains on.

Each function takes the library as its first argument (``chainrule`` or ``torch``), so the very
same code runs on both: ``examples/char_gpt.py`` compares them, ``chainrule train --model gpt``
trains it.

>>> import chainrule
>>> train, val, chars = char_splits("hello world, " * 8)
>>> model = gpt_model(chainrule, len(chars), block_size=8, n_layer=1, n_head=2, n_embd=16)
>>> x, y = random_batch(train, 2, 8, np.random.default_rng(0))
>>> logits, loss = model(chainrule.from_numpy(x), chainrule.from_numpy(y))
>>> tuple(logits.shape)
(2, 8, 9)
"""

from __future__ import annotations

import math
import os

import numpy as np

__all__ = ["SHAKESPEARE", "gpt_model", "char_splits", "random_batch", "estimate_loss",
           "validation_loss"]

# Shipped inside the chainrule package: 300 kB of Shakespeare, public domain.
SHAKESPEARE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "datasets", "_embedded", "tiny_shakespeare.txt")


def gpt_model(torch, vocab_size: int, block_size: int = 64, n_layer: int = 4, n_head: int = 4,
              n_embd: int = 128, dropout: float = 0.0, tie_weights: bool = True):
    """nanoGPT's model, built from ``torch.nn`` of the library passed in (chainrule or torch).

    Token and position embeddings, then ``n_layer`` blocks of LayerNorm -> causal
    self-attention -> LayerNorm -> MLP with GELU (each with a residual connection), a final
    LayerNorm and a linear head whose weight is tied to the token embedding.
    ``model(idx, targets=None)`` returns ``(logits, loss)``; ``idx`` is ``(N, T)`` int64 with
    ``T <= block_size``.
    """
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


def char_splits(text: str, validation_fraction: float = 0.1, chars: list[str] | None = None):
    """``(train, val, chars)``: the text as int64 character codes split in two, and the alphabet
    (``sorted(set(text))`` unless given; a character outside a given alphabet is a ValueError).

    >>> train, val, chars = char_splits("abcabcabca", validation_fraction=0.2)
    >>> chars, train.tolist(), val.tolist()
    (['a', 'b', 'c'], [0, 1, 2, 0, 1, 2, 0, 1], [2, 0])
    """
    chars = sorted(set(text)) if chars is None else list(chars)
    lookup = {c: i for i, c in enumerate(chars)}
    unknown = sorted(set(text) - lookup.keys())
    if unknown:
        raise ValueError(f"the text has characters outside the alphabet: {''.join(unknown[:10])!r}")
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
    """The mean loss over ``batches`` random batches of ``codes`` (cheap, but noisy)."""
    model.eval()
    with torch.no_grad():
        losses = [model(*map(torch.from_numpy, random_batch(codes, batch_size, block_size, rng)))[1].item()
                  for _ in range(batches)]
    model.train()
    return float(np.mean(losses))


def validation_loss(torch, model, codes: np.ndarray, block_size: int, batch_size: int = 64) -> float:
    """The exact mean loss over every whole, non-overlapping window of ``codes``: the same number
    each time it is asked (no sampling), so a saved run can be re-scored.

    >>> import chainrule
    >>> model = gpt_model(chainrule, 3, block_size=4, n_layer=1, n_head=1, n_embd=8)
    >>> round(validation_loss(chainrule, model, np.arange(30) % 3, 4), 1)  # about log(3)
    1.1
    """
    windows = (len(codes) - 1) // block_size
    if windows < 1:
        raise ValueError(f"{len(codes)} characters hold no window of {block_size + 1}")
    x = codes[:windows * block_size].reshape(windows, block_size)
    y = codes[1:windows * block_size + 1].reshape(windows, block_size)
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, windows, batch_size):
            xb, yb = (torch.from_numpy(np.ascontiguousarray(a[start:start + batch_size])) for a in (x, y))
            total += model(xb, yb)[1].item() * len(xb)
    model.train()
    return total / windows
