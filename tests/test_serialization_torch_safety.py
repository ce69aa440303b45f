"""``load(weights_only=True)`` of PyTorch zip files never runs code: hostile pickles and
damaged or hostile zips are refused with PyTorch's exception types and the file's name."""

from __future__ import annotations

import builtins
import os
import pickle
import struct
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import chainrule
from chainrule.serialization._torch_pickle import Storage, rebuild_tensor_v2
from chainrule.serialization.layout import FormatError
from tests.conftest import require_torch


class Point:
    def __init__(self, x: float) -> None:
        self.x = x


class _System:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


class _Eval:
    def __reduce__(self):
        return (builtins.eval, ("__import__('os').system('echo pwned')",))


def _archive(path, payload: bytes, extra: dict | None = None, **zip_options) -> None:
    with zipfile.ZipFile(path, "w", **zip_options) as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/byteorder", b"little")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)


SYSTEM_MODULE = os.system.__module__  # "posix" on Linux and macOS


@pytest.fixture
def system_calls(monkeypatch):
    calls = []
    for module in (os, sys.modules[SYSTEM_MODULE]):
        monkeypatch.setattr(module, "system", calls.append)
    return calls  # the eval payload would call os.system too


# Pickled at import, before the fixture replaces os.system.
HOSTILE = [(pickle.dumps(payload, protocol=protocol), refused)
           for payload, refused in [(_System(), f"{SYSTEM_MODULE}.system"),
                                    (_Eval(), "builtins.eval"), (Point(1.0), f"{__name__}.Point")]
           for protocol in (2, 4)]  # GLOBAL and STACK_GLOBAL


@pytest.mark.parametrize("payload, refused", HOSTILE)
def test_unlisted_globals_are_refused_without_running(tmp_path, system_calls, payload, refused):
    path = tmp_path / "evil.pt"
    _archive(path, payload)
    with pytest.raises(pickle.UnpicklingError) as error:
        chainrule.load(path)
    message = str(error.value)
    assert f"'{path}'" in message
    assert (f"Unsupported global: GLOBAL {refused} was not an allowed global by default. Please "
            f"use `torch.serialization.add_safe_globals([{refused}])`") in message
    assert system_calls == []


def test_refusal_matches_torch(tmp_path):
    torch = require_torch()
    torch.save({"p": Point(2.0)}, tmp_path / "p.pt")
    errors = []
    for load in (torch.load, chainrule.load):
        with pytest.raises(pickle.UnpicklingError) as error:
            load(tmp_path / "p.pt")
        errors.append(str(error.value).split("WeightsUnpickler error: ")[1].split("\n")[0])
    assert errors[0] == errors[1]


def test_weights_only_false_is_a_full_unpickle(tmp_path, system_calls):
    _archive(tmp_path / "evil.pt", HOSTILE[0][0])
    chainrule.load(tmp_path / "evil.pt", weights_only=False)
    assert system_calls == ["echo pwned"]


def test_safe_globals_allow_listed_classes(tmp_path):
    chainrule.save({"p": Point(2.0), "w": chainrule.ones(1)}, tmp_path / "p.pt")
    with pytest.raises(pickle.UnpicklingError):
        chainrule.load(tmp_path / "p.pt")
    with chainrule.serialization.safe_globals([Point]):
        assert chainrule.serialization.get_safe_globals() == [Point]
        assert chainrule.load(tmp_path / "p.pt")["p"].x == 2.0
    assert chainrule.serialization.get_safe_globals() == []
    with pytest.raises(pickle.UnpicklingError):
        chainrule.load(tmp_path / "p.pt")
    chainrule.serialization.add_safe_globals([(Point, f"{__name__}.Point")])
    try:
        assert chainrule.load(tmp_path / "p.pt")["p"].x == 2.0
    finally:
        chainrule.serialization.clear_safe_globals()
    assert chainrule.serialization.get_safe_globals() == []


def test_safe_globals_loads_torch_files_with_listed_classes(tmp_path):
    torch = require_torch()
    torch.save([Point(3.0), torch.ones(2)], tmp_path / "p.pt")
    with chainrule.serialization.safe_globals([Point]):
        point, ones = chainrule.load(tmp_path / "p.pt")
    assert point.x == 3.0 and ones.tolist() == [1.0, 1.0]


class _HugeBytearray:
    def __reduce__(self):
        return (bytearray, (2**50,))


def test_allowed_constructors_cannot_allocate_what_the_file_does_not_hold(tmp_path):
    _archive(tmp_path / "big.pt", pickle.dumps(_HugeBytearray(), protocol=2))
    with pytest.raises(RuntimeError, match="big.pt': bytearray is allowed only from bytes"):
        chainrule.load(tmp_path / "big.pt")
    chainrule.save(bytearray(b"ok"), tmp_path / "small.pt")
    assert chainrule.load(tmp_path / "small.pt") == bytearray(b"ok")


def test_malformed_pickle_is_an_unpickling_error(tmp_path):
    _archive(tmp_path / "cut.pt", pickle.dumps({"a": [1, 2, 3]}, protocol=2)[:-5])
    with pytest.raises(pickle.UnpicklingError, match="cut.pt': the pickle is malformed"):
        chainrule.load(tmp_path / "cut.pt")


@pytest.mark.parametrize("name", ["../evil", "/etc/evil", "archive/../../evil"])
def test_paths_leaving_the_archive_are_refused(tmp_path, name):
    _archive(tmp_path / "t.pt", pickle.dumps(1, protocol=2), extra={name: b"x"})
    with pytest.raises(RuntimeError, match=f"t.pt': the archive holds a record with an unsafe "
                                           f"path '{name}'"):
        chainrule.load(tmp_path / "t.pt")


def _torch_file(tmp_path) -> bytearray:
    torch = require_torch()
    torch.save(torch.arange(16.0), tmp_path / "t.pt")
    return bytearray((tmp_path / "t.pt").read_bytes())


def _central_entry(raw: bytearray, name: bytes) -> int:
    """Where the central directory's entry for record ``name`` starts (its name is at 46)."""
    return raw.index(name, raw.index(b"PK\x01\x02")) - 46


def test_a_huge_declared_size_is_refused(tmp_path):
    raw = _torch_file(tmp_path)
    entry = _central_entry(raw, b"t/data/0")
    raw[entry + 20:entry + 28] = struct.pack("<II", 2**31, 2**31)
    (tmp_path / "huge.pt").write_bytes(raw)
    with pytest.raises(RuntimeError, match="huge.pt': record 't/data/0' declares 2147483648 bytes "
                                           "but the file ends"):
        chainrule.load(tmp_path / "huge.pt")


def test_damaged_storage_bytes_fail_the_crc(tmp_path):
    raw = _torch_file(tmp_path)
    raw[raw.index(np.float32(5.0).tobytes())] ^= 1
    (tmp_path / "bad.pt").write_bytes(raw)
    with pytest.raises(RuntimeError, match="bad.pt': record 't/data/0' is damaged"):
        chainrule.load(tmp_path / "bad.pt")


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_zips_are_refused(tmp_path, cut):
    raw = _torch_file(tmp_path)
    (tmp_path / "cut.pt").write_bytes(raw[:int(len(raw) * cut)])
    with pytest.raises(RuntimeError, match="cut.pt': it is not a readable zip archive"):
        chainrule.load(tmp_path / "cut.pt")


def test_zips_that_are_not_torch_files_are_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(RuntimeError, match="other.zip': it is a zip archive but not a PyTorch"):
        chainrule.load(tmp_path / "other.zip")


def test_compressed_records_are_refused(tmp_path):
    _archive(tmp_path / "z.pt", pickle.dumps([1] * 100, protocol=2),
             compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(RuntimeError, match="z.pt': record 'archive/[a-z.]+' is compressed"):
        chainrule.load(tmp_path / "z.pt")


def test_a_storage_smaller_than_declared_is_refused(tmp_path):
    raw = _torch_file(tmp_path)
    with zipfile.ZipFile(tmp_path / "t.pt") as source, \
            zipfile.ZipFile(tmp_path / "short.pt", "w") as out:
        for info in source.infolist():
            data = source.read(info)
            out.writestr(info.filename, data[:8] if info.filename == "t/data/0" else data)
    assert raw  # the original file was a valid torch file
    with pytest.raises(RuntimeError, match="short.pt': storage '0' holds 2 elements, the pickle "
                                           "says 16"):
        chainrule.load(tmp_path / "short.pt")


@pytest.mark.parametrize("offset, size, stride", [
    (2, (3,), (1,)), (0, (2, 2), (3, 1)), (5, (0,), (1,)), (-1, (1,), (1,)), (0, (2,), (-1,)),
])
def test_views_past_their_storage_are_refused(offset, size, stride):
    with pytest.raises(FormatError, match="a tensor"):
        rebuild_tensor_v2(Storage(np.zeros(4, np.float32), False), offset, size, stride, False,
                          OrderedDict())


def test_views_inside_their_storage_are_built():
    storage = Storage(np.arange(6, dtype=np.float32), False)
    view = rebuild_tensor_v2(storage, 1, (2, 2), (3, 1), True, OrderedDict())
    assert view.tolist() == [[1.0, 2.0], [4.0, 5.0]] and view.requires_grad
