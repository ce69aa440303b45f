"""``chainrule run --cuda-as-cpu``: a script that insists on ``cuda:N`` devices (nanoGPT's DDP
path) runs on the CPU when asked, and fails as CPU-only torch does when not."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
from distributed_support import mpiexec, rank_environment

# nanoGPT's train.py, reduced to its device and DDP lines
NANOGPT_LIKE = textwrap.dedent("""\
    import os
    import torch
    from torch.distributed import init_process_group, destroy_process_group
    from torch.nn.parallel import DistributedDataParallel as DDP

    init_process_group(backend="gloo")
    rank, local_rank = int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0))
    device = f"cuda:{local_rank}"
    torch.cuda.set_device(device)
    assert not torch.cuda.is_available()
    model = DDP(torch.nn.Linear(4, 2).to(device), device_ids=[local_rank])
    x = torch.ones(3, 4).pin_memory().to(device, non_blocking=True) * (rank + 1)
    model(x).sum().backward()
    print(f"rank {rank}: gradient sum {model.module.weight.grad.sum().item():.1f} on {x.device}")
    destroy_process_group()
""")


def chainrule_run(tmp_path, *args: str, launcher: str = "chainrule run") -> subprocess.CompletedProcess:
    mpiexec()  # skips without mpi4py
    (tmp_path / "train.py").write_text(NANOGPT_LIKE)
    module = {"chainrule run": ["chainrule", "run"], "torchrun": ["chainrule.distributed.run"]}
    return subprocess.run([sys.executable, "-m", *module[launcher], *args, "train.py"],
                          capture_output=True, text=True, timeout=60, env=rank_environment(),
                          cwd=tmp_path)


@pytest.mark.parametrize("launcher, args", [
    ("chainrule run", ["--nproc", "2", "--cuda-as-cpu"]),
    ("torchrun", ["--nproc_per_node", "2", "--cuda-as-cpu"]),
])
def test_cuda_devices_run_on_the_cpu_when_asked(tmp_path, launcher, args):
    result = chainrule_run(tmp_path, *args, launcher=launcher)
    assert result.returncode == 0, result.stderr
    # rank r alone would find a gradient sum of 24 (r + 1); DDP averages them: 36 on both
    # the launcher forwards both ranks' output to one pipe: their lines may run into each other
    assert sorted(re.findall(r"rank \d: gradient sum [0-9.]+ on (?:cpu|cuda:\d+|cuda)", result.stdout)) == [
        "rank 0: gradient sum 36.0 on cpu", "rank 1: gradient sum 36.0 on cpu"]


def test_without_the_option_set_device_fails_as_in_cpu_only_torch(tmp_path):
    result = chainrule_run(tmp_path)
    assert result.returncode == 1
    assert result.stderr.rstrip().endswith(
        "AttributeError: module 'torch._C' has no attribute '_cuda_setDevice'"), result.stderr


def test_the_mapping_holds_only_inside_its_context():
    import chainrule
    from chainrule._device import cuda_as_cpu

    with cuda_as_cpu():
        assert chainrule.zeros(2, device="cuda:1").device == chainrule.device("cpu")
        assert chainrule.nn.Linear(2, 2).to("cuda").weight.device == chainrule.device("cpu")
        assert chainrule.ones(1).cuda().device == chainrule.device("cpu")
        assert not chainrule.cuda.is_available()
        with cuda_as_cpu(False):  # an inner "no" does not undo the outer "yes"
            chainrule.cuda.set_device(0)
    with pytest.raises(RuntimeError, match="device 'cuda:0' is not available"):
        chainrule.zeros(2, device="cuda:0")
    with cuda_as_cpu(False), pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        chainrule.ones(1).to("cuda")


@pytest.mark.parametrize("argument", ["cuda:1", 0, -1, "cuda", "cpu", 1.5])
def test_set_device_answers_as_cpu_only_torch(argument):
    torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
    import chainrule

    outcomes = []
    for lib in (chainrule, torch):
        value = lib.device(argument) if argument == "cpu" else argument
        try:
            outcomes.append(lib.cuda.set_device(value))
        except Exception as error:  # noqa: BLE001 - the type and words are what is compared
            outcomes.append((type(error).__name__, str(error)))
    assert outcomes[0] == outcomes[1]
