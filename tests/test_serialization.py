"""chainrule.save / load: round trips, atomic writes, corruption errors, safetensors interop."""

from __future__ import annotations

import io
import os
import pickle
import re
import struct
from collections import OrderedDict

import numpy as np
import pytest

import chainrule
import chainrule.nn as nn
from chainrule import serialization
from chainrule._tensor import make_tensor

torch = pytest.importorskip("torch")

DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8,
          np.bool_]


def _assert_same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, chainrule.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a._data, b._data)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b]
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def _round_trip(obj, tmp_path):
    path = tmp_path / "ckpt.pt"
    chainrule.save(obj, path)
    loaded = chainrule.load(path)
    buffer = io.BytesIO()
    chainrule.save(obj, buffer)
    buffer.seek(0)
    _assert_same(chainrule.load(buffer), loaded)
    return loaded


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3, 4)])
def test_tensors_of_every_dtype(dtype, shape, tmp_path):
    array = (np.arange(int(np.prod(shape))).reshape(shape) % 7).astype(dtype)
    tensor = make_tensor(array)
    loaded = _round_trip(tensor, tmp_path)
    _assert_same(tensor, loaded)
    assert loaded._data.flags.writeable and loaded._data.flags.c_contiguous


def test_non_contiguous_and_requires_grad(tmp_path):
    base = chainrule.randn(4, 3, requires_grad=True)
    view = make_tensor(np.ascontiguousarray(base._data)[:, ::2].T)
    loaded = _round_trip({"base": base, "view": view}, tmp_path)
    assert loaded["base"].requires_grad and loaded["base"].is_leaf
    np.testing.assert_array_equal(loaded["view"]._data, view._data)


def test_nested_containers_keep_types(tmp_path):
    obj = {
        "epoch": 3, "loss": 0.25, "name": "run-1", "flag": True, "missing": None,
        "floats": [float("inf"), float("-inf"), float("nan")],
        "ordered": OrderedDict([("b", 1), ("a", (2, [3, {"c": chainrule.ones(2)}]))]),
        1: "int key", (1, "x"): "tuple key", 2.5: "float key", None: "none key",
        "array": np.arange(6).reshape(2, 3), "dtype": chainrule.float64,
        "size": chainrule.Size([2, 3]), "empty": {}, "empty_list": [], "empty_tuple": (),
    }
    loaded = _round_trip(obj, tmp_path)
    _assert_same(obj, loaded)
    assert isinstance(loaded["ordered"], OrderedDict) and list(loaded["ordered"]) == ["b", "a"]
    assert loaded["dtype"] is chainrule.float64
    assert isinstance(loaded["size"], chainrule.Size)


def test_shared_tensor_is_stored_once(tmp_path):
    t = chainrule.ones(1000)
    loaded = _round_trip({"a": t, "b": t}, tmp_path)
    assert loaded["a"] is loaded["b"]
    assert os.path.getsize(tmp_path / "ckpt.pt") < 2 * t.nbytes


def test_model_state_dict_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    state = model.state_dict()
    loaded = _round_trip(state, tmp_path)
    assert isinstance(loaded, OrderedDict) and list(loaded) == list(state)
    assert getattr(loaded, "_metadata", None) == getattr(state, "_metadata", None)
    other = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    other.load_state_dict(loaded)
    x = chainrule.randn(3, 4)
    np.testing.assert_array_equal(model(x).detach().numpy(), other(x).detach().numpy())


def test_parameters_load_as_parameters(tmp_path):
    weight = nn.Parameter(chainrule.randn(3))
    loaded = _round_trip(weight, tmp_path)
    assert isinstance(loaded, nn.Parameter) and loaded.requires_grad


def test_optimizer_state_dict_round_trip_keeps_int_keys(tmp_path):
    model = nn.Linear(3, 2)
    opt = chainrule.optim.Adam(model.parameters(), lr=0.01)
    model(chainrule.randn(4, 3)).sum().backward()
    opt.step()
    state = opt.state_dict()
    loaded = _round_trip(state, tmp_path)
    assert sorted(loaded["state"]) == [0, 1]
    assert loaded["param_groups"][0]["betas"] == (0.9, 0.999)
    fresh = chainrule.optim.Adam(nn.Linear(3, 2).parameters(), lr=0.5)
    fresh.load_state_dict(loaded)
    assert fresh.param_groups[0]["lr"] == 0.01
    assert loaded["state"][0]["step"].dtype == chainrule.float32


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match="cannot store an object of type object"):
        chainrule.save({"x": object()}, tmp_path / "bad.pt", format="chainrule")
    assert not (tmp_path / "bad.pt").exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith(".tmp")] == []


def test_crash_mid_write_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    chainrule.save({"w": chainrule.ones(1000)}, path)
    before = path.read_bytes()

    def crash(f, chunks):
        f.write(b"\0" * 100)
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(serialization, "_write_arrays", crash)
    with pytest.raises(KeyboardInterrupt):
        chainrule.save({"w": chainrule.zeros(1000)}, path)
    assert path.read_bytes() == before
    assert [p for p in os.listdir(tmp_path) if p.startswith(".tmp")] == []
    monkeypatch.undo()
    np.testing.assert_array_equal(chainrule.load(path)["w"]._data, 1)


def test_truncated_files_raise_naming_the_file(tmp_path):
    path = tmp_path / "model.pt"
    chainrule.save({"w": chainrule.randn(100), "meta": "x" * 50}, path)
    raw = path.read_bytes()
    for size in (0, 5, 25, 60, len(raw) - 1):
        cut = tmp_path / f"cut{size}.pt"
        cut.write_bytes(raw[:size])
        with pytest.raises(RuntimeError, match=f"cut{size}.pt"):
            chainrule.load(cut)


def test_corrupted_data_and_header_are_detected(tmp_path):
    path = tmp_path / "model.pt"
    chainrule.save({"w": chainrule.randn(100)}, path)
    raw = bytearray(path.read_bytes())
    flipped = bytearray(raw)
    flipped[-10] ^= 0xFF
    (tmp_path / "data.pt").write_bytes(flipped)
    with pytest.raises(RuntimeError, match="data.pt': .*checksum"):
        chainrule.load(tmp_path / "data.pt")
    header_size = struct.unpack_from("<Q", raw, 12)[0]
    broken = bytearray(raw)
    broken[20:20 + header_size] = b"{" + b" " * (header_size - 1)
    (tmp_path / "header.pt").write_bytes(broken)
    with pytest.raises(RuntimeError, match="header.pt': .*checksum"):
        chainrule.load(tmp_path / "header.pt")


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickle_payloads_are_rejected_without_running(tmp_path, monkeypatch):
    payload = pickle.dumps(_Boom())
    ran = []
    monkeypatch.setattr(os, "system", lambda cmd: ran.append(cmd))
    path = tmp_path / "evil.pt"
    path.write_bytes(payload)
    with pytest.raises(RuntimeError, match="pickle"):
        chainrule.load(path)
    assert ran == []  # PyTorch's zip files load (test_serialization_torch*.py)


# ------------------------------------------------------------------ safetensors
def _twin_models():
    ours = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    return ours, theirs


def test_safetensors_from_torch_into_chainrule(tmp_path):
    from safetensors.torch import save_file

    ours, theirs = _twin_models()
    path = tmp_path / "model.safetensors"
    save_file(theirs.state_dict(), str(path))
    ours.load_state_dict(serialization.load_safetensors(path))
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(ours(chainrule.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)


def test_safetensors_from_chainrule_into_torch(tmp_path):
    from safetensors.torch import load_file

    ours, theirs = _twin_models()
    path = tmp_path / "model.safetensors"
    serialization.save_safetensors(ours.state_dict(), path, metadata={"format": "pt"})
    theirs.load_state_dict(load_file(str(path)))
    x = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(ours(chainrule.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)
    loaded = serialization.load_safetensors(path)
    expected = {k: v.detach() for k, v in sorted(ours.state_dict().items())}
    _assert_same(expected, dict(sorted(loaded.items())))  # safetensors orders names itself


def test_safetensors_missing_gives_install_hint(monkeypatch, tmp_path):
    import sys

    from chainrule._optional import install_command

    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match=re.escape(install_command("safetensors"))):
        serialization.save_safetensors({"w": chainrule.ones(2)}, tmp_path / "x.safetensors")
    with pytest.raises(ImportError, match=re.escape(install_command("safetensors"))):
        serialization.load_safetensors(tmp_path / "x.safetensors")


SAFETENSORS_DTYPES = ["float16", "bfloat16", "float32", "float64", "int8", "int16", "int32",
                      "int64", "uint8", "bool"]


@pytest.mark.filterwarnings("ignore:.*no bfloat16 dtype")
@pytest.mark.parametrize("dtype", SAFETENSORS_DTYPES)
def test_safetensors_of_every_dtype_written_by_torch(dtype, tmp_path, monkeypatch):
    from safetensors.torch import load_file, save_file

    from chainrule.serialization import _safetensors

    monkeypatch.setattr(_safetensors, "_warned_bfloat16", False)
    values = torch.tensor([[0.0, -1.5, 3.0e38 if dtype == "bfloat16" else 2.0],
                           [1 / 3, 7.0, 1e-3]]).to(getattr(torch, dtype))
    path = tmp_path / "weights.safetensors"
    save_file({"x": values, "y": values[0].clone()}, str(path))
    expected = values.float() if dtype == "bfloat16" else values
    loaded = serialization.load_safetensors(path)
    assert list(loaded) == list(load_file(str(path)))  # the file's order, as torch reads it
    assert loaded["x"].dtype == getattr(chainrule, "float32" if dtype == "bfloat16" else dtype)
    np.testing.assert_array_equal(loaded["x"].numpy(), expected.numpy())
    np.testing.assert_array_equal(loaded["y"].numpy(), expected[0].numpy())
    assert loaded["x"]._data.flags.writeable


def test_bfloat16_warns_once_that_it_loads_as_float32(tmp_path, monkeypatch):
    import warnings

    from safetensors.torch import save_file

    from chainrule.serialization import _safetensors

    monkeypatch.setattr(_safetensors, "_warned_bfloat16", False)
    path = tmp_path / "bf16.safetensors"
    save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, str(path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        serialization.load_safetensors(path)
        serialization.load_safetensors(path)
    assert len(caught) == 1
    assert "no bfloat16 dtype" in str(caught[0].message) and "float32" in str(caught[0].message)


def test_safetensors_unsupported_or_damaged_files_raise_naming_the_file(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "u16.safetensors"
    save_file({"w": torch.ones(2, dtype=torch.uint16)}, str(path))
    with pytest.raises(RuntimeError, match="u16.safetensors': tensor 'w' has dtype U16"):
        serialization.load_safetensors(path)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(RuntimeError, match="broken.safetensors"):
        serialization.load_safetensors(broken)
