"""chainrule.save / load and the file system: temporaries, permissions, symlinks, memory."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest

import chainrule
from chainrule import serialization
from chainrule.serialization._atomic import TEMPORARY_PREFIX

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(chainrule.__file__)))
posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX processes and modes")


def _temporaries(folder) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.startswith(".tmp"))


def test_temporary_file_is_named_by_process(tmp_path, monkeypatch):
    seen = []
    write_arrays = serialization._write_arrays

    def spy(out, chunks):
        seen.extend(_temporaries(tmp_path))
        write_arrays(out, chunks)

    monkeypatch.setattr(serialization, "_write_arrays", spy)
    chainrule.save({"w": chainrule.ones(3)}, tmp_path / "model.pt")
    assert len(seen) == 1 and seen[0].startswith(f"{TEMPORARY_PREFIX}{os.getpid()}-")
    assert _temporaries(tmp_path) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@posix_only
def test_a_later_save_removes_only_temporaries_of_dead_processes(tmp_path):
    from chainrule.serialization._atomic import _host

    def orphan(pid: int, host: str | None = None) -> str:
        name = f"{TEMPORARY_PREFIX}{pid}-{'ab' * 8}-{host or _host()}"
        (tmp_path / name).write_bytes(b"half a checkpoint")
        return name

    dead = orphan(_dead_pid())
    alive = [orphan(os.getppid()), orphan(os.getpid()), orphan(_dead_pid(), "other-machine"),
             ".tmp-unrelated"]
    (tmp_path / ".tmp-unrelated").write_bytes(b"")
    chainrule.save([1, 2], tmp_path / "model.pt")
    assert dead not in _temporaries(tmp_path)
    assert _temporaries(tmp_path) == sorted(alive)


_SAVE_FOREVER = """
import sys, numpy as np, chainrule
weights = {"w": chainrule.tensor(np.ones(4_000_000, dtype=np.float32))}
print("ready", flush=True)
while True:
    chainrule.save(weights, sys.argv[1])
"""


@posix_only
def test_processes_killed_mid_save_leave_no_temporaries_behind(tmp_path):
    path = tmp_path / "model.pt"
    rng = random.Random(0)
    orphans = 0
    for _ in range(5):
        child = subprocess.Popen([sys.executable, "-c", _SAVE_FOREVER, str(path)],
                                 stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": _ROOT})
        assert child.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.2))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        orphans = max(orphans, len(_temporaries(tmp_path)))
        if path.exists():
            np.testing.assert_array_equal(chainrule.load(path)["w"]._data, 1)
    assert orphans >= 1  # the kills did land mid-save
    chainrule.save({"w": chainrule.zeros(2)}, path)
    assert _temporaries(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["model.pt"]


@posix_only
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o027])
def test_new_files_get_their_mode_from_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        chainrule.save({"w": chainrule.ones(2)}, tmp_path / "model.pt")
        serialization.save_safetensors({"w": chainrule.ones(2)}, tmp_path / "model.safetensors")
    finally:
        os.umask(previous)
    for name in ("model.pt", "model.safetensors"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o666 & ~umask


@posix_only
def test_an_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / "model.pt"
    chainrule.save([1], path)
    os.chmod(path, 0o640)
    chainrule.save([2], path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640 and chainrule.load(path) == [2]


@posix_only
def test_saving_to_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "model.pt"
    chainrule.save([1], target)
    link = tmp_path / "latest.pt"
    link.symlink_to(target)
    chainrule.save([2], link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert chainrule.load(target) == [2]
    dangling = tmp_path / "next.pt"
    dangling.symlink_to(tmp_path / "runs" / "new.pt")
    chainrule.save([3], dangling)
    assert dangling.is_symlink() and chainrule.load(tmp_path / "runs" / "new.pt") == [3]
    assert _temporaries(tmp_path) == [] and _temporaries(tmp_path / "runs") == []


def _peak_while_loading(path, **kwargs):
    tracemalloc.start()
    try:
        loaded = chainrule.load(path, **kwargs)
        return loaded, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_loading_needs_about_the_file_size_in_memory(tmp_path):
    path = tmp_path / "big.pt"
    chainrule.save({"w": chainrule.ones(2_000_000), "b": chainrule.zeros(3, 5)}, path)
    loaded, peak = _peak_while_loading(path)
    assert peak < 1.1 * os.path.getsize(path)
    assert loaded["w"]._data.flags.writeable and loaded["w"]._data.base is not None


def test_mmap_loads_without_reading_the_file_into_memory(tmp_path):
    path = tmp_path / "big.pt"
    chainrule.save({"w": chainrule.ones(2_000_000)}, path)
    before = path.read_bytes()
    loaded, peak = _peak_while_loading(path, mmap=True)
    assert peak < 0.1 * os.path.getsize(path)
    loaded["w"].add_(1)  # writable, but private: the file is unchanged
    np.testing.assert_array_equal(loaded["w"]._data, 2)
    assert path.read_bytes() == before
    with open(path, "rb") as handle, pytest.raises(ValueError, match="must be a file path"):
        chainrule.load(handle, mmap=True)
