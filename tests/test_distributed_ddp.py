"""DistributedDataParallel: 2 and 4 ranks train to the same weights, to rounding, as one process
on the same global batch; ``no_sync`` accumulation; ``find_unused_parameters``.

This file is also the rank program: ``mpiexec -n N python tests/test_distributed_ddp.py``.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from distributed_support import mpi_run

GLOBAL_BATCH = 24


def make_model(torch, seed: int, extra_unused: bool = False):
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)]
    if extra_unused:
        return WithUnusedLayer(torch.nn.Sequential(*layers)).double()
    return torch.nn.Sequential(*layers).double()


def WithUnusedLayer(body):  # noqa: N802 - builds a module class lazily, chainrule imported late
    import chainrule

    class Model(chainrule.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = body
            self.unused = chainrule.nn.Linear(2, 2)

        def forward(self, x):
            return self.body(x)

    return Model()


def global_batch(torch, step: int):
    rng = np.random.default_rng(1000 + step)
    return (torch.tensor(rng.standard_normal((GLOBAL_BATCH, 6))),
            torch.tensor(rng.integers(0, 3, GLOBAL_BATCH)))


def local_share(tensor, rank: int, size: int):
    share = GLOBAL_BATCH // size
    return tensor[rank * share:(rank + 1) * share]


def assert_same_weights(model, reference, what: str) -> None:
    for (name, ours), theirs in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=f"{what}: {name}")


def check_training(torch, dist, rank: int, size: int, bucket_cap_mb, as_view: bool = False) -> None:
    from chainrule.nn.parallel import DistributedDataParallel as DDP

    ddp = DDP(make_model(torch, seed=rank), bucket_cap_mb=bucket_cap_mb,
              gradient_as_bucket_view=as_view)
    reference = make_model(torch, seed=0)
    assert_same_weights(ddp.module, reference, "after construction (rank 0's weights)")
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
                  for m in (ddp, reference)]
    loss_fn = torch.nn.CrossEntropyLoss()
    for step in range(5):
        inputs, targets = global_batch(torch, step)
        for optimizer in optimizers:  # bucket views: gradients zeroed, and accumulated, in place
            optimizer.zero_grad(set_to_none=not as_view)
        loss_fn(ddp(local_share(inputs, rank, size)), local_share(targets, rank, size)).backward()
        loss_fn(reference(inputs), targets).backward()
        optimizers[0].step()
        optimizers[1].step()
    assert_same_weights(ddp.module, reference, f"after 5 SGD steps, bucket_cap_mb={bucket_cap_mb}, "
                                               f"gradient_as_bucket_view={as_view}")


def check_no_sync(torch, dist, rank: int, size: int, as_view: bool = False) -> None:
    from chainrule.nn.parallel import DistributedDataParallel as DDP

    ddp = DDP(make_model(torch, seed=rank), gradient_as_bucket_view=as_view)
    reference = make_model(torch, seed=0)
    loss_fn = torch.nn.CrossEntropyLoss()
    local_grads = []
    for step in range(3):
        inputs, targets = global_batch(torch, step)
        loss_fn(reference(inputs), targets).backward()
        if step < 2:
            with ddp.no_sync():
                loss_fn(ddp(local_share(inputs, rank, size)), local_share(targets, rank, size)).backward()
            local_grads.append(ddp.module[0].weight.grad.clone())
        else:
            loss_fn(ddp(local_share(inputs, rank, size)), local_share(targets, rank, size)).backward()
    gathered = [torch.zeros_like(local_grads[1]) for _ in range(size)]
    dist.all_gather(gathered, local_grads[1])
    assert not all(torch.equal(gathered[0], g) for g in gathered[1:]), "no_sync must not reduce"
    for ours, theirs in zip(ddp.module.parameters(), reference.parameters()):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def check_unused_parameters(torch, dist, rank: int, size: int, as_view: bool = False) -> None:
    from chainrule.nn.parallel import DistributedDataParallel as DDP

    inputs, targets = global_batch(torch, 0)
    model = make_model(torch, seed=rank, extra_unused=True)
    ddp = DDP(model, find_unused_parameters=True, gradient_as_bucket_view=as_view)
    for _ in range(2):
        ddp.zero_grad()
        torch.nn.functional.cross_entropy(ddp(local_share(inputs, rank, size)),
                                          local_share(targets, rank, size)).backward()
    assert model.unused.weight.grad is None and model.body[0].weight.grad is not None

    strict = DDP(make_model(torch, seed=rank, extra_unused=True))
    strict(inputs).sum().backward()
    try:
        strict(inputs)
    except RuntimeError as error:
        assert "Expected to have finished reduction in the prior iteration" in str(error)
        assert "find_unused_parameters=True" in str(error)
        assert str(error).endswith(f"Parameter indices which did not receive grad for rank {rank}: 4 5")
    else:
        raise AssertionError("a parameter without gradient must stop the next forward")


def check_buffers_follow_rank_0(torch, dist, rank: int) -> None:
    """Each forward first copies rank 0's buffers to every rank (``broadcast_buffers``), also
    a buffer reassigned after construction; ``broadcast_buffers=False`` leaves them alone."""
    from chainrule.nn.parallel import DistributedDataParallel as DDP

    def means_on_every_rank(norm):
        gathered = [torch.zeros(3) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, norm.running_mean.float())
        return gathered

    local = torch.full((4, 3), float(rank)) + torch.arange(4.0)[:, None]
    for broadcast_buffers in (True, False):
        norm = torch.nn.BatchNorm1d(3)
        ddp = DDP(torch.nn.Sequential(torch.nn.Linear(3, 3), norm),
                  broadcast_buffers=broadcast_buffers)
        ddp(local)  # the running means now differ between ranks
        norm.running_mean = norm.running_mean.clone()
        ddp.eval()
        ddp(local)
        gathered = means_on_every_rank(norm)
        assert all(torch.equal(gathered[0], g) for g in gathered) == broadcast_buffers, gathered


def rank_main() -> None:
    import chainrule as torch
    import chainrule.distributed as dist

    dist.init_process_group("gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    for as_view in (False, True):
        for bucket_cap_mb in (None, 0.0005):
            check_training(torch, dist, rank, size, bucket_cap_mb, as_view)
        check_no_sync(torch, dist, rank, size, as_view)
        check_unused_parameters(torch, dist, rank, size, as_view)
    check_buffers_follow_rank_0(torch, dist, rank)
    dist.destroy_process_group()
    print(f"rank {rank} of {size}: DDP matches one process", flush=True)


@pytest.mark.parametrize("size", [2, 4])
def test_ddp_matches_one_process(size):
    result = mpi_run(size, __file__)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("DDP matches one process") == size


@pytest.fixture
def world_of_one():
    pytest.importorskip("mpi4py", reason="mpi4py is not installed")
    import chainrule.distributed as dist

    dist.init_process_group("gloo")
    yield dist
    dist.destroy_process_group()


def test_wrapper_looks_like_torchs(world_of_one):
    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    import chainrule
    from chainrule.nn.parallel import DistributedDataParallel

    ddp = DistributedDataParallel(chainrule.nn.Linear(3, 2))
    theirs = torch.nn.Linear(3, 2)
    assert list(ddp.state_dict()) == ["module." + key for key in theirs.state_dict()]
    assert repr(ddp) == f"DistributedDataParallel(\n  (module): {theirs!r}\n)"
    assert ddp.module.weight is next(ddp.parameters())
    assert chainrule.nn.parallel.DistributedDataParallel is DistributedDataParallel
    ddp(chainrule.ones(4, 3)).sum().backward()
    np.testing.assert_allclose(ddp.module.weight.grad.numpy(), np.full((2, 3), 4.0))


def test_buckets_are_reduced_while_backward_runs(world_of_one):
    import types

    import chainrule
    from chainrule.nn.parallel import DistributedDataParallel

    events = []

    class RecordingComm:
        def __init__(self, comm):
            self.comm = comm

        def Iallreduce(self, *args):  # noqa: N802 - mpi4py's name
            events.append("all-reduce started")
            return self.comm.Iallreduce(*args)

    # the first bucket holds 1 MiB, as torch's: the last layer's 1.4 MB weight overflows it
    model = chainrule.nn.Sequential(chainrule.nn.Linear(600, 600), chainrule.nn.Linear(600, 600))
    # registered before DDP's own hooks, so it runs before the first layer's weight is ready
    model[0].weight.register_post_accumulate_grad_hook(lambda p: events.append("first layer's grad"))
    ddp = DistributedDataParallel(model, bucket_cap_mb=0.001)
    world = ddp.reducer.group
    ddp.reducer.group = types.SimpleNamespace(comm=RecordingComm(world.comm), size=world.size,
                                              rank=world.rank, timeout=world.timeout)
    ddp(chainrule.ones(2, 600)).sum().backward()
    assert len(ddp.reducer.buckets) == 4
    # the last layer's buckets were on their way before backward reached the first layer
    assert events[:2] == ["all-reduce started", "all-reduce started"]
    assert events.count("all-reduce started") == 4


@pytest.fixture
def torch_world_of_one(tmp_path):
    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    if not torch.distributed.is_available():
        pytest.skip("this torch has no torch.distributed")
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path}/store", rank=0,
                                         world_size=1)
    yield torch
    torch.distributed.destroy_process_group()


def grad_offsets(model) -> list:
    """Where each ``.grad`` starts, in elements after the lowest one (None: no gradient)."""
    pointers = [None if p.grad is None else p.grad.data_ptr() for p in model.parameters()]
    lowest = min(pointer for pointer in pointers if pointer is not None)
    return [None if pointer is None else (pointer - lowest) // 4 for pointer in pointers]


@pytest.mark.parametrize("as_view", [True, False])
def test_gradient_as_bucket_view_as_torch(world_of_one, torch_world_of_one, as_view):
    torch = torch_world_of_one
    import chainrule

    runs = {}
    for lib in (chainrule, torch):
        model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2))
        rng = np.random.default_rng(0)
        with lib.no_grad():
            for param in model.parameters():
                param.copy_(lib.tensor(rng.standard_normal(tuple(param.shape)), dtype=lib.float32))
        model[0].weight.grad = lib.full((4, 3), 2.0)
        ddp = lib.nn.parallel.DistributedDataParallel(model, gradient_as_bucket_view=as_view)
        seen = {"at construction": [None if p.grad is None else p.grad.tolist()
                                    for p in model.parameters()]}
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
        x = lib.arange(15.0).reshape(5, 3)
        for _ in range(2):  # torch lays its buckets out again after the first step
            optimizer.zero_grad()
            ddp(x).sum().backward()
        seen["offsets"] = grad_offsets(model)
        seen["views"] = [p.grad._base is not None for p in model.parameters()]
        optimizer.zero_grad(set_to_none=False)
        for _ in range(2):
            ddp(x).sum().backward()
        seen["accumulated in place"] = grad_offsets(model)
        seen["grads"] = [p.grad.tolist() for p in model.parameters()]
        runs[lib.__name__] = seen
    ours, theirs = runs["chainrule"], runs["torch"]
    if not as_view:  # separate allocations: where they land is up to the allocator
        for seen in (ours, theirs):
            del seen["offsets"], seen["accumulated in place"]
    # the gradients' values agree to rounding (BLAS sums in its own order); all else exactly
    for mine, other in zip(ours.pop("grads"), theirs.pop("grads")):
        np.testing.assert_allclose(mine, other, rtol=1e-6)
    assert ours == theirs


@pytest.mark.parametrize("as_view", [True, False])
def test_buckets_of_two_dtypes_give_a_plain_backwards_gradients(world_of_one, as_view):
    import chainrule
    from chainrule.nn.parallel import DistributedDataParallel

    class Mixed(chainrule.nn.Module):  # a float32 layer feeding a float64 one
        def __init__(self):
            super().__init__()
            chainrule.manual_seed(0)
            self.first = chainrule.nn.Linear(3, 4)
            self.second = chainrule.nn.Linear(4, 2).double()

        def forward(self, x):
            return self.second(self.first(x).double())

    plain, wrapped = Mixed(), Mixed()
    ddp = DistributedDataParallel(wrapped, gradient_as_bucket_view=as_view, bucket_cap_mb=1e-5)
    x = chainrule.randn(5, 3)
    for _ in range(2):  # the second backward accumulates (into the bucket views, with as_view)
        plain(x).sum().backward()
        ddp(x).sum().backward()
    for ours, theirs in zip(wrapped.parameters(), plain.parameters()):
        assert ours.grad.dtype == theirs.grad.dtype
        assert chainrule.equal(ours.grad, theirs.grad)
        assert (ours.grad._base is not None) == as_view
    assert len(ddp.reducer.buckets) == 3  # float64 [bias, weight] (the first, 1 MiB), then one each


def test_forwards_without_backward_are_fine_with_unused_parameters(world_of_one):
    import chainrule

    ddp = chainrule.nn.parallel.DistributedDataParallel(
        WithUnusedLayer(chainrule.nn.Linear(2, 2)), find_unused_parameters=True)
    x = chainrule.ones(3, 2)
    ddp(x)
    ddp(x)  # as in torch: no "Expected to have finished reduction" without a backward
    ddp(x).sum().backward()
    assert ddp.module.unused.weight.grad is None and ddp.module.body.weight.grad is not None


def test_wrapper_refusals(world_of_one):
    import chainrule
    from chainrule.nn.parallel import DistributedDataParallel

    frozen = chainrule.nn.Linear(3, 2).requires_grad_(False)
    with pytest.raises(RuntimeError, match="doesn't have any parameter that requires a gradient"):
        DistributedDataParallel(frozen)


def test_buckets_run_backwards_and_split_by_size_and_dtype():
    import chainrule
    from chainrule.distributed import reducer

    params = [chainrule.zeros(n, dtype=dtype) for n, dtype in
              [(10, chainrule.float32), (300_000, chainrule.float32), (10, chainrule.float32),
               (10, chainrule.float64), (10, chainrule.float64)]]
    # the first bucket holds 1 MiB (the 300_000 floats overflow it), later ones bucket_bytes
    assert reducer._bucket_indices(params, bucket_bytes=80) == [[4, 3], [2], [1], [0]]
    assert reducer._bucket_indices(params, bucket_bytes=2**30) == [[4, 3], [2, 1, 0]]


def test_reachable_leaves_are_the_leaves_the_outputs_graph_reaches():
    import chainrule
    from chainrule.distributed.reducer import reachable_leaves

    a, b, unused, direct = (chainrule.ones(2, requires_grad=True) for _ in range(4))
    shared = a * 2
    outputs = {"loss": (shared + b).sum(), "more": [shared.mean(), (direct, unused.detach())]}
    assert reachable_leaves(outputs) == {id(a), id(b), id(direct)}


def test_needs_a_process_group():
    import chainrule
    from chainrule.nn.parallel import DistributedDataParallel

    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedDataParallel(chainrule.nn.Linear(3, 2))


def test_data_parallel_forwards_to_the_module():
    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    import chainrule

    linear = chainrule.nn.Linear(3, 2)
    model = chainrule.nn.DataParallel(linear)
    theirs = torch.nn.DataParallel(torch.nn.Linear(3, 2))
    assert repr(model) == repr(theirs) and model.device_ids == theirs.device_ids == []
    assert list(model.state_dict()) == list(theirs.state_dict())
    x = chainrule.randn(5, 3)
    assert chainrule.equal(model(x), linear(x))


if __name__ == "__main__":
    sys.exit(rank_main())
