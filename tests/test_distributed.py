"""chainrule.distributed in one process: a world of one, torch's errors, the optional dependency."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import numpy as np
import pytest
from conftest import require_torch
from distributed_support import rank_environment

import chainrule
import chainrule.distributed as dist
from chainrule.distributed import faults


@pytest.fixture
def mpi4py():
    return pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install chainrule[distributed])")


@pytest.fixture
def world(mpi4py):
    dist.init_process_group("gloo", timeout=timedelta(seconds=20))
    yield dist.group.WORLD
    if dist.is_initialized():
        dist.destroy_process_group()


def test_world_of_one(world):
    assert dist.is_available() and dist.is_initialized()
    assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (0, 1, "gloo")
    assert dist.GroupMember.WORLD is world and world.timeout == 20
    # nobody to stop in a world of one: an error must not abort (an interactive) Python
    assert sys.excepthook is not faults._abort_hook
    t = chainrule.tensor([1.0, 2.0])
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.PRODUCT):
        dist.all_reduce(t, op=op)
    assert t.tolist() == [1.0, 2.0]
    work = dist.broadcast(t, src=0, async_op=True)
    assert isinstance(work, dist.Work) and work.wait() and work.is_completed()
    objects = [None]
    dist.all_gather_object(objects, {"a": 1})
    assert objects == [{"a": 1}]
    dist.destroy_process_group()
    assert not dist.is_initialized()


def test_not_initialized_matches_torch():
    torch = require_torch()
    for name in ("get_rank", "get_world_size", "get_backend", "barrier"):
        with pytest.raises(ValueError) as theirs:
            getattr(torch.distributed, name)()
        with pytest.raises(ValueError) as ours:
            getattr(dist, name)()
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="has not been initialized"):
        dist.all_reduce(chainrule.ones(2))
    assert not dist.is_initialized()


def test_reduce_op_matches_torch():
    torch = require_torch()
    assert [op.name for op in dist.ReduceOp.RedOpType] == list(torch.distributed.ReduceOp.RedOpType.__members__)
    for name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX"):
        ours, theirs = getattr(dist.ReduceOp, name), getattr(torch.distributed.ReduceOp, name)
        assert (repr(ours), int(ours)) == (repr(theirs), int(theirs))
    assert issubclass(dist.DistBackendError, dist.DistError) and issubclass(dist.DistError, RuntimeError)


@pytest.mark.parametrize("backend, expected", [("mpi", "mpi"), ("GLOO", "gloo"), (None, "undefined"),
                                               ("cpu:gloo", "cpu:gloo")])
def test_backends(mpi4py, backend, expected):
    dist.init_process_group(backend)
    try:
        assert dist.get_backend() == expected
        with pytest.raises(ValueError, match="trying to initialize the default process group twice!"):
            dist.init_process_group(backend)
    finally:
        dist.destroy_process_group()


def test_refused_backends(mpi4py):
    with pytest.raises(RuntimeError, match="Distributed package doesn't have NCCL built in: chainrule "
                                           "runs on CPUs, use backend='gloo' or 'mpi'"):
        dist.init_process_group("nccl")
    with pytest.raises(AssertionError, match="Unknown backend type foo"):
        dist.init_process_group("foo")
    assert not dist.is_initialized()


def test_world_must_match_the_processes(mpi4py, monkeypatch):
    with pytest.raises(RuntimeError, match=r"world_size 2 needs 2 processes started together by MPI: "
                                           r"run `mpiexec -n 2 python SCRIPT.py`"):
        dist.init_process_group("gloo", world_size=2, rank=0)
    with pytest.raises(ValueError, match="rank 1 is out of range for world_size 1"):
        dist.init_process_group("gloo", world_size=1, rank=1)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(RuntimeError, match="world_size 4 needs 4 processes"):
        dist.init_process_group("gloo", init_method="env://")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    monkeypatch.setenv("LOCAL_RANK", "0")
    dist.init_process_group("gloo", init_method="env://")
    assert dist.get_world_size() == 1
    dist.destroy_process_group()
    assert not dist.is_initialized()


def test_argument_errors_match_torchs_messages(world):
    with pytest.raises(RuntimeError, match=r"^ProcessGroupGloo::broadcast: invalid root rank: 3$"):
        dist.broadcast(chainrule.ones(2), src=3)
    with pytest.raises(RuntimeError, match=r"ProcessGroupGloo::allgather: invalid tensor size at "
                                           r"index 0 \(expected \(3\), got \(2\)\)"):
        dist.all_gather([chainrule.zeros(2)], chainrule.ones(3))
    with pytest.raises(RuntimeError, match="allgather: tensor_list has 2 tensors, expected 1"):
        dist.all_gather([chainrule.zeros(3)] * 2, chainrule.ones(3))
    with pytest.raises(ValueError, match="Argument ``gather_list`` must be specified on destination rank."):
        dist.gather(chainrule.ones(2))
    with pytest.raises(ValueError, match="Argument ``scatter_list`` must be specified on source rank."):
        dist.scatter(chainrule.ones(2))
    with pytest.raises(RuntimeError, match=r"output tensor size must be equal to world_size times "
                                           r"input tensor size \(output \(3,\)"):
        dist.all_gather_into_tensor(chainrule.zeros(3), chainrule.ones(2))
    with pytest.raises(ValueError, match="object_list has 2 slots but the group has 1 ranks"):
        dist.all_gather_object([None, None], 1)
    with pytest.raises(ValueError, match=r"split sizes \[1, 1\] must be 1 numbers adding up to its 3 rows"):
        dist.all_to_all_single(chainrule.zeros(3), chainrule.zeros(3), input_split_sizes=[1, 1])
    with pytest.raises(ValueError, match="object_gather_list must have one slot per rank"):
        dist.gather_object(1)
    with pytest.raises(ValueError, match="Expected argument scatter_object_output_list to be a list"):
        dist.scatter_object_list([], [1])
    with pytest.raises(ValueError, match="destination rank should not be the same"):
        dist.send(chainrule.ones(1), dst=0)
    with pytest.raises(ValueError, match="reduce op .*PREMUL_SUM.* is not supported"):
        dist.all_reduce(chainrule.ones(1), op=dist.ReduceOp.PREMUL_SUM)
    with pytest.raises(ValueError, match="reduce op .*AVG.* is not supported .* for bool"):
        dist.all_reduce(chainrule.ones(1, dtype=chainrule.bool), op=dist.ReduceOp.AVG)


def test_wait_times_out(world):
    inbox = chainrule.zeros(2)
    work = dist.irecv(inbox, src=0)
    with pytest.raises(dist.DistBackendError, match=r"Timed out waiting 200ms for ProcessGroupGloo::recv"):
        work.wait(timeout=timedelta(seconds=0.2))
    assert not work.is_completed()
    world.comm.Send(np.array([3.0, 4.0], dtype=np.float32), dest=0)  # the message it waited for, so nothing dangles
    assert work.wait() and inbox.tolist() == [3.0, 4.0]


def test_groups_in_a_world_of_one(world):
    solo = dist.new_group([0])
    assert dist.get_rank(solo) == 0 and dist.get_process_group_ranks(solo) == [0]
    assert dist.get_global_rank(solo, 0) == 0 and dist.get_group_rank(solo, 0) == 0
    with pytest.raises(ValueError, match="Invalid rank 1 for new_group"):
        dist.new_group([0, 1])
    dist.destroy_process_group(solo)
    assert dist.is_initialized()


def test_without_mpi4py_it_imports_and_says_what_to_install():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "import chainrule.distributed as dist\n"
            "print(dist.is_available())\n"
            "dist.init_process_group('gloo')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=rank_environment(), timeout=60)
    assert result.stdout == "False\n"
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: chainrule.distributed needs the optional package 'mpi4py': run ")
    assert last.endswith('-m pip install "chainrule[distributed]"')
