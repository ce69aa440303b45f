"""fit's own overhead: an epoch through ``chainrule.train.fit`` against the same epoch by hand.

The hand-written epoch is seed 001's ``trainer`` loop: zero_grad, forward, loss, backward,
step and ``loss.item()`` summed per batch, then a ``no_grad`` validation pass. ``fit`` runs one
epoch of the same work with a progress bar (tqdm when installed), ``EarlyStopping`` (which
copies and, at the end, restores the best weights) and a ``CSVLogger``; ``metrics=None`` so that
neither side computes more than the other. Each ``fit`` call is a whole run of one epoch, so its
set-up and tear-down count against it.

Both train the seed MLP (784-128-64-10, ReLU, SGD) on random data, alternating epoch by epoch
in one process. The overhead is the median of the per-round ratios fit/hand, minus one; the
goal is at most 2 % at batch 64 and at batch 1.

    python -m benchmarks.fit_overhead [--quick]
"""

from __future__ import annotations

import os
import statistics
import tempfile

import numpy as np

from benchmarks._harness import table_main, time_per_call

TABLE_HEADER = ("| case                               |    by hand    |      fit      | fit overhead |\n"
                "|------------------------------------|---------------|---------------|--------------|")

# (batch size, training samples, validation samples), full and --quick
CASES = {False: [(64, 12800, 2560), (1, 2000, 400)],
         True: [(64, 3200, 640), (1, 500, 100)]}


def _loaders(batch: int, n_train: int, n_valid: int, seed: int):
    import chainrule
    from chainrule.utils.data import DataLoader, TensorDataset

    rng = np.random.default_rng(seed)

    def dataset(n):
        images = rng.standard_normal((n, 784)).astype(np.float32)
        labels = rng.integers(0, 10, n).astype(np.int64)
        return TensorDataset(chainrule.from_numpy(images), chainrule.from_numpy(labels))

    generator = chainrule.Generator().manual_seed(seed)
    return (DataLoader(dataset(n_train), batch_size=batch, shuffle=True, generator=generator),
            DataLoader(dataset(n_valid), batch_size=batch))


def _setup(batch: int, n_train: int, n_valid: int, seed: int):
    import chainrule
    from chainrule.train.recipes import build_mlp

    chainrule.manual_seed(seed)
    model = build_mlp()
    optimizer = chainrule.optim.SGD(model.parameters(), lr=0.01)
    criterion = chainrule.nn.CrossEntropyLoss()
    return model, criterion, optimizer, *_loaders(batch, n_train, n_valid, seed)


def hand_epoch(batch: int, n_train: int, n_valid: int):
    """One epoch of seed 001's ``trainer``, as a callable."""
    import chainrule as torch

    model, criterion, optimizer, trainloader, validloader = _setup(batch, n_train, n_valid, 0)
    train_loss, valid_loss = [], []

    def epoch():
        train_batch_loss = 0
        valid_batch_loss = 0
        for X, y in trainloader:
            optimizer.zero_grad()
            y_hat = model(X)
            loss = criterion(y_hat, y)
            loss.backward()
            optimizer.step()
            train_batch_loss += loss.item()
        train_loss.append(train_batch_loss / len(trainloader))
        with torch.no_grad():
            for X_valid, y_valid in validloader:
                y_hat = model(X_valid)
                valid_batch_loss += criterion(y_hat, y_valid).item()
        valid_loss.append(valid_batch_loss / len(validloader))

    return epoch


def fit_epoch(batch: int, n_train: int, n_valid: int, log_dir: str, progress_file):
    """One epoch through ``fit`` with a progress bar, EarlyStopping and a CSVLogger."""
    from chainrule.train import CSVLogger, ProgressBar, fit

    model, criterion, optimizer, trainloader, validloader = _setup(batch, n_train, n_valid, 1)
    log_path = os.path.join(log_dir, f"log-{batch}.csv")

    def epoch():
        fit(model, criterion, optimizer, trainloader, validloader, epochs=1, patience=3,
            metrics=None, callbacks=[CSVLogger(log_path), ProgressBar(file=progress_file)])

    return epoch


def measure(batch: int, n_train: int, n_valid: int, rounds: int) -> tuple[float, float, float]:
    """Median seconds per epoch by hand and through fit, and the median per-round fit/hand ratio.

    The order alternates every round (hand first, then fit first) so drift hits both sides.
    """
    with tempfile.TemporaryDirectory() as log_dir, open(os.devnull, "w") as devnull:
        by_hand = hand_epoch(batch, n_train, n_valid)
        through_fit = fit_epoch(batch, n_train, n_valid, log_dir, devnull)
        by_hand()
        through_fit()
        hand_times, fit_times = [], []
        for round_index in range(rounds):
            pair = [(by_hand, hand_times), (through_fit, fit_times)]
            for step, times in pair if round_index % 2 == 0 else pair[::-1]:
                times.append(time_per_call(step, 1))
    ratios = [f / h for f, h in zip(fit_times, hand_times)]
    return statistics.median(hand_times), statistics.median(fit_times), statistics.median(ratios)


def run(quick: bool = False) -> list[str]:
    rounds = 5 if quick else 15
    rows = []
    for batch, n_train, n_valid in CASES[quick]:
        hand, through_fit, ratio = measure(batch, n_train, n_valid, rounds)
        name = f"epoch, batch {batch} ({n_train}+{n_valid})"
        rows.append(f"| {name:<34} | {hand * 1e3:>10.1f} ms | {through_fit * 1e3:>10.1f} ms "
                    f"| {(ratio - 1) * 100:>+10.2f} % |")
    return rows


def main() -> None:
    table_main(__doc__, TABLE_HEADER, run)


if __name__ == "__main__":
    main()
