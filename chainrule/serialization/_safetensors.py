"""Reading and writing ``.safetensors`` files (Hugging Face's format) for interchange with PyTorch."""

from __future__ import annotations

import json
import os
import warnings
from collections import OrderedDict

import numpy as np

from chainrule._optional import import_optional
from chainrule._tensor import Tensor, make_tensor
from chainrule.serialization._atomic import atomic_writer
from chainrule.serialization.layout import widen_bfloat16

_NUMPY_DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16,
                 "I32": np.int32, "I64": np.int64, "F16": np.float16, "F32": np.float32,
                 "F64": np.float64}
_warned_bfloat16 = False


def _safetensors(module: str = "safetensors"):
    return import_optional(module, "safetensors", "save_safetensors/load_safetensors")


def save_safetensors(state_dict: dict, path, metadata: dict[str, str] | None = None) -> None:
    """Write a flat ``{name: tensor}`` dict as a ``.safetensors`` file (atomically)."""
    st = _safetensors("safetensors.numpy")
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(value, (Tensor, np.ndarray)):
            raise TypeError(f"safetensors stores only tensors, but '{name}' is a {type(value).__name__}")
        array = value._data if isinstance(value, Tensor) else value
        arrays[name] = np.ascontiguousarray(array).reshape(array.shape)
    payload = st.save(arrays, metadata=metadata)
    with atomic_writer(path) as out:
        out.write(payload)


def load_safetensors(path) -> OrderedDict:
    """Read a ``.safetensors`` file (e.g. one written by ``safetensors.torch.save_file``).

    float16 tensors load as float16. chainrule has no bfloat16 dtype yet, so bfloat16
    tensors load as float32, which holds every bfloat16 value exactly (with a warning).
    """
    st = _safetensors()
    if hasattr(path, "read"):
        raw, name = path.read(), str(getattr(path, "name", None) or type(path).__name__)
    else:
        name = os.fspath(path)
        with open(name, "rb") as handle:
            raw = handle.read()
    try:
        entries = st.deserialize(raw)
    except Exception as error:  # the Rust parser's SafetensorError is not importable everywhere
        raise RuntimeError(f"load_safetensors: cannot read '{name}': {error}") from None
    order = _offset_order(raw)
    del raw
    entries.sort(key=lambda item: order[item[0]])
    return OrderedDict((key, make_tensor(_array(key, entry, name))) for key, entry in entries)


def _offset_order(raw: bytes) -> dict[str, tuple[int, str]]:
    """Sort keys putting tensors in file order, as ``safetensors.torch.load_file`` returns them
    (``deserialize`` gives them in hash order); the header was already checked by it."""
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    return {key: (spec["data_offsets"][0], key) for key, spec in header.items()
            if key != "__metadata__"}


def _array(key: str, entry: dict, file: str) -> np.ndarray:
    dtype = entry["dtype"]
    if dtype == "BF16":
        _warn_bfloat16(file)
        return widen_bfloat16(np.frombuffer(entry["data"], dtype="<u2")).reshape(entry["shape"])
    if dtype not in _NUMPY_DTYPES:
        raise RuntimeError(f"load_safetensors: cannot read '{file}': tensor '{key}' has dtype "
                           f"{dtype}, which chainrule cannot hold (it reads "
                           f"{', '.join([*_NUMPY_DTYPES, 'BF16'])})")
    array = np.frombuffer(entry["data"], dtype=np.dtype(_NUMPY_DTYPES[dtype]).newbyteorder("<"))
    return array.astype(array.dtype.newbyteorder("="), copy=True).reshape(entry["shape"])


def _warn_bfloat16(file: str) -> None:
    global _warned_bfloat16
    if not _warned_bfloat16:
        _warned_bfloat16 = True
        warnings.warn(f"load_safetensors('{file}'): chainrule has no bfloat16 dtype yet, so "
                      "bfloat16 tensors are loaded as float32 (exactly: every bfloat16 value "
                      "is a float32 value)", UserWarning, stacklevel=3)
