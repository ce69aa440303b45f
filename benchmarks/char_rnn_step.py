"""Training step of the hand-written character RNN of PyTorch's tutorial "NLP From Scratch:
classifying names with a character-level RNN", chainrule vs torch.

The tutorial's classic cell: ``hidden = i2h(cat(letter, hidden))``, ``output =
log_softmax(i2o(cat(letter, hidden)))``, 57 letters one-hot, 128 hidden units, 18 languages;
one step feeds one 7-letter name letter by letter, takes ``nll_loss`` of the last output, and
updates every parameter by hand (``p.data.add_(p.grad.data, alpha=-0.005)``). A loop of tiny
ops: what it measures is the framework's cost per op.

    python -m benchmarks.char_rnn_step [--quick]
"""

from __future__ import annotations

import numpy as np

from benchmarks._harness import TABLE_HEADER, alternate_rounds, median_and_spread_rows, table_main

N_LETTERS, N_HIDDEN, N_CATEGORIES, NAME_LENGTH = 57, 128, 18, 7
LEARNING_RATE = 0.005


def build(lib, seed: int = 0):
    """One training step on a fixed name in ``lib`` (chainrule or torch)."""
    nn = lib.nn

    class RNN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super().__init__()
            self.hidden_size = hidden_size
            self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
            self.i2o = nn.Linear(input_size + hidden_size, output_size)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, input, hidden):
            combined = lib.cat((input, hidden), 1)
            return self.softmax(self.i2o(combined)), self.i2h(combined)

        def init_hidden(self):
            return lib.zeros(1, self.hidden_size)

    lib.manual_seed(seed)
    rnn = RNN(N_LETTERS, N_HIDDEN, N_CATEGORIES)
    criterion = nn.NLLLoss()
    rng = np.random.default_rng(seed)
    letters = np.zeros((NAME_LENGTH, 1, N_LETTERS), np.float32)
    letters[np.arange(NAME_LENGTH), 0, rng.integers(0, N_LETTERS, NAME_LENGTH)] = 1
    line_tensor = lib.from_numpy(letters)
    category_tensor = lib.tensor([int(rng.integers(0, N_CATEGORIES))])

    def step():
        hidden = rnn.init_hidden()
        rnn.zero_grad()
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
        loss = criterion(output, category_tensor)
        loss.backward()
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-LEARNING_RATE)
        return loss

    return step


def run(quick: bool = False) -> list[str]:
    import torch

    import chainrule

    repeats, rounds = (20, 3) if quick else (200, 15)
    ours, theirs = alternate_rounds(build(chainrule), build(torch), repeats, rounds)
    return median_and_spread_rows("char-RNN tutorial step (7 letters)", ours, theirs)


def main() -> None:
    table_main(__doc__, TABLE_HEADER, run)


if __name__ == "__main__":
    main()
