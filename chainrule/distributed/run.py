"""Start N ranks of a script, torchrun-style: ``python -m chainrule.distributed.run
--nproc_per_node N SCRIPT.py [ARGS]``.

The ranks are MPI processes started by ``mpiexec``; each runs the script with chainrule standing
in for torch (as ``chainrule run`` does) and torchrun's variables set (``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``). When a rank fails, every
rank is stopped and one line names the failed rank; the exit status is non-zero.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence

from chainrule._optional import install_command
from chainrule.distributed._liveness import SOCKET_ENV, Watcher
from chainrule.distributed.faults import STATUS_DIR

__all__ = ["find_mpiexec", "launch", "launch_cli", "main"]

# mpiexec's (MPICH Hydra's) multi-line report of a rank that died: we replace it by one line.
_BANNER_LINE = re.compile(r"^(=+|=  .*|YOUR APPLICATION TERMINATED WITH THE EXIT STRING: .*|"
                          r"This typically refers to a problem with your application\.|"
                          r"Please see the FAQ page for debugging suggestions|"
                          r"Abort\(\d+\) on node \d+.*MPI_Abort.*)\s*$")
_BANNER_PID = re.compile(r"^=\s+PID (\d+) RUNNING AT")
_EXIT_STRING = re.compile(r"EXIT STRING: (.*)$")


def find_mpiexec() -> str:
    """The ``mpiexec`` of the running interpreter's environment, else the one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("mpiexec")
    if found:
        return found
    raise FileNotFoundError("chainrule.distributed needs MPI's mpiexec, which was not found: "
                            f"run {install_command('distributed')}")


def _relay(stream, sink, notable: list[str]) -> None:
    """Copy the ranks' output line by line, keeping mpiexec's failure report out of it; that
    report's lines and the ranks' own verdicts go to ``notable``."""
    held_blank = None  # mpiexec's report starts with a blank line: hold blank lines until we know
    for line in stream:
        if line.startswith("chainrule.distributed: rank "):
            notable.append(line)  # a rank's own verdict: the launcher need not repeat it
        if _BANNER_LINE.match(line):
            notable.append(line)
            held_blank = None
            continue
        if held_blank is not None:
            sink.write(held_blank)
            held_blank = None
        if line.strip():
            sink.write(line)
            sink.flush()
        else:
            held_blank = line
    if held_blank is not None:
        sink.write(held_blank)
    sink.flush()


def _rank_of_pid(status_dir: str, pid: int) -> int | None:
    for name in os.listdir(status_dir):
        if name.startswith("pid."):
            with open(os.path.join(status_dir, name)) as note:
                if note.read().strip() == str(pid):
                    return int(name.split(".")[1])
    return None


def _verdict(status_dir: str, nproc: int, returncode: int, notable: list[str],
             first_failed: int | None) -> str | None:
    """The one line that says which rank failed, unless the failed rank said it already.
    ``first_failed`` is the rank whose process ended first (None: unknown)."""
    notes = sorted(name for name in os.listdir(status_dir) if name.startswith("failed."))
    if notes:
        with open(os.path.join(status_dir, notes[0])) as note:
            line = note.read()
        return None if any(line in seen for seen in notable) else line
    pids = [int(m.group(1)) for line in notable if (m := _BANNER_PID.match(line))]
    reported = [rank for rank in (_rank_of_pid(status_dir, pid) for pid in pids) if rank is not None]
    how = next((m.group(1) for line in notable if (m := _EXIT_STRING.search(line))), None)
    if first_failed is not None:
        who = f"rank {first_failed}"
        # mpiexec's exit string describes the process it reported, maybe another one
        how = how if reported[:1] == [first_failed] else None
    else:
        who = f"rank {reported[0]}" if reported else "a rank"
    how = how or f"its process ended; mpiexec's exit status {returncode}"
    return f"chainrule.distributed.run: {who} of {nproc} failed ({how}); every rank was stopped"


def launch(nproc: int, argv: Sequence[str], master_addr: str = "127.0.0.1",
           master_port: int = 29500) -> int:
    """Run ``argv`` as ``nproc`` ranks and return the exit status: ``[SCRIPT.py, *ARGS]`` runs
    the script with chainrule standing in for torch; ``["-m", MODULE, *ARGS]`` runs a module as
    ``python -m`` does (``["-m", "chainrule", "train", ...]``)."""
    if nproc < 1:
        raise ValueError(f"nproc must be a positive number of ranks, got {nproc}")
    mpiexec = find_mpiexec()
    with tempfile.TemporaryDirectory(prefix="chainrule-ranks-") as status_dir:
        alive = os.path.join(status_dir, "alive.sock")
        env = {**os.environ, "WORLD_SIZE": str(nproc), "LOCAL_WORLD_SIZE": str(nproc),
               "MASTER_ADDR": master_addr, "MASTER_PORT": str(master_port), STATUS_DIR: status_dir,
               SOCKET_ENV: alive}
        command = [mpiexec, "-n", str(nproc), sys.executable, "-m", "chainrule.distributed._rank",
                   *argv]
        with Watcher(alive) as watcher:
            process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, errors="replace")
            previous = signal.signal(signal.SIGTERM,
                                     lambda *_: process.send_signal(signal.SIGTERM))
            notable: list[str] = []
            relays = [threading.Thread(target=_relay, args=(stream, sink, notable), daemon=True)
                      for stream, sink in ((process.stdout, sys.stdout),
                                           (process.stderr, sys.stderr))]
            try:
                for relay in relays:
                    relay.start()
                returncode = process.wait()
                for relay in relays:
                    relay.join()
            finally:
                signal.signal(signal.SIGTERM, previous)
        if returncode != 0:
            verdict = _verdict(status_dir, nproc, returncode, notable, watcher.first_failed())
            if verdict:
                print(verdict, file=sys.stderr, flush=True)
        return returncode


def launch_cli(nproc: int, argv: Sequence[str]) -> int:
    """``chainrule ARGV`` on ``nproc`` ranks: the ``chainrule`` command's ``--nproc N`` (for
    ``chainrule run`` and ``chainrule train``) lands here with the command line as typed, minus
    the program name; each rank runs ``python -m chainrule ARGV`` without the ``--nproc`` option.
    A failure every rank met in step (see ``chainrule.cli.ranks.agreed_exit``) returns rank 0's
    exit status after rank 0's one line.

    >>> _without_nproc(["train", "--nproc", "2", "--epochs", "3"])
    ['train', '--epochs', '3']
    """
    from chainrule.cli.ranks import EXIT_STATUS_FILE

    with tempfile.TemporaryDirectory(prefix="chainrule-cli-") as folder:
        status_file = os.path.join(folder, "exit-status")
        saved = os.environ.get(EXIT_STATUS_FILE)
        os.environ[EXIT_STATUS_FILE] = status_file
        try:
            status = launch(nproc, ["-m", "chainrule", *_without_nproc(argv)])
        finally:
            os.environ.pop(EXIT_STATUS_FILE)
            if saved is not None:
                os.environ[EXIT_STATUS_FILE] = saved
        if status == 0 and os.path.exists(status_file):  # a failure every rank agreed on
            with open(status_file) as note:
                status = int(note.read())
        return status


def _without_nproc(argv: Sequence[str]) -> list[str]:
    argv = list(argv)
    for index, arg in enumerate(argv):
        if arg == "--nproc":
            return argv[:index] + argv[index + 2:]
        if arg.startswith("--nproc="):
            return argv[:index] + argv[index + 1:]
    return argv


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chainrule.distributed.run",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--nproc_per_node", "--nproc-per-node", type=int, default=1)
    parser.add_argument("--nnodes", default="1", help="only 1: for more machines, run mpiexec "
                        "with a host file on `python SCRIPT.py`")
    parser.add_argument("--node_rank", "--node-rank", type=int, default=0)
    parser.add_argument("--master_addr", "--master-addr", default="127.0.0.1")
    parser.add_argument("--master_port", "--master-port", type=int, default=29500)
    parser.add_argument("--standalone", action="store_true")
    parser.add_argument("-m", "--module", action="store_true",
                        help="run SCRIPT as a module (python -m SCRIPT), without the torch shim")
    parser.add_argument("--cuda-as-cpu", action="store_true",
                        help="chainrule's own: cuda devices mean the CPU (as `chainrule run "
                             "--cuda-as-cpu`), for scripts that put each rank on cuda:LOCAL_RANK")
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.nnodes not in ("1", "1:1"):
        print(f"chainrule.distributed.run: --nnodes {args.nnodes} is not supported: start the "
              f"ranks of several machines with `mpiexec -f HOSTFILE -n N python {args.script}`",
              file=sys.stderr)
        return 2
    if args.module:
        return launch(args.nproc_per_node, ["-m", args.script, *args.args], args.master_addr,
                      args.master_port)
    if not os.path.isfile(args.script):
        print(f"chainrule.distributed.run: can't open file '{args.script}': no such file",
              file=sys.stderr)
        return 2
    argv = [args.script, *args.args]
    if args.cuda_as_cpu:  # each rank runs `python -m chainrule run --cuda-as-cpu SCRIPT ...`
        argv = ["-m", "chainrule", "run", "--cuda-as-cpu", *argv]
    return launch(args.nproc_per_node, argv, args.master_addr, args.master_port)


if __name__ == "__main__":
    sys.exit(main())
