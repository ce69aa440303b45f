"""Launching ranks (``python -m chainrule.distributed.run`` and plain ``mpiexec``) and faults:
a rank that raises, exits non-zero or is killed stops every rank within seconds, one line
names it, and no process is left behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time

import pytest
from distributed_support import mpi_run, mpiexec, rank_environment

LIMIT = 30  # seconds: a hung rank would blow through it


def launch(tmp_path, body: str, nproc: int = 2, *args: str) -> subprocess.CompletedProcess:
    mpiexec()  # skips without mpi4py
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body))
    command = [sys.executable, "-m", "chainrule.distributed.run", "--nproc_per_node", str(nproc),
               str(script), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=LIMIT,
                          env=rank_environment(), cwd=tmp_path)


def assert_all_gone(output: str) -> None:
    pids = [int(pid) for pid in re.findall(r"pid (\d+)", output)]
    assert pids, output
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids), f"processes left behind: {pids}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone for our purposes
        return stat.read().split(") ")[1][0] != "Z"


TORCH_SCRIPT = """
import os, sys
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

dist.init_process_group("gloo")
assert torch.__name__ == "torch" and dist.is_initialized()
rank = dist.get_rank()
t = torch.tensor([float(rank + 1)])
dist.all_reduce(t)
model = DistributedDataParallel(torch.nn.Linear(2, 1))
indices = list(DistributedSampler(range(6), shuffle=False))
with open(f"out.{rank}", "w") as out:  # ranks' stdout lines may interleave: one file each
    out.write(f"rank {rank} local {os.environ['LOCAL_RANK']} of {os.environ['WORLD_SIZE']} "
              f"sum {t.item()} indices {indices} args {sys.argv[1:]} master "
              f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}")
dist.destroy_process_group()
"""


def test_launcher_runs_a_torch_script_on_chainrule(tmp_path):
    result = launch(tmp_path, TORCH_SCRIPT, 2, "--epochs", "3")
    assert result.returncode == 0, result.stderr
    lines = [(tmp_path / f"out.{rank}").read_text() for rank in (0, 1)]
    assert lines == [
        "rank 0 local 0 of 2 sum 3.0 indices [0, 2, 4] args ['--epochs', '3'] master 127.0.0.1:29500",
        "rank 1 local 1 of 2 sum 3.0 indices [1, 3, 5] args ['--epochs', '3'] master 127.0.0.1:29500"]


FAILING_SCRIPT = """
import os, signal, sys, time
import torch
import torch.distributed as dist

dist.init_process_group("gloo")
print(f"rank {dist.get_rank()} pid {os.getpid()}", flush=True)
dist.barrier()
if dist.get_rank() == 1:
    HOW
dist.barrier()  # the other ranks wait here for a rank that never comes
time.sleep(60)
"""


@pytest.mark.parametrize("how, verdict", [
    ("raise ValueError('boom')", re.escape(
        "chainrule.distributed: rank 1 of 3 failed with ValueError: boom; stopping every rank")),
    ("sys.exit(3)", re.escape("chainrule.distributed: rank 1 of 3 failed with SystemExit: the "
                              "script exited with status 3; stopping every rank")),
    ("os.kill(os.getpid(), signal.SIGKILL)",
     # mpiexec's exit string describes the rank it reported: sometimes not the first to die
     r"chainrule.distributed.run: rank 1 of 3 failed \((Killed \(signal 9\)|its process ended; "
     r"mpiexec's exit status 9)\); every rank was stopped"),
])
def test_a_failing_rank_stops_every_rank(tmp_path, how, verdict):
    start = time.monotonic()
    result = launch(tmp_path, FAILING_SCRIPT.replace("HOW", how), 3)
    assert time.monotonic() - start < LIMIT
    assert result.returncode != 0
    verdicts = [line for line in result.stderr.splitlines() if "failed" in line]
    assert len(verdicts) == 1 and re.fullmatch(verdict, verdicts[0]), result.stderr
    assert "BAD TERMINATION" not in result.stderr and "MPI_Abort" not in result.stderr
    assert_all_gone(result.stdout)


def test_plain_mpiexec_stops_every_rank_on_an_exception(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(FAILING_SCRIPT.replace("HOW", "raise KeyError('lost')"))
                      .replace("import torch\n", "import chainrule as torch\n")
                      .replace("import torch.distributed", "import chainrule.distributed"))
    result = mpi_run(2, str(script), timeout=LIMIT)
    assert result.returncode != 0
    assert "chainrule.distributed: rank 1 of 2 failed with KeyError: 'lost'; stopping every rank" \
        in result.stderr
    assert_all_gone(result.stdout)


def test_a_collective_times_out(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""
        import time
        from datetime import timedelta
        import chainrule as torch, chainrule.distributed as dist

        dist.init_process_group("mpi", timeout=timedelta(seconds=0.5))
        if dist.get_rank() == 0:
            try:
                dist.all_reduce(torch.ones(1))
            except dist.DistBackendError as error:
                print("rank 0:", error, flush=True)
        else:
            time.sleep(1.5)
            dist.all_reduce(torch.ones(1))  # completes the one rank 0 gave up on
        dist.barrier(async_op=True).wait(timeout=timedelta(seconds=20))
        dist.destroy_process_group()
    """))
    result = mpi_run(2, str(script), timeout=LIMIT)
    assert result.returncode == 0, result.stderr
    assert "rank 0: Timed out waiting 500ms for ProcessGroupMPI::allreduce to complete" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--nnodes", "2"], "--nnodes 2 is not supported: start the ranks of several machines with "
                        "`mpiexec -f HOSTFILE"),
    ([], "can't open file 'missing.py': no such file"),
])
def test_launcher_refusals(tmp_path, args, message):
    command = [sys.executable, "-m", "chainrule.distributed.run", *args, "missing.py"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=LIMIT,
                            env=rank_environment(), cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr


def test_launcher_runs_a_module(tmp_path):
    mpiexec()
    (tmp_path / "hello_ranks.py").write_text(
        "import os, sys\n"
        "open(f\"out.{os.environ['RANK']}\", 'w').write(' '.join(sys.argv[1:]))\n")
    command = [sys.executable, "-m", "chainrule.distributed.run", "--nproc-per-node", "2", "-m",
               "hello_ranks", "a", "b"]
    env = rank_environment()
    env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{env['PYTHONPATH']}"
    result = subprocess.run(command, capture_output=True, text=True, timeout=LIMIT, env=env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [(tmp_path / f"out.{rank}").read_text() for rank in (0, 1)] == ["a b", "a b"]


def test_chainrule_command_on_ranks(tmp_path):
    mpiexec()
    script = tmp_path / "script.py"
    script.write_text("import os, sys, torch\n"
                      "open(f\"out.{os.environ['RANK']}\", 'w').write(f'{torch.__name__} {sys.argv[1:]}')\n")
    code = ("import sys; from chainrule.distributed.run import launch_cli; "
            f"sys.exit(launch_cli(2, ['run', '--nproc', '2', {str(script)!r}, '--x']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=LIMIT, env=rank_environment(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [(tmp_path / f"out.{rank}").read_text() for rank in (0, 1)] == ["torch ['--x']"] * 2


def test_liveness_watcher_names_the_first_rank_to_die(tmp_path):
    import socket

    from chainrule.distributed._liveness import Watcher

    def connect(rank: int) -> socket.socket:
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(str(tmp_path / "alive.sock"))
        client.sendall(f"{rank}\n".encode())
        return client

    with Watcher(str(tmp_path / "alive.sock")) as watcher:
        clients = [connect(rank) for rank in range(3)]
        clients[0].sendall(b"done\n")  # a rank that ended normally is no failure
        clients[0].close()
        time.sleep(0.2)
        clients[2].close()  # a death without goodbye
        time.sleep(0.2)
        clients[1].close()
        time.sleep(0.2)
    assert [rank for _, rank in watcher.deaths] == [2, 1]
    assert watcher.first_failed() == 2


class ParkableSelect:
    """Patches the watcher's selector so a test can park the watcher thread between two of its
    wake-ups, as a starved thread would be, and choose what the parked wake-up returns."""

    def __init__(self, monkeypatch) -> None:
        import selectors
        import threading

        self.real_select = selectors.EpollSelector.select
        self.selectors: list = []
        self.gate, self.parked = threading.Event(), threading.Event()
        self.gate.set()
        self.return_nothing = False
        monkeypatch.setattr(selectors.EpollSelector, "select",
                            lambda selector, timeout=None: self._select(selector, timeout))

    def _select(self, selector, timeout):
        self.selectors.append(selector)
        if not self.gate.is_set():
            self.parked.set()
            self.gate.wait()
            if self.return_nothing:  # as a timeout that saw nothing would
                return []
        return self.real_select(selector, timeout)

    def park_after_rank_lines(self, count: int) -> None:
        deadline = time.monotonic() + LIMIT
        while self._rank_lines_read() < count and time.monotonic() < deadline:
            time.sleep(0.01)
        self.gate.clear()
        assert self.parked.wait(LIMIT)

    def _rank_lines_read(self) -> int:
        keys = self.selectors[-1].get_map().values() if self.selectors else []
        return sum(1 for key in keys if key.data and key.data.text.endswith(b"\n"))


def connect_ranks(path, count: int) -> list:
    import socket

    clients = []
    for rank in range(count):
        clients.append(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        clients[-1].connect(str(path))
        clients[-1].sendall(f"{rank}\n".encode())
    return clients


needs_epoll = pytest.mark.skipif(not hasattr(__import__("selectors"), "EpollSelector"),
                                 reason="the watcher's order within a batch needs Linux's epoll")


@needs_epoll
def test_liveness_watcher_orders_deaths_seen_in_one_batch(tmp_path, monkeypatch):
    # Under load the watcher thread may wake only after mpiexec has killed the other ranks:
    # every death then arrives in one batch, and epoll lists them in the order they happened.
    from chainrule.distributed._liveness import Watcher

    select = ParkableSelect(monkeypatch)
    with Watcher(str(tmp_path / "alive.sock")) as watcher:
        clients = connect_ranks(tmp_path / "alive.sock", 3)
        select.park_after_rank_lines(3)
        for rank in (1, 2, 0):
            clients[rank].close()
        select.gate.set()
        deadline = time.monotonic() + LIMIT
        while len(watcher.deaths) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert [rank for _, rank in watcher.deaths] == [1, 2, 0]
    assert len({batch for batch, _ in watcher.deaths}) == 1
    assert watcher.first_failed() == 1


@needs_epoll
def test_liveness_watcher_reads_every_death_before_it_stops(tmp_path, monkeypatch):
    # A watcher starved until mpiexec has exited (and the launcher has told it to stop) must
    # still see the deaths: without them the verdict falls back on mpiexec's report, which
    # may name a rank that mpiexec killed.
    from chainrule.distributed._liveness import Watcher

    select = ParkableSelect(monkeypatch)
    watcher = Watcher(str(tmp_path / "alive.sock")).__enter__()
    clients = connect_ranks(tmp_path / "alive.sock", 3)
    select.park_after_rank_lines(3)
    for rank in (2, 0, 1):
        clients[rank].close()
    select.return_nothing = True
    watcher._stop.set()  # the first half of __exit__, while the thread is still parked
    select.gate.set()
    watcher.__exit__(None, None, None)
    assert [rank for _, rank in watcher.deaths] == [2, 0, 1]
    assert watcher.first_failed() == 2


@pytest.mark.skipif(not hasattr(__import__("os"), "pidfd_open"), reason="needs Linux's pidfd")
def test_liveness_watcher_times_a_death_by_the_process_not_its_socket(tmp_path):
    # The end of a rank's process is its death, even while its connection stays open: here a
    # forked child inherits rank 1's connection, as a fork-started DataLoader worker would.
    import signal

    from chainrule.distributed._liveness import SOCKET_ENV, Watcher

    rank_code = textwrap.dedent("""
        import os, sys, time
        from chainrule.distributed import _liveness
        _liveness.announce(int(sys.argv[1]))
        if sys.argv[1] == "1":
            os.fork()  # the child lingers with the connection, as the parent does
        os.write(1, f"ready {os.getpid()}\\n".encode())  # one write: rank 1's two lines stay whole
        time.sleep(600)  # until the test kills it
    """)
    env = {**rank_environment(), SOCKET_ENV: str(tmp_path / "alive.sock")}
    ranks, lingering = [], []

    def watched_processes() -> int:
        links = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                links.append(os.readlink(f"/proc/self/fd/{fd}"))
            except FileNotFoundError:  # listdir's own descriptor, closed since
                pass
        return links.count("anon_inode:[pidfd]")

    with Watcher(str(tmp_path / "alive.sock")) as watcher:
        try:
            for rank in range(3):
                ranks.append(subprocess.Popen([sys.executable, "-c", rank_code, str(rank)],
                                              env=env, stdout=subprocess.PIPE, text=True))
            lines = [rank.stdout.readline() for rank in ranks for _ in range(1 + (rank is ranks[1]))]
            lingering = [int(line.split()[1]) for line in lines
                         if int(line.split()[1]) not in {rank.pid for rank in ranks}]
            deadline = time.monotonic() + LIMIT
            while watched_processes() < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            for rank in (ranks[1], ranks[2]):
                rank.kill()
                rank.wait()
            deadline = time.monotonic() + LIMIT
            while len(watcher.deaths) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert [rank for _, rank in watcher.deaths] == [1, 2]
        finally:
            for rank in ranks:
                rank.kill()
                rank.wait()
            for pid in lingering:
                os.kill(pid, signal.SIGKILL)
