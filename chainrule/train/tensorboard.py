"""``TensorBoard``: a ``fit`` callback that logs each epoch's losses, metrics and learning rate.

Needs the optional ``tensorboard`` package (``pip install "chainrule[tensorboard]"``).
"""

from __future__ import annotations

import os
from numbers import Number
from typing import Any

from chainrule.train.callbacks import Callback
from chainrule.utils.tensorboard import SummaryWriter

__all__ = ["TensorBoard"]


class TensorBoard(Callback):
    """Log every number in an epoch's logs (``loss``, ``val_loss``, ``val_<metric>``, ``lr``;
    not ``time``) as a TensorBoard scalar of that name, at step ``epoch + 1`` (the numbering
    of ``CSVLogger`` and ``History``).

    ``log_dir`` defaults to ``SummaryWriter``'s ``runs/<date>_<host>``. Events are flushed
    after every epoch; a run resumed from a checkpoint purges the steps it redoes, so
    TensorBoard shows each epoch once.

    >>> import tempfile, chainrule as torch
    >>> from chainrule.train import fit
    >>> from chainrule.utils.data import DataLoader, TensorDataset
    >>> data = DataLoader(TensorDataset(torch.randn(8, 2), torch.randn(8, 1)), batch_size=4)
    >>> model = torch.nn.Linear(2, 1)
    >>> board = TensorBoard(tempfile.mkdtemp())
    >>> _ = fit(model, torch.nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1), data,
    ...         epochs=2, metrics=(), callbacks=[board], progress=False)
    >>> board.logged
    ['loss', 'lr']
    """

    rank_zero_only = True

    def __init__(self, log_dir: str | os.PathLike | None = None, comment: str = "") -> None:
        self.log_dir = log_dir
        self.comment = comment
        self.writer: SummaryWriter | None = None
        self.logged: list[str] = []  # the tags written so far, in first-logged order

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        resumed_at = getattr(getattr(self, "state", None), "epoch", 0)
        self.writer = SummaryWriter(self.log_dir, comment=self.comment,
                                    purge_step=resumed_at + 1 if resumed_at else None)
        self.log_dir = self.writer.get_logdir()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        for tag, value in logs.items():
            if tag == "time" or not isinstance(value, Number):
                continue
            self.writer.add_scalar(tag, value, epoch + 1)
            if tag not in self.logged:
                self.logged.append(tag)
        self.writer.flush()

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
