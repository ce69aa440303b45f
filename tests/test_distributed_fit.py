"""``fit`` on 2 ranks: the same weights and metrics as one process on the same global batches,
the same numbers on every rank, files from rank 0 only, per-epoch shuffles, resume, divergence.

This file is also the rank program: ``mpiexec -n 2 python tests/test_distributed_fit.py DIR``.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from distributed_support import mpi_run

SAMPLES, VALID = 48, 16
LOCAL_BATCH = 6


class RecordingDataset:
    """A dataset that remembers which indices it served (to see each rank's share)."""

    def __init__(self, inputs, targets) -> None:
        self.inputs, self.targets, self.served = inputs, targets, []

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int):
        self.served.append(int(index))
        return self.inputs[index], self.targets[index]


def make_data(torch, rank_with_nan: int | None = None, rank: int = 0):
    rng = np.random.default_rng(7)
    inputs = rng.standard_normal((SAMPLES + VALID, 5))
    targets = rng.integers(0, 3, SAMPLES + VALID)
    if rank_with_nan == rank:
        inputs[LOCAL_BATCH * 2 * 3 + 1] = np.nan  # in rank 1's 4th batch of the first epoch
    inputs, targets = torch.tensor(inputs), torch.tensor(targets)
    return (RecordingDataset(inputs[:SAMPLES], targets[:SAMPLES]),
            torch.utils.data.TensorDataset(inputs[SAMPLES:], targets[SAMPLES:]))


def make_model(torch):
    torch.manual_seed(3)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()


def train(torch, batch_size: int, epochs: int = 3, shuffle: bool = False, distributed=None,
          rank_with_nan=None, wrap: bool = False, **options):
    from chainrule.train import fit

    train_set, valid_set = make_data(torch, rank_with_nan, torch.distributed.get_rank())
    model = make_model(torch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    loader = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=shuffle)
    valid = torch.utils.data.DataLoader(valid_set, batch_size=4)
    trained = torch.nn.parallel.DistributedDataParallel(model) if wrap else model
    history = fit(trained, torch.nn.CrossEntropyLoss(), optimizer, loader, valid, epochs=epochs,
                  progress=False, distributed=distributed, **options)
    return model, history, train_set.served


def weights(model) -> list:
    return [p.detach().numpy().copy() for p in model.parameters()]


def check_same_as_one_process(torch, dist, rank: int, folder: str) -> None:
    from chainrule.train import CSVLogger, EarlyStopping, ModelCheckpoint, ProgressBar

    callbacks = [CSVLogger(os.path.join(folder, f"log-{rank}.csv")),
                 ModelCheckpoint(os.path.join(folder, f"best-{rank}.pt")), ProgressBar(use_tqdm=False),
                 EarlyStopping(patience=2)]
    model, history, _ = train(torch, LOCAL_BATCH, callbacks=callbacks,
                              checkpoint_path=os.path.join(folder, f"state-{rank}.pt"))
    alone, alone_history, _ = train(torch, 2 * LOCAL_BATCH, distributed=False,
                                    callbacks=[EarlyStopping(patience=2)])
    for ours, theirs in zip(weights(model), weights(alone)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    for key in ("loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(history[key], alone_history[key], rtol=1e-10, err_msg=key)
    wrapped, wrapped_history, _ = train(torch, LOCAL_BATCH, wrap=True,
                                        callbacks=[EarlyStopping(patience=2)])
    for ours, theirs in zip(weights(wrapped), weights(alone)):  # the user's DDP, used as it is
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    numbers = {key: values for key, values in history.history.items() if key != "time"}
    everyone = [None, None]
    dist.all_gather_object(everyone, numbers)
    assert everyone[0] == everyone[1], everyone


def check_shuffles_per_epoch(torch, dist, rank: int) -> None:
    _, _, served = train(torch, LOCAL_BATCH, epochs=2, shuffle=True)
    epochs = [served[:SAMPLES // 2], served[SAMPLES // 2:]]
    assert epochs[0] != epochs[1], "set_epoch must reshuffle every epoch"
    everyone = [None, None]
    dist.all_gather_object(everyone, epochs)
    for epoch in range(2):  # the ranks' shares are disjoint and cover the data
        assert sorted(everyone[0][epoch] + everyone[1][epoch]) == list(range(SAMPLES))


def check_resume(torch, dist, rank: int, folder: str) -> None:
    path = os.path.join(folder, "resume.pt")  # the same file for both ranks: rank 0 writes it
    train(torch, LOCAL_BATCH, epochs=2, shuffle=True, seed=5, checkpoint_path=path)
    resumed, history, _ = train(torch, LOCAL_BATCH, epochs=4, shuffle=True, seed=5, resume=path)
    straight, straight_history, _ = train(torch, LOCAL_BATCH, epochs=4, shuffle=True, seed=5)
    for ours, theirs in zip(weights(resumed), weights(straight)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(history["loss"], straight_history["loss"], rtol=1e-10)


def check_divergence(torch, dist, rank: int) -> None:
    from chainrule.train import NonFiniteLossError

    _, history, _ = train(torch, LOCAL_BATCH, rank_with_nan=1, on_nonfinite="stop")
    everyone = [None, None]
    dist.all_gather_object(everyone, (history.diverged, len(history)))
    assert everyone[0] == everyone[1] and "epoch 1, batch 4" in everyone[0][0], everyone
    try:
        train(torch, LOCAL_BATCH, rank_with_nan=1)
    except NonFiniteLossError as error:
        dist.all_gather_object(everyone, str(error))
        assert everyone[0] == everyone[1], everyone
    else:
        raise AssertionError("a NaN loss on rank 1 must stop every rank")


def rank_main(folder: str) -> None:
    import chainrule as torch
    import chainrule.distributed as dist

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    check_same_as_one_process(torch, dist, rank, folder)
    check_shuffles_per_epoch(torch, dist, rank)
    check_resume(torch, dist, rank, folder)
    check_divergence(torch, dist, rank)
    dist.destroy_process_group()
    print(f"rank {rank}: fit on 2 ranks matches one process", flush=True)


def test_fit_on_two_ranks(tmp_path):
    result = mpi_run(2, __file__, str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("fit on 2 ranks matches one process") == 2
    assert result.stdout.count("epoch 1/3") == 1  # only rank 0 prints its progress
    assert sorted(os.listdir(tmp_path)) == ["best-0.pt", "log-0.csv", "resume.pt", "state-0.pt"]


def test_fit_alone_refuses_distributed_without_a_process_group():
    import chainrule as torch
    from chainrule.train import fit

    model = torch.nn.Linear(2, 1)
    with pytest.raises(RuntimeError, match=r"fit\(distributed=True\) needs an initialised "
                                           r"process group: call torch.distributed"):
        fit(model, torch.nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1), [],
            distributed=True)


def test_a_loader_gets_this_ranks_distributed_sampler():
    import chainrule as torch
    from chainrule.train.distributed import Ranks
    from chainrule.utils.data import DataLoader, DistributedSampler, TensorDataset

    data = TensorDataset(torch.arange(10.0), torch.arange(10))
    loader = DataLoader(data, batch_size=3, shuffle=True, drop_last=True)
    shared = Ranks(rank=1, world_size=2).share_training(loader, seed=4)
    sampler = shared.sampler
    assert isinstance(sampler, DistributedSampler) and shared.batch_size == 3 and shared.drop_last
    assert (sampler.rank, sampler.num_replicas, sampler.shuffle, sampler.seed) == (1, 2, True, 4)
    assert Ranks(rank=1, world_size=2).share_training(shared, seed=0) is shared
    assert Ranks().share_training(loader, seed=0) is loader
    valid = Ranks(rank=1, world_size=3).share_validation(DataLoader(data, batch_size=2))
    assert [int(x) for inputs, _ in valid for x in inputs] == [1, 4, 7]


if __name__ == "__main__":
    rank_main(sys.argv[1])
