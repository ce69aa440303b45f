"""``chainrule train --nproc 2`` and ``chainrule run --nproc 2``: the ranks train (or run the
script) together, rank 0 alone writes and prints, and a failure is one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest
from distributed_support import mpiexec, rank_environment

LIMIT = 60  # seconds: a hung rank would blow through it


def chainrule(tmp_path, *args: str) -> subprocess.CompletedProcess:
    mpiexec()  # skips without mpi4py
    return subprocess.run([sys.executable, "-m", "chainrule", *args], capture_output=True,
                          text=True, timeout=LIMIT, env=rank_environment(), cwd=tmp_path)


def test_train_on_two_ranks_writes_one_run_folder_and_resumes(tmp_path):
    result = chainrule(tmp_path, "train", "--nproc", "2", "--epochs", "2", "--run-dir", "run",
                       "--no-progress")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("epoch 1/2") == 1 and result.stdout.count("test accuracy") == 1
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["test_accuracy"] > 0.8, summary
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert {"config.json", "log.csv", "model.pt", "train_state.pt", "loss.png"} <= \
        {p.name for p in (tmp_path / "run").iterdir()}

    resumed = chainrule(tmp_path, "train", "--nproc", "2", "--resume", "run", "--epochs", "3",
                        "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert "epoch 3/3" in resumed.stdout and "epoch 2/3" not in resumed.stdout
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows] == ["epoch", "1", "2", "3"]


@pytest.mark.parametrize("args, status, message", [
    (["--run-dir", "taken"], 2, "chainrule: error: run folder 'taken' already holds a run"),
    (["--run-dir", "diverges", "--optimizer", "sgd", "--lr", "1e6"], 1,
     "chainrule: error: training diverged: the loss is nan at epoch 1, batch "),
])
def test_a_failure_every_rank_meets_is_one_line(tmp_path, args, status, message):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "summary.json").write_text("{}")
    result = chainrule(tmp_path, "train", "--nproc", "2", "--epochs", "1", "--no-progress", *args)
    assert result.returncode == status
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(message), result.stderr


@pytest.mark.parametrize("args, message", [
    (["train", "--nproc", "0"], "chainrule: error: argument --nproc: expected a positive "
                                "integer, got '0'\n"),
    (["run", "--nproc", "2", "missing.py"], "chainrule: error: run: no such script "
                                            "'missing.py'\n"),
])
def test_bad_nproc_arguments_fail_before_launching(tmp_path, args, message):
    result = chainrule(tmp_path, *args)
    assert result.returncode == 2 and result.stderr == message


def test_without_mpiexec_the_error_names_the_pip_command(monkeypatch, capsys):
    from chainrule import distributed
    from chainrule.cli import main

    def missing():
        raise FileNotFoundError("chainrule.distributed needs MPI's mpiexec, which was not "
                                "found: run pip install 'chainrule[distributed]'")

    monkeypatch.setattr(distributed.run, "find_mpiexec", missing)
    assert main(["--nproc", "2", "--epochs", "1"]) == 2
    assert capsys.readouterr().err == (
        "chainrule: error: --nproc 2: chainrule.distributed needs MPI's mpiexec, which was not "
        "found: run pip install 'chainrule[distributed]'\n")


def test_run_on_two_ranks(tmp_path):
    (tmp_path / "script.py").write_text(textwrap.dedent("""
        import sys
        import torch
        import torch.distributed as dist

        dist.init_process_group("gloo")
        total = torch.tensor([float(dist.get_rank() + 1)])
        dist.all_reduce(total)
        print(f"rank {dist.get_rank()} of {dist.get_world_size()}: {total.item()} {sys.argv[1:]}")
        dist.destroy_process_group()
    """))
    result = chainrule(tmp_path, "run", "--nproc", "2", "script.py", "--flag")
    assert result.returncode == 0, result.stderr
    # mpiexec forwards each rank's writes as they come, so the two lines may share a line.
    assert sorted(re.findall(r"rank \d of 2: 3\.0 \['--flag'\]", result.stdout)) == [
        "rank 0 of 2: 3.0 ['--flag']", "rank 1 of 2: 3.0 ['--flag']"]


def test_a_rank_raising_in_fit_stops_every_rank_with_one_line(tmp_path):
    (tmp_path / "script.py").write_text(textwrap.dedent("""
        import torch
        import torch.distributed as dist
        from torch.utils.data import DataLoader, TensorDataset
        from chainrule.train import fit

        dist.init_process_group("gloo")
        batches = []

        def criterion(output, target):
            batches.append(1)
            if dist.get_rank() == 1 and len(batches) == 3:
                raise ValueError("bad batch on rank 1")
            return torch.nn.functional.mse_loss(output, target)

        model = torch.nn.Linear(2, 1)
        data = DataLoader(TensorDataset(torch.randn(64, 2), torch.randn(64, 1)), batch_size=4)
        fit(model, criterion, torch.optim.SGD(model.parameters(), lr=0.1), data, epochs=3,
            progress=False)
    """))
    result = chainrule(tmp_path, "run", "--nproc", "2", "script.py")
    assert result.returncode != 0
    verdicts = [line for line in result.stderr.splitlines() if "failed" in line]
    assert verdicts == ["chainrule.distributed: rank 1 of 2 failed with ValueError: bad batch on "
                        "rank 1; stopping every rank"], result.stderr


@pytest.mark.parametrize("environment, rank_zero", [
    ({}, True),
    ({"RANK": "1"}, True),  # a stray RANK without a world of several ranks
    ({"RANK": "1", "WORLD_SIZE": "2"}, False),
    ({"PMI_RANK": "1", "PMI_SIZE": "2"}, False),  # a bare mpiexec
    ({"PMI_RANK": "0", "PMI_SIZE": "2"}, True),
])
def test_which_process_speaks(monkeypatch, environment, rank_zero):
    from chainrule.cli.ranks import is_rank_zero

    for name in ("RANK", "WORLD_SIZE", "PMI_RANK", "PMI_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert is_rank_zero() is rank_zero
