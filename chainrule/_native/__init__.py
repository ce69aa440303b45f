"""The optional compiled kernels of ``kernels.c`` and ``attention.c``, loaded with ctypes.

pip compiles them into one library when it installs chainrule and a C compiler is at hand;
without one, ``library`` is ``None`` and chainrule runs on NumPy alone, with the same results.
``chainrule.backends.native`` is the switch users see.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.machinery
import os

import numpy as np

__all__ = ["KERNELS", "Kernels", "cap_cpu_level", "library"]


def _load() -> ctypes.CDLL | None:
    here = os.path.dirname(__file__)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(here, "_kernels" + suffix)
        if os.path.exists(path):
            try:
                return ctypes.CDLL(path)
            except OSError:
                return None
    return None


_byte_at, _byref = ctypes.c_char.from_buffer, ctypes.byref


class _Array:
    """A pointer argument's ``argtypes`` entry: ctypes hands it the array passed there and
    passes on its data pointer (``None``: a null pointer). The buffer protocol gives it in a
    third of the time of ``a.ctypes.data``, which serves the arrays that cannot export a
    writable buffer (read-only, empty, not contiguous)."""

    @staticmethod
    def from_param(a):
        if a is None:
            return None
        try:
            return _byref(_byte_at(a))
        except (TypeError, ValueError, BufferError):
            return ctypes.c_void_p(a.ctypes.data)


_P, _INT = _Array, ctypes.c_int
_SIGNATURES = {
    "transpose": ((_P, _P, ctypes.c_int64, ctypes.c_int64), None),
    "im2col": ((_P, _P, _P, _INT), _INT),
    "col2im": ((_P, _P, _P, _INT), _INT),
    "relu": ((_P, _P, ctypes.c_int64), None),
    "relu_grad": ((_P, _P, _P, ctypes.c_int64), None),
    "add_rows_at": ((_P, _P, _P, ctypes.c_int64, ctypes.c_int64), None),
    "adam": ((_P, _P, _P, _P, ctypes.c_int64, _P), None),
    "log_softmax_rows": ((_P, _P, _P, ctypes.c_int64, ctypes.c_int64), None),
    "gelu": ((_P, _P, ctypes.c_int64, _INT), None),
    "gelu_grad": ((_P, _P, _P, ctypes.c_int64, _INT), None),
    "layer_norm": ((_P, _P, _P, _P, _P, _P, ctypes.c_int64, ctypes.c_int64, ctypes.c_double), None),
    "layer_norm_grad": ((_P, _P, _P, _P, _P, _P, _P, ctypes.c_int64, ctypes.c_int64), _INT),
    "maxpool": ((_P, _P, _P, _P), _INT),
    "maxpool_disjoint": ((_P, _P, _P, _P), _INT),
    "maxpool_scatter": ((_P, _P, _P, _P), _INT),
    "maxpool_scatter_disjoint": ((_P, _P, _P, _P), _INT),
    "direct_conv": ((_P, _P, _P, _P, _P, ctypes.c_int64), _INT),
    "direct_weight_grad": ((_P, _P, _P, _P, ctypes.c_int64), _INT),
    "direct_input_grad": ((_P, _P, _P, _P, ctypes.c_int64), _INT),
    "attention": ((_P, _P, _P, _P, _P, _P, ctypes.c_double), _INT),
    "attention_grad": ((_P, _P, _P, _P, _P, _P, _P, _P, _P, ctypes.c_double), _INT),
}


class Kernels:
    """The kernels for one element type, as methods named after them (``im2col``, ``maxpool``
    ...) that take the C function's arguments with arrays in place of pointers. Arrays must be
    of that type and C-contiguous, but for attention's, which come with their strides;
    ``geometry`` is the int64 array described at the top of ``kernels.c`` (of ``attention.c``
    for attention). A kernel that cannot allocate its scratch memory raises ``MemoryError``."""

    def __init__(self, lib: ctypes.CDLL, suffix: str):
        self.direct_level = lib.direct_level()  # the direct convolutions' build for this CPU
        for name, (argtypes, restype) in _SIGNATURES.items():
            function = getattr(lib, f"{name}_{suffix}")
            function.argtypes, function.restype = argtypes, restype
            if restype is not None:
                function.errcheck = functools.partial(_check_status, name)
            setattr(self, name, function)


def _check_status(name: str, status, function, arguments):
    """``errcheck`` of the kernels that return a status: 0 is success."""
    if status == -1:
        raise MemoryError(f"chainrule's compiled {name}: out of memory for scratch space")
    if status:
        raise RuntimeError(f"chainrule's compiled {name} does not run on this CPU")
    return status


library = _load()
if library is not None:
    library.direct_cap_cpu_level.argtypes, library.direct_cap_cpu_level.restype = (_INT,), None
    library.direct_level.argtypes, library.direct_level.restype = (), _INT


def cap_cpu_level(cap: int) -> None:
    """Run the direct convolutions' build for at most this CPU level (2: AVX-512, 1: AVX2 and
    FMA, 0: none, im2col instead), and attention's (AVX2 and FMA from level 1, plain C at 0),
    as tests do to cover what this CPU would not pick."""
    library.direct_cap_cpu_level(cap)
    for kernels in KERNELS.values():
        kernels.direct_level = library.direct_level()
KERNELS: dict[np.dtype, Kernels] = {} if library is None else {
    np.dtype(np.float32): Kernels(library, "f32"), np.dtype(np.float64): Kernels(library, "f64")}
