"""The optional compiled kernels of ``kernels.c``, loaded with ctypes.

pip compiles ``kernels.c`` when it installs chainrule and a C compiler is at hand; without
one, ``library`` is ``None`` and chainrule runs on NumPy alone, with the same results.
``chainrule.backends.native`` is the switch users see.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import os

import numpy as np

__all__ = ["KERNELS", "Kernels", "library"]


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


_P, _INT = ctypes.c_void_p, ctypes.c_int
_SIGNATURES = {
    "transpose": ((_P, _P, ctypes.c_int64, ctypes.c_int64), None),
    "im2col": ((_P, _P, _P, _INT), _INT),
    "col2im": ((_P, _P, _P, _INT), _INT),
    "relu": ((_P, _P, ctypes.c_int64), None),
    "relu_grad": ((_P, _P, _P, ctypes.c_int64), None),
    "maxpool": ((_P, _P, _P, _P), _INT),
    "maxpool_disjoint": ((_P, _P, _P, _P), _INT),
    "maxpool_scatter": ((_P, _P, _P, _P), _INT),
    "maxpool_scatter_disjoint": ((_P, _P, _P, _P), _INT),
}


class Kernels:
    """The kernels for one element type. Arrays must be C-contiguous and of that type;
    ``geometry`` is the int64 array described at the top of ``kernels.c``."""

    def __init__(self, lib: ctypes.CDLL, suffix: str):
        for name, (argtypes, restype) in _SIGNATURES.items():
            function = getattr(lib, f"{name}_{suffix}")
            function.argtypes, function.restype = argtypes, restype
            setattr(self, "_" + name, function)

    def transpose(self, src: np.ndarray, dst: np.ndarray) -> None:
        """``dst = src.T`` for a 2-d ``src``."""
        self._transpose(src.ctypes.data, dst.ctypes.data, *src.shape)

    def relu(self, x: np.ndarray, out: np.ndarray) -> None:
        self._relu(x.ctypes.data, out.ctypes.data, x.size)

    def relu_grad(self, result: np.ndarray, grad: np.ndarray, out: np.ndarray) -> None:
        """``out = grad`` where ``result > 0``, else 0."""
        self._relu_grad(result.ctypes.data, grad.ctypes.data, out.ctypes.data, out.size)

    def im2col(self, x: np.ndarray, cols: np.ndarray, geometry: np.ndarray,
               whole_batch: bool) -> None:
        if self._im2col(x.ctypes.data, cols.ctypes.data, geometry.ctypes.data, whole_batch):
            raise MemoryError("im2col: out of memory for a transposed copy of the input")

    def col2im(self, cols: np.ndarray, gx: np.ndarray, geometry: np.ndarray,
               whole_batch: bool) -> None:
        if self._col2im(cols.ctypes.data, gx.ctypes.data, geometry.ctypes.data, whole_batch):
            raise MemoryError("col2im: out of memory for the accumulator")

    def maxpool(self, x: np.ndarray, out: np.ndarray, winners: np.ndarray,
                geometry: np.ndarray) -> None:
        if self._maxpool(x.ctypes.data, out.ctypes.data, winners.ctypes.data,
                         geometry.ctypes.data):
            raise MemoryError("max pooling: out of memory for a row of winners")

    def maxpool_disjoint(self, x: np.ndarray, out: np.ndarray, winners: np.ndarray,
                         geometry: np.ndarray) -> None:
        """``maxpool`` for side-by-side windows (stride = kernel, no padding or dilation)."""
        if self._maxpool_disjoint(x.ctypes.data, out.ctypes.data, winners.ctypes.data,
                                  geometry.ctypes.data):
            raise MemoryError("max pooling: out of memory for the row maxima")

    def maxpool_scatter(self, grad: np.ndarray, winners: np.ndarray, gx: np.ndarray,
                        geometry: np.ndarray) -> None:
        if self._maxpool_scatter(grad.ctypes.data, winners.ctypes.data, gx.ctypes.data,
                                 geometry.ctypes.data):
            raise MemoryError("max pooling: out of memory for the window offsets")

    def maxpool_scatter_disjoint(self, grad: np.ndarray, winners: np.ndarray, gx: np.ndarray,
                                 geometry: np.ndarray) -> None:
        """``maxpool_scatter`` for side-by-side windows."""
        if self._maxpool_scatter_disjoint(grad.ctypes.data, winners.ctypes.data,
                                          gx.ctypes.data, geometry.ctypes.data):
            raise MemoryError("max pooling: out of memory for a row of winners")


library = _load()
KERNELS: dict[np.dtype, Kernels] = {} if library is None else {
    np.dtype(np.float32): Kernels(library, "f32"), np.dtype(np.float64): Kernels(library, "f64")}
