"""Every collective on 2 and 4 MPI ranks, checked on each rank against NumPy's result.

This file is also the rank program: ``mpiexec -n N python tests/test_distributed_collectives.py``.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from distributed_support import mpi_run

WORLD_SIZES = (2, 4)


def rank_data(rank: int, dtype=np.float64) -> np.ndarray:
    return np.random.default_rng(rank).standard_normal((3, 4)).astype(dtype)


def check_reductions(torch, dist, rank: int, size: int) -> None:
    everyone = np.stack([rank_data(i) for i in range(size)])
    expected = {dist.ReduceOp.SUM: everyone.sum(0), dist.ReduceOp.AVG: everyone.mean(0),
                dist.ReduceOp.PRODUCT: everyone.prod(0), dist.ReduceOp.MIN: everyone.min(0),
                dist.ReduceOp.MAX: everyone.max(0)}
    for op, result in expected.items():
        tensor = torch.tensor(rank_data(rank))
        address = tensor.data_ptr()
        assert dist.all_reduce(tensor, op=op) is None
        np.testing.assert_allclose(tensor.numpy(), result, rtol=1e-12, err_msg=str(op))
        assert tensor.data_ptr() == address, "all_reduce must work in the tensor's own memory"
    bits = torch.tensor([rank + 1, 6], dtype=torch.int64)
    dist.all_reduce(bits, op=dist.ReduceOp.BOR)
    assert bits.tolist() == [int(np.bitwise_or.reduce(np.arange(1, size + 1))), 6]
    for op, result in ((dist.ReduceOp.SUM, True), (dist.ReduceOp.MIN, False)):
        flags = torch.tensor([rank == 0, True])  # booleans: SUM is OR, MIN is AND, as gloo's
        dist.all_reduce(flags, op=op)
        assert flags.tolist() == [result, True], op
    transposed = torch.tensor(rank_data(rank)).t()  # not contiguous: reduced, then copied back
    dist.all_reduce(transposed)
    np.testing.assert_allclose(transposed.numpy(), everyone.sum(0).T, rtol=1e-12)
    work = dist.all_reduce(tensor := torch.tensor(rank_data(rank)), async_op=True)
    assert work.wait() is True and work.is_completed()
    np.testing.assert_allclose(tensor.numpy(), everyone.sum(0), rtol=1e-12)
    assert work.result()[0] is tensor

    tensor = torch.tensor(rank_data(rank))
    dist.reduce(tensor, dst=size - 1, op=dist.ReduceOp.MAX)
    if rank == size - 1:
        np.testing.assert_allclose(tensor.numpy(), everyone.max(0))
    blocks = [np.random.default_rng(100 + i).standard_normal(4 * size) for i in range(size)]
    for op, combine in ((dist.ReduceOp.SUM, np.sum), (dist.ReduceOp.AVG, np.mean)):
        output = torch.zeros(4, dtype=torch.float64)
        dist.reduce_scatter_tensor(output, torch.tensor(blocks[rank]), op=op)
        np.testing.assert_allclose(output.numpy(), combine(blocks, axis=0)[4 * rank:4 * rank + 4],
                                   rtol=1e-12)

def check_movement(torch, dist, rank: int, size: int) -> None:
    everyone = np.stack([rank_data(i) for i in range(size)])
    tensor = torch.tensor(rank_data(rank))
    dist.broadcast(tensor, src=size - 1)
    np.testing.assert_array_equal(tensor.numpy(), everyone[size - 1])

    gathered = [torch.zeros(3, 4, dtype=torch.float64) for _ in range(size)]
    dist.all_gather(gathered, torch.tensor(rank_data(rank)))
    np.testing.assert_array_equal(np.stack([t.numpy() for t in gathered]), everyone)
    for shape in ((size * 3, 4), (size, 3, 4)):
        output = torch.zeros(*shape, dtype=torch.float64)
        dist.all_gather_into_tensor(output, torch.tensor(rank_data(rank)))
        np.testing.assert_array_equal(output.numpy(), everyone.reshape(shape))

    gather_list = [torch.zeros(3, 4, dtype=torch.float64) for _ in range(size)] if rank == 1 else None
    dist.gather(torch.tensor(rank_data(rank)), gather_list, dst=1)
    if rank == 1:
        np.testing.assert_array_equal(np.stack([t.numpy() for t in gather_list]), everyone)
    received = torch.zeros(3, 4, dtype=torch.float64)
    scatter_list = [torch.tensor(part) for part in everyone[::-1]] if rank == 0 else None
    dist.scatter(received, scatter_list, src=0)
    np.testing.assert_array_equal(received.numpy(), everyone[size - 1 - rank])

    outputs = [torch.zeros(rank + peer + 1, dtype=torch.int64) for peer in range(size)]
    inputs = [torch.full((rank + peer + 1,), 10 * rank + peer, dtype=torch.int64)
              for peer in range(size)]
    dist.all_to_all(outputs, inputs)
    for peer, output in enumerate(outputs):
        assert output.tolist() == [10 * peer + rank] * (rank + peer + 1)

    # all_to_all_single: rank r sends r + p + 1 rows of 2 to peer p, straight into output's memory
    sent = torch.cat([torch.full((rank + peer + 1, 2), 10 * rank + peer, dtype=torch.int64)
                      for peer in range(size)])
    output = torch.zeros(sum(peer + rank + 1 for peer in range(size)), 2, dtype=torch.int64)
    address = output.data_ptr()
    dist.all_to_all_single(output, sent, [peer + rank + 1 for peer in range(size)],
                           [rank + peer + 1 for peer in range(size)])
    expected = np.concatenate([np.full((peer + rank + 1, 2), 10 * peer + rank) for peer in range(size)])
    np.testing.assert_array_equal(output.numpy(), expected)
    assert output.data_ptr() == address
    equal = torch.zeros(size, dtype=torch.int64)
    dist.all_to_all_single(equal, torch.arange(size, dtype=torch.int64) + 100 * rank)
    assert equal.tolist() == [100 * peer + rank for peer in range(size)]

    parts = [torch.tensor(everyone[rank] * (peer + 1)) for peer in range(size)]
    output = torch.zeros(3, 4, dtype=torch.float64)
    dist.reduce_scatter(output, parts, op=dist.ReduceOp.AVG)
    np.testing.assert_allclose(output.numpy(), everyone.mean(0) * (rank + 1), rtol=1e-12)


def check_point_to_point(torch, dist, rank: int, size: int) -> None:
    work = dist.isend(torch.full((5,), float(rank)), dst=(rank + 1) % size, tag=7)
    inbox = torch.zeros(5)
    sender = dist.recv(inbox, tag=7)
    work.wait()
    assert sender == (rank - 1) % size
    assert inbox.tolist() == [float(sender)] * 5
    inbox = torch.zeros(5)
    receiving = dist.irecv(inbox, src=(rank + 1) % size)
    dist.send(torch.full((5,), -float(rank)), dst=(rank - 1) % size)
    receiving.wait()
    assert inbox.tolist() == [-float((rank + 1) % size)] * 5


def check_objects_and_groups(torch, dist, rank: int, size: int) -> None:
    objects = [{"step": 3, "weights": torch.arange(3.0)}, "text", None] if rank == 1 else [0, 0, 0]
    dist.broadcast_object_list(objects, src=1)
    assert objects[0]["step"] == 3 and objects[0]["weights"].tolist() == [0.0, 1.0, 2.0]
    assert objects[1:] == ["text", None]
    everything = [None] * size
    dist.all_gather_object(everything, (rank, f"rank {rank}"))
    assert everything == [(i, f"rank {i}") for i in range(size)]
    collected = [None] * size if rank == size - 1 else None
    dist.gather_object({"rank": rank, "rows": list(range(rank))}, collected, dst=size - 1)
    if rank == size - 1:
        assert collected == [{"rank": i, "rows": list(range(i))} for i in range(size)]
    mine = [None]
    dist.scatter_object_list(mine, [f"for {i}" for i in range(size)] if rank == 1 else None, src=1)
    assert mine == [f"for {rank}"]

    ends = dist.new_group([size - 1, 0])
    if rank in (0, size - 1):
        assert dist.get_rank(ends) == (0 if rank == 0 else 1) and dist.get_world_size(ends) == 2
        assert dist.get_process_group_ranks(ends) == [0, size - 1]
        tensor = torch.tensor([float(rank)])
        dist.all_reduce(tensor, group=ends)
        assert tensor.item() == size - 1
        tensor = torch.tensor([float(rank)])
        dist.broadcast(tensor, src=size - 1, group=ends)
        assert tensor.item() == size - 1
    else:
        assert ends is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(ends) == -1
        assert dist.all_reduce(torch.ones(1), group=ends) is None
    dist.barrier()
    dist.destroy_process_group(ends)


def rank_main() -> None:
    import chainrule as torch
    import chainrule.distributed as dist

    dist.init_process_group("gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    for check in (check_reductions, check_movement, check_point_to_point, check_objects_and_groups):
        check(torch, dist, rank, size)
    dist.destroy_process_group()
    print(f"rank {rank} of {size}: all collectives agree with NumPy", flush=True)


@pytest.mark.parametrize("size", WORLD_SIZES)
def test_collectives_agree_with_numpy(size):
    result = mpi_run(size, __file__)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("all collectives agree with NumPy") == size


if __name__ == "__main__":
    sys.exit(rank_main())
