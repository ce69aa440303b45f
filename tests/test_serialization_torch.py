"""PyTorch's ``.pt`` zip format both ways: files from real ``torch.save`` load in chainrule,
and ``chainrule.save(..., format="torch")`` files load in real ``torch.load(weights_only=True)``."""

from __future__ import annotations

import io
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import chainrule
from tests.conftest import require_torch

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


def _torch_tensor(torch, name: str):
    return (torch.arange(-6, 6).reshape(3, 4) % 5).to(getattr(torch, name))


def _assert_matches(ours, theirs):
    """A chainrule object equals the torch object it was saved from or loaded into."""
    torch = require_torch()
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, chainrule.Tensor)
        assert str(ours.dtype) == str(theirs.dtype)
        assert tuple(ours.shape) == tuple(theirs.shape)
        assert ours.requires_grad == theirs.requires_grad
        assert type(ours).__name__ == type(theirs).__name__  # Tensor / Parameter
        np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    elif isinstance(theirs, dict):
        assert type(ours).__name__ == type(theirs).__name__
        assert list(ours) == list(theirs)
        for key in theirs:
            _assert_matches(ours[key], theirs[key])
    elif isinstance(theirs, set):
        assert ours == theirs
    elif isinstance(theirs, (list, tuple)) and not isinstance(theirs, torch.Size):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _assert_matches(a, b)
    else:
        assert str(ours) == str(theirs)


@pytest.mark.parametrize("name", DTYPES)
def test_torch_tensors_of_every_dtype_load(tmp_path, name):
    torch = require_torch()
    theirs = _torch_tensor(torch, name)
    torch.save(theirs, tmp_path / "t.pt")
    _assert_matches(chainrule.load(tmp_path / "t.pt"), theirs)


@pytest.mark.parametrize("name", DTYPES)
def test_chainrule_tensors_of_every_dtype_load_in_torch(tmp_path, name):
    torch = require_torch()
    ours = chainrule.tensor(_torch_tensor(torch, name).numpy())
    chainrule.save(ours, tmp_path / "t.pt", format="torch")
    _assert_matches(ours, torch.load(tmp_path / "t.pt", weights_only=True))


def _state(lib):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Linear(4, 2))
    optimizer = lib.optim.Adam(model.parameters(), lr=0.01)
    model(lib.randn(5, 3)).sum().backward()
    optimizer.step()
    x = lib.arange(24.0).reshape(4, 6)
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "views": [x, x[1:, ::2], x.t(), x[2]], "size": lib.Size([2, 3]), "dtype": lib.float16,
            "nested": OrderedDict(a=(1, 2.5, "s", None, True), b=[lib.tensor(3)]),
            "param": lib.nn.Parameter(lib.ones(2)), "scalar": lib.tensor(1.5),
            "empty": lib.zeros(0, 3), "raw": b"\x00\xff", "tags": {"a", "b"},
            "device": lib.device("cpu"), "epoch": 7, "loss": 0.25}


def test_torch_state_dicts_and_containers_load(tmp_path):
    torch = require_torch()
    theirs = _state(torch)
    torch.save(theirs, tmp_path / "ckpt.pt")
    ours = chainrule.load(tmp_path / "ckpt.pt")
    _assert_matches(ours, theirs)
    assert ours["model"]._metadata == theirs["model"]._metadata
    assert ours["optimizer"]["param_groups"] == theirs["optimizer"]["param_groups"]


def test_chainrule_state_dicts_and_containers_load_in_torch(tmp_path):
    torch = require_torch()
    ours = _state(chainrule)
    chainrule.save(ours, tmp_path / "ckpt.pt", format="torch")
    theirs = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    _assert_matches(ours, theirs)
    assert theirs["model"]._metadata == ours["model"]._metadata
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                                torch.nn.Linear(4, 2))
    model.load_state_dict(theirs["model"])


@pytest.mark.parametrize("writer", ["torch", "chainrule"])
def test_views_share_one_storage(tmp_path, writer):
    torch = require_torch()
    lib = torch if writer == "torch" else chainrule
    x = lib.arange(12.0).reshape(3, 4)
    lib.save({"x": x, "column": x[:, 1], "transposed": x.t()}, tmp_path / "v.pt",
             **({} if writer == "torch" else {"format": "torch"}))
    with zipfile.ZipFile(tmp_path / "v.pt") as archive:
        assert len([n for n in archive.namelist() if "/data/" in n]) == 1
    for loaded in (chainrule.load(tmp_path / "v.pt"), torch.load(tmp_path / "v.pt")):
        loaded["x"][0, 1] = 100.0
        assert loaded["column"][0].item() == 100.0 and loaded["transposed"][1, 0].item() == 100.0


def test_bfloat16_loads_as_float32_exactly_with_a_warning(tmp_path):
    torch = require_torch()
    theirs = torch.tensor([1.0, -2.5, 3.140625, 1e-30, float("inf")], dtype=torch.bfloat16)
    torch.save({"w": theirs, "dtype": torch.bfloat16}, tmp_path / "bf.pt")
    with pytest.warns(UserWarning, match="bfloat16"):
        ours = chainrule.load(tmp_path / "bf.pt")
    assert ours["w"].dtype == chainrule.float32 and ours["dtype"] == chainrule.float32
    np.testing.assert_array_equal(ours["w"].numpy(), theirs.float().numpy())


def test_big_endian_byteorder_record_is_honoured(tmp_path):
    torch = require_torch()
    torch.save(torch.arange(4, dtype=torch.int32), tmp_path / "t.pt")
    swapped = io.BytesIO()
    with zipfile.ZipFile(tmp_path / "t.pt") as source, zipfile.ZipFile(swapped, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("/byteorder"):
                data = b"big"
            elif "/data/" in info.filename:
                data = np.frombuffer(data, "<i4").astype(">i4").tobytes()
            out.writestr(info.filename, data)
    swapped.seek(0)
    assert chainrule.load(swapped).tolist() == [0, 1, 2, 3]


def test_records_are_aligned_and_mmap_views_the_file(tmp_path):
    require_torch()
    chainrule.save({"a": chainrule.ones(3), "b": chainrule.zeros(5)}, tmp_path / "m.pt",
                   format="torch")
    with zipfile.ZipFile(tmp_path / "m.pt") as archive:
        for info in archive.infolist():
            if "/data/" in info.filename:
                start = info.header_offset + 30 + len(info.filename) + len(info.extra)
                assert start % 64 == 0
    loaded = chainrule.load(tmp_path / "m.pt", mmap=True)
    assert loaded["a"].tolist() == [1.0, 1.0, 1.0]
    assert not loaded["a"].numpy().flags.owndata
    loaded["a"][0] = 5.0  # a private mapping: the file is unchanged
    assert chainrule.load(tmp_path / "m.pt")["a"].tolist() == [1.0, 1.0, 1.0]


def test_file_objects_both_ways():
    torch = require_torch()
    buffer = io.BytesIO()
    chainrule.save({"w": chainrule.ones(2)}, buffer, format="torch")
    buffer.seek(0)
    assert torch.load(buffer)["w"].tolist() == [1.0, 1.0]
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buffer)
    buffer.seek(0)
    assert chainrule.load(buffer)["w"].tolist() == [1.0, 1.0]


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="format must be 'chainrule' or 'torch', got 'pickle'"):
        chainrule.save({}, tmp_path / "x.pt", format="pickle")


def test_dtypes_chainrule_lacks_are_named(tmp_path):
    torch = require_torch()
    torch.save(torch.ones(2, dtype=torch.complex64), tmp_path / "c.pt")
    with pytest.raises(RuntimeError, match="c.pt': it holds torch.ComplexFloatStorage, a dtype "
                                           "chainrule does not have"):
        chainrule.load(tmp_path / "c.pt")
