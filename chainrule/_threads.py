"""``set_num_threads`` and ``get_num_threads``: the threads of NumPy's BLAS.

chainrule's only multithreaded work is NumPy's matrix products (the compiled kernels run on
one thread), so the intra-op thread count PyTorch's functions control is the BLAS's. NumPy's
wheels bundle OpenBLAS, whose thread count can be set at run time; with another BLAS (MKL,
Accelerate, a system OpenBLAS) there is nothing to reach, and ``set_num_threads`` warns.

>>> import chainrule as torch
>>> threads = torch.get_num_threads()
>>> torch.set_num_threads(threads)
>>> torch.get_num_threads() == threads
True
"""

from __future__ import annotations

import functools
import os
import warnings

__all__ = ["get_num_threads", "set_num_threads"]


@functools.cache
def _openblas():
    """NumPy's bundled OpenBLAS as its (set, get) thread-count functions, or ``None``."""
    import ctypes
    import glob

    import numpy

    here = os.path.dirname(numpy.__file__)
    paths = (glob.glob(os.path.join(here, os.pardir, "numpy.libs", "*openblas*"))  # Linux, Windows
             + glob.glob(os.path.join(here, ".dylibs", "*openblas*")))  # macOS
    for path in paths:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas{}64_", "scipy_openblas{}", "openblas{}64_", "openblas{}"):
            setter = getattr(library, name.format("_set_num_threads"), None)
            getter = getattr(library, name.format("_get_num_threads"), None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype = (ctypes.c_int,), None
                getter.argtypes, getter.restype = (), ctypes.c_int
                return setter, getter
    return None


def set_num_threads(num: int) -> None:
    """Set the number of threads NumPy's matrix products use (PyTorch: intra-op threads)."""
    if isinstance(num, bool) or not isinstance(num, int):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(num).__name__}")
    if num <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    blas = _openblas()
    if blas is None:
        warnings.warn("chainrule.set_num_threads: NumPy does not use its bundled OpenBLAS here, "
                      "so its thread count cannot be set at run time; set OMP_NUM_THREADS or "
                      "OPENBLAS_NUM_THREADS before starting Python instead", stacklevel=2)
        return
    blas[0](num)


def get_num_threads() -> int:
    """The number of threads NumPy's matrix products use (the CPU count if unknown)."""
    blas = _openblas()
    return blas[1]() if blas is not None else os.cpu_count() or 1
