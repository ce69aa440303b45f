"""chainrule.load on damaged and hostile files: every bit flip is caught, every header
field is checked, and no file can exhaust memory or the stack."""

from __future__ import annotations

import inspect
import io
import json
import sys
import tracemalloc
import zlib

import numpy as np
import pytest

import chainrule
from chainrule.serialization.layout import MAGIC, PREAMBLE, TRAILER, aligned


def _small_checkpoint() -> dict:
    return {"step": 7, "lr": 0.5, "name": "run", "w": chainrule.tensor([[1.0, -2.0], [3.5, 0.25]]),
            "i": chainrule.tensor([3, 4], dtype=chainrule.int16), "flags": (True, None)}


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    chainrule.save(obj, buffer)
    return buffer.getvalue()


def _parts(raw: bytes) -> tuple[dict, bytes]:
    """The header (parsed) and the data section of a version 2 file."""
    header_size = PREAMBLE.unpack_from(raw)[2]
    header = json.loads(raw[PREAMBLE.size:PREAMBLE.size + header_size])
    start = aligned(PREAMBLE.size + header_size)
    return header, raw[start:start + header["data_size"]]


def _build(header: dict | bytes, data: bytes, version: int = 2) -> bytes:
    """A file with a correct checksum: what a hostile author, not random damage, produces."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    head = PREAMBLE.pack(MAGIC, version, len(text)) + text
    body = head + b"\0" * (aligned(len(head)) - len(head)) + data
    return body + TRAILER.pack(zlib.crc32(body)) if version >= 2 else body


def _load(raw: bytes):
    return chainrule.load(io.BytesIO(raw))


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, chainrule.Tensor):
        return (a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
                and np.array_equal(a._data, b._data))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def test_every_single_bit_flip_is_detected():
    raw = _saved(_small_checkpoint())
    expected = _load(raw)
    assert len(raw) * 8 > 3000
    silently_different = []
    for bit in range(len(raw) * 8):
        damaged = bytearray(raw)
        damaged[bit // 8] ^= 1 << (bit % 8)
        try:
            loaded = _load(bytes(damaged))
        except RuntimeError:
            continue
        if not _same(loaded, expected):
            silently_different.append(bit)
    assert silently_different == []


def test_the_checksum_covers_the_header():
    raw = bytearray(_saved({"step": 7}))
    raw[raw.index(b"7")] = ord("8")
    with pytest.raises(RuntimeError, match="BytesIO': the file is damaged or truncated"):
        _load(bytes(raw))


def _valid() -> tuple[dict, bytes]:
    return _parts(_saved({"w": chainrule.ones(2, 3), "i": chainrule.arange(3)}))


def _set(path: str, value):
    def mutate(header):
        *parents, last = path.split(".")
        node = header
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value
    return mutate


def _add_entry_copy(header):
    header["tensors"].append(dict(header["tensors"][0]))


HOSTILE_HEADERS = {
    "negative shape": (_set("tensors.0.shape", [-2, -3]), "non-negative integer"),
    "fractional shape": (_set("tensors.0.shape", [2.5, 2.4]), "non-negative integer"),
    "float shape": (_set("tensors.0.shape", [2.0, 3]), "non-negative integer"),
    "bool shape": (_set("tensors.0.shape", [True, 6]), "non-negative integer"),
    "shape not a list": (_set("tensors.0.shape", "2x3"), "shape '2x3'"),
    "too many dims": (_set("tensors.0.shape", [1] * 65), "at most 64"),
    "shape and nbytes disagree": (_set("tensors.0.shape", [3, 3]), "needs 36"),
    "misaligned offset": (_set("tensors.1.offset", 40), "offset 40"),
    "overlapping offsets": (_set("tensors.1.offset", 0), "without overlap"),
    "offset past the data": (_set("tensors.1.offset", 1 << 40), "offset 1099511627776"),
    "unknown dtype": (_set("tensors.0.dtype", "complex128"), "unknown dtype 'complex128'"),
    "dtype not a string": (_set("tensors.0.dtype", ["float32"]), "unknown dtype"),
    "unknown kind": (_set("tensors.0.kind", "module"), "unknown kind 'module'"),
    "requires_grad on ints": (_set("tensors.1.requires_grad", True), "requires_grad=True"),
    "requires_grad not a bool": (_set("tensors.0.requires_grad", 1), "requires_grad=1"),
    "extra entry key": (_set("tensors.0.storage", 3), "exactly the keys"),
    "data_size too small": (_set("data_size", 10), "data_size is 10"),
    "data_size negative": (_set("data_size", -1), "data_size is -1"),
    "extra header key": (_set("extra", 1), "keys"),
    "tensors not a list": (_set("tensors", {}), "'tensors' is not a list"),
    "tensor index out of range": (_set("tree.$dict.0.1.$tensor", 9), r"\$tensor 9"),
    "tensor index not an int": (_set("tree.$dict.0.1.$tensor", 0.0), r"\$tensor 0.0"),
    "unknown tag": (_set("tree", {"$eval": "print(1)"}), "unknown node"),
    "two tags": (_set("tree", {"$tuple": [], "$dict": []}), "unknown node"),
    "bad pair": (_set("tree.$dict.0", ["w"]), r"\[key, value\] pair"),
    "unhashable key": (_set("tree.$dict.0.0", [1]), "unhashable"),
    "bad float": (_set("tree", {"$float": "1e999"}), r"\$float is '1e999'"),
    "bad dtype": (_set("tree", {"$dtype": "object"}), r"unknown \$dtype 'object'"),
    "bad size": (_set("tree", {"$size": [-1]}), "torch.Size"),
    "tuple of a dict": (_set("tree", {"$tuple": {}}), "expected a list"),
    "a second tensor on the same bytes": (_add_entry_copy, "without overlap"),
}


@pytest.mark.parametrize("case", list(HOSTILE_HEADERS))
def test_hostile_header_fields_are_refused(case):
    mutate, message = HOSTILE_HEADERS[case]
    header, data = _valid()
    mutate(header)
    with pytest.raises(RuntimeError, match=f"cannot read 'BytesIO': .*{message}"):
        _load(_build(header, data))


@pytest.mark.parametrize("text, message", [
    (b'{"tree": NaN, "tensors": [], "data_size": 0}', "NaN is not valid JSON"),
    (b'{"tree": 1, "tree": 2, "tensors": [], "data_size": 0}', "repeats a key"),
    (b'{"tree": "\xff", "tensors": [], "data_size": 0}', "utf-8"),
    (b'{"tree": 1, "tensors": [], "data_size": 0', "header is corrupted"),
    (b'[1, 2]', "keys list"),
    (b'{"tree": ' + b"9" * 5000 + b', "tensors": [], "data_size": 0}', "header is corrupted"),
])
def test_malformed_json_is_refused(text, message):
    with pytest.raises(RuntimeError, match=message):
        _load(_build(text, b""))


def test_trailing_and_missing_data_are_refused():
    header, data = _valid()
    with pytest.raises(RuntimeError, match="has trailing data"):
        _load(_build(header, data + b"\0" * 64))
    with pytest.raises(RuntimeError, match="is truncated"):
        _load(_build(header, data[:-8]))
    raw = _build(header, data)
    with pytest.raises(RuntimeError, match="damaged or truncated"):
        _load(raw + b"\0")


def test_version_1_files_still_load_with_their_data_checksum():
    obj = _small_checkpoint()
    header, data = _parts(_saved(obj))
    header["data_crc32"] = zlib.crc32(data)
    old = _build(header, data, version=1)
    assert _same(_load(old), obj)
    damaged = bytearray(old)
    damaged[-3] ^= 1
    with pytest.raises(RuntimeError, match="data is corrupted"):
        _load(bytes(damaged))
    with pytest.raises(RuntimeError, match="trailing data"):
        _load(old + b"junk")


def test_newer_versions_are_refused():
    header, data = _valid()
    with pytest.raises(RuntimeError, match="format version 3 is newer"):
        _load(_build(header, data, version=3))


def _deep_header(depth: int) -> bytes:
    return (b'{"tree": ' + b"[" * depth + b"]" * depth + b', "tensors": [], "data_size": 0}')


def test_deep_nesting_is_refused_whatever_the_recursion_limit():
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000_000)
    try:
        with pytest.raises(RuntimeError, match="nests more than 128 levels"):
            _load(_build(_deep_header(200_000), b""))
    finally:
        sys.setrecursionlimit(limit)


def test_nesting_within_the_limit_under_a_low_recursion_limit_is_a_clean_error():
    tree = b'{"$tuple":[' * 60 + b"]}" * 60
    raw = _build(b'{"tree": ' + tree + b', "tensors": [], "data_size": 0}', b"")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 60)
    try:
        with pytest.raises(RuntimeError, match="BytesIO': .*recursion limit"):
            _load(raw)
    finally:
        sys.setrecursionlimit(limit)


def test_brackets_inside_strings_do_not_count_as_nesting():
    nested: list = []
    for _ in range(40):
        nested = [nested]
    # strings straddling the scan's 64 KiB chunks, ending in escaped backslashes and quotes
    obj = {"s": "[" * 1000 + '\\"{' * 100, "t": "x\\", "nested": nested,
           "long": "\\" * 70_001 + "[" * 70_000 + '"', "after": [[1]]}
    assert _load(_saved(obj)) == obj


def test_closing_brackets_hidden_in_strings_cannot_mask_deep_nesting():
    tree = b'["' + b"]" * 1000 + b'", ' + b"[" * 200 + b"]" * 200 + b"]"
    with pytest.raises(RuntimeError, match="nests more than 128 levels"):
        _load(_build(b'{"tree": ' + tree + b', "tensors": [], "data_size": 0}', b""))


def _peak_memory_of_refusal(raw: bytes) -> int:
    tracemalloc.start()
    try:
        with pytest.raises(RuntimeError, match="JSON arrays and objects"):
            _load(raw)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("item", [b"[]", b"{}", b"[[]]", b"{\"$dict\":[]}"])
def test_huge_container_counts_are_refused_in_bounded_memory(item):
    count = 400_000
    header = b'{"tree": [' + b",".join([item] * count) + b'], "tensors": [], "data_size": 0}'
    raw = _build(header, b"")
    assert _peak_memory_of_refusal(raw) < 4 * len(raw)


def test_the_densest_accepted_header_stays_within_a_small_multiple_of_the_file():
    header = b'{"tree": [' + b",".join([b"[0,1,2]"] * 70_000) + b'], "tensors": [], "data_size": 0}'
    raw = _build(header, b"")
    tracemalloc.start()
    try:
        assert len(_load(raw)) == 70_000
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * len(raw)


def test_save_refuses_objects_load_would_refuse(tmp_path):
    deep: list = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(RuntimeError, match="cannot store this object: the header nests more"):
        chainrule.save(deep, tmp_path / "deep.pt")
    with pytest.raises(RuntimeError, match="JSON arrays and objects"):
        chainrule.save([[]] * 70_000, tmp_path / "lists.pt")
    chainrule.save([[]] * 60_000, tmp_path / "few.pt")  # small files may be dense
    (tmp_path / "few.pt").unlink()
    assert list(tmp_path.iterdir()) == []
    ordinary = {"history": [{"epoch": i, "loss": 1 / (i + 1)} for i in range(1000)],
                "pairs": [[i, i + 1] for i in range(1000)]}
    chainrule.save(ordinary, tmp_path / "ok.pt")
    assert chainrule.load(tmp_path / "ok.pt") == ordinary
