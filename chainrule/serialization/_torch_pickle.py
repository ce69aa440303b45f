"""PyTorch's pickle conventions, both ways: tensors as ``torch._utils._rebuild_tensor_v2``
calls over storages that live outside the pickle, named by persistent ids
``("storage", torch.FloatStorage, key, "cpu", numel)``.

``TorchUnpickler`` rebuilds only the globals in ``_allowed_globals`` (and the user's
``add_safe_globals``) unless the caller opted into ``weights_only=False``; refusing a
global raises ``pickle.UnpicklingError`` before anything it names is called.
"""

from __future__ import annotations

import _compat_pickle
import functools
import pickle
import warnings
from collections import Counter, OrderedDict
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, make_tensor
from chainrule.serialization._allowlist import refused_global_message, user_allowed
from chainrule.serialization._torch_zip import TorchArchive, storage_array
from chainrule.serialization.layout import MAX_NDIM, FormatError, widen_bfloat16

# bfloat16 has no NumPy dtype: its storages are read as raw uint16 and widened on rebuild.
_BFLOAT16_RAW = np.dtype(np.uint16)
STORAGE_DTYPES = {"FloatStorage": np.dtype(np.float32), "DoubleStorage": np.dtype(np.float64),
                  "HalfStorage": np.dtype(np.float16), "BFloat16Storage": _BFLOAT16_RAW,
                  "LongStorage": np.dtype(np.int64), "IntStorage": np.dtype(np.int32),
                  "ShortStorage": np.dtype(np.int16), "CharStorage": np.dtype(np.int8),
                  "ByteStorage": np.dtype(np.uint8), "BoolStorage": np.dtype(np.bool_)}
STORAGE_NAMES = {dtype: name for name, dtype in STORAGE_DTYPES.items() if name != "BFloat16Storage"}
TORCH_DTYPE_NAMES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
                     "float64", "bfloat16")
# dtypes PyTorch files may hold that chainrule has no counterpart for
MISSING_DTYPE_NAMES = ("complex32", "complex64", "complex128", "uint16", "uint32", "uint64",
                       "float8_e4m3fn", "float8_e5m2", "qint8", "quint8", "qint32")


class StorageType:
    """What a file's ``torch.FloatStorage`` (etc.) global loads as."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = STORAGE_DTYPES[name]


class Storage:
    """A loaded storage: its elements as a 1-D array, and whether they are raw bfloat16."""

    def __init__(self, array: np.ndarray, bfloat16: bool) -> None:
        self.array = array
        self.bfloat16 = bfloat16

    @functools.cached_property
    def widened(self) -> np.ndarray:
        return bfloat16_to_float32(self.array) if self.bfloat16 else self.array


def bfloat16_to_float32(raw: np.ndarray) -> np.ndarray:
    """``widen_bfloat16(raw)``, warning that chainrule has no bfloat16."""
    warnings.warn("chainrule has no bfloat16: bfloat16 tensors load as float32 (exactly)",
                  stacklevel=2)
    return widen_bfloat16(raw)


def _dtype_global(name: str):
    from chainrule._dtype import to_dtype

    if name == "bfloat16":
        warnings.warn("chainrule has no bfloat16: torch.bfloat16 loads as float32", stacklevel=2)
        name = "float32"
    return to_dtype(name)


def _check_ints(value, what: str, count: int | None = None) -> tuple:
    items = value if isinstance(value, tuple) else (value,)
    if (not all(type(item) is int and item >= 0 for item in items)
            or (count is not None and len(items) != count) or len(items) > MAX_NDIM):
        raise FormatError(f"a tensor has an invalid {what} {value!r}")
    return items


def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                      metadata=None) -> Tensor:
    """``torch._utils._rebuild_tensor_v2``: a (possibly strided) view of a loaded storage."""
    if not isinstance(storage, Storage) or not isinstance(size, tuple):
        raise FormatError("a tensor is not built from a storage and a size tuple")
    (offset,) = _check_ints(storage_offset, "storage offset")
    size = _check_ints(size, "size")
    stride = _check_ints(stride, "stride", len(size))
    elements = storage.array.size
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset - 1
    if offset > elements or last >= elements:
        raise FormatError(f"a tensor of size {list(size)}, stride {list(stride)} and offset "
                          f"{offset} reaches past its storage of {elements} elements")
    base = storage.widened[offset:]
    array = np.lib.stride_tricks.as_strided(base, shape=size,
                                            strides=[s * base.itemsize for s in stride])
    tensor = make_tensor(array)
    tensor._requires_grad = bool(requires_grad) and array.dtype.kind == "f"
    return tensor


def rebuild_parameter(data, requires_grad, backward_hooks):
    """``torch._utils._rebuild_parameter``."""
    from chainrule.nn.parameter import Parameter

    if not isinstance(data, Tensor):
        raise FormatError("a parameter is not built from a tensor")
    return Parameter(data, requires_grad=bool(requires_grad))


def _encode_bytes(text, encoding="latin1"):
    # how protocol-2 pickles spell bytes; only the one encoding they use is allowed
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise FormatError("_codecs.encode is allowed only for latin1 bytes")
    return text.encode("latin1")


def _bytearray(source=b"", *args) -> bytearray:
    # bytearray(n) would allocate n bytes that the file never had to contain
    if not isinstance(source, (bytes, bytearray, str)):
        raise FormatError(f"bytearray is allowed only from bytes, not {type(source).__name__}")
    return bytearray(source, *args)


@functools.cache
def _allowed_globals() -> dict[str, Any]:
    """Each global ``weights_only=True`` rebuilds, by the name a file uses, and what it becomes."""
    from chainrule._device import device
    from chainrule._size import Size
    from chainrule.nn.parameter import Parameter

    allowed = {"torch._utils._rebuild_tensor_v2": rebuild_tensor_v2,
               "torch._utils._rebuild_parameter": rebuild_parameter,
               "torch.nn.parameter.Parameter": Parameter, "torch.Size": Size,
               "torch.device": device, "collections.OrderedDict": OrderedDict,
               "collections.Counter": Counter, "builtins.set": set,
               "builtins.bytearray": _bytearray, "builtins.complex": complex,
               "_codecs.encode": _encode_bytes}
    allowed.update({f"torch.{name}": StorageType(name) for name in STORAGE_DTYPES})
    # resolved when a file names them, so only files holding bfloat16 warn about it
    allowed.update({f"torch.{name}": functools.partial(_dtype_global, name)
                    for name in TORCH_DTYPE_NAMES})
    return allowed


def _chainrule_location(module: str, name: str) -> tuple[str, str]:
    """Where a ``torch.*`` global lives in chainrule (a full unpickle of a torch file)."""
    if module == "torch" or module.startswith("torch."):
        return "chainrule" + module[len("torch"):], name
    return module, name


class TorchUnpickler(pickle.Unpickler):
    """Reads ``data.pkl``; storages come from ``archive``, globals from the allow-lists."""

    def __init__(self, file, archive: TorchArchive, big_endian: bool, weights_only: bool,
                 file_name: str) -> None:
        super().__init__(file)
        self.archive = archive
        self.big_endian = big_endian
        self.weights_only = weights_only
        self.file_name = file_name
        self.storages: dict[str, Storage] = {}

    def find_class(self, module: str, name: str):
        # Protocol-2 pickles name builtins by their Python 2 modules (``__builtin__.set``).
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full_name = f"{module}.{name}"
        found = _allowed_globals().get(full_name)
        if found is not None:
            return found() if isinstance(found, functools.partial) else found
        allowed, value = user_allowed(full_name)
        if not allowed:  # allowed by its chainrule class, as ``torch.nn.Dropout`` is under the shim
            allowed, value = user_allowed(".".join(_chainrule_location(module, name)))
        if allowed:
            return value
        if module == "torch" and (name.endswith("Storage") or name in MISSING_DTYPE_NAMES):
            raise FormatError(f"it holds {full_name}, a dtype chainrule does not have")
        if self.weights_only:
            raise pickle.UnpicklingError(refused_global_message(full_name, self.file_name))
        return super().find_class(*_chainrule_location(module, name))

    def persistent_load(self, pid) -> Storage:
        if (not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage"
                or not isinstance(pid[1], StorageType) or not isinstance(pid[2], str)
                or type(pid[4]) is not int):
            raise FormatError(f"the pickle refers to an unknown persistent object {pid!r:.80}")
        _, storage_type, key, _location, numel = pid
        if key not in self.storages:
            view = self.archive.read(f"data/{key}")
            array = storage_array(view, storage_type.dtype, self.big_endian)
            if array.size != numel:
                raise FormatError(f"storage '{key}' holds {array.size} elements, the pickle "
                                  f"says {numel}")
            self.storages[key] = Storage(array, storage_type.name == "BFloat16Storage")
        return self.storages[key]


class TorchGlobal:
    """A ``torch.*`` global to write into a pickle by name, whether or not torch is installed."""

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name

    def __call__(self, *args):  # pickle only writes reducers that are callable
        raise TypeError(f"{self.module}.{self.name} is a placeholder for pickling")


@functools.cache
def torch_global(module: str, name: str) -> TorchGlobal:
    return TorchGlobal(module, name)


class TorchPickler(pickle._Pickler):
    """Pickles like ``torch.save``: tensors by reference to storages collected in ``storages``.

    The pure-Python pickler, because only it can write a global (``torch.FloatStorage``)
    that is not importable here.
    """

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file) -> None:
        super().__init__(file, protocol=2)
        self.storages: dict[int, tuple[str, np.ndarray]] = {}

    def save(self, obj, save_persistent_id=True):
        from chainrule._dtype import dtype

        if type(obj) is dtype:
            obj = torch_global("torch", obj.name)
        super().save(obj, save_persistent_id)

    def _save_torch_global(self, obj: TorchGlobal) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[TorchGlobal] = _save_torch_global

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            return ("storage", torch_global("torch", STORAGE_NAMES[obj.array.dtype]), obj.key,
                    "cpu", obj.array.size)
        return None

    def reducer_override(self, obj):
        from chainrule._device import device
        from chainrule._size import Size
        from chainrule.nn.parameter import Parameter

        if isinstance(obj, Parameter):
            return (torch_global("torch._utils", "_rebuild_parameter"),
                    (make_tensor(obj._data), obj.requires_grad, OrderedDict()))
        if isinstance(obj, Tensor):
            storage, offset, stride = self._storage_of(obj._data)
            return (torch_global("torch._utils", "_rebuild_tensor_v2"),
                    (storage, offset, tuple(obj._data.shape), stride, obj.requires_grad,
                     OrderedDict()))
        if isinstance(obj, Size):
            return (torch_global("torch", "Size"), (tuple(obj),))
        if isinstance(obj, device):
            return (torch_global("torch", "device"), (str(obj),))
        return NotImplemented

    def _storage_of(self, array: np.ndarray) -> tuple[_StorageRef, int, tuple]:
        """The storage ``array`` views (shared with every other view of it), offset, strides."""
        if array.dtype.newbyteorder("=") not in STORAGE_NAMES:
            raise TypeError(f"chainrule.save cannot store tensors of dtype {array.dtype} in "
                            "PyTorch's format")
        root = array
        while isinstance(root.base, np.ndarray):
            root = root.base
        placement = _placement(array, root) if array.size else None
        if placement is None:  # a copy of its own
            root = np.array(array, dtype=array.dtype.newbyteorder("="), order="C")
            placement = 0, tuple(s // root.itemsize for s in root.strides)
        entry = self.storages.setdefault(id(root), (str(len(self.storages)), root.reshape(-1)))
        return _StorageRef(*entry), *placement


class _StorageRef:
    def __init__(self, key: str, array: np.ndarray) -> None:
        self.key = key
        self.array = array


def _placement(array: np.ndarray, root: np.ndarray) -> tuple[int, tuple] | None:
    """Non-empty ``array``'s offset and strides, in elements, inside C-contiguous ``root``;
    None if it is not such a view (another dtype, a byte-swapped or reversed view...)."""
    if (root.dtype != array.dtype or not root.dtype.isnative or not root.flags.c_contiguous):
        return None
    itemsize = array.dtype.itemsize
    start = array.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    if start % itemsize or any(s % itemsize or s < 0 for s in array.strides):
        return None
    offset, stride = start // itemsize, tuple(s // itemsize for s in array.strides)
    last = offset + sum((n - 1) * s for n, s in zip(array.shape, stride))
    if offset < 0 or last >= root.size:
        return None
    return offset, stride
