"""chainrule: a readable deep-learning training system with PyTorch's API, built on NumPy.

>>> import chainrule as torch
>>> x = torch.randn(2, 2, requires_grad=True)
>>> y = x ** 2
>>> y.grad_fn.name()
'PowBackward0'
"""

from __future__ import annotations

__version__ = "0.1.0"

import math as _math

# Importing chainrule changes no global state: NumPy's warnings are silenced only while an op
# runs (chainrule._float_errors), and glibc's allocator is tuned only when asked for.
from chainrule._allocator import tune_if_requested as _tune_allocator_if_requested

_tune_allocator_if_requested()

from chainrule._device import device, get_default_device, set_default_device
from chainrule._dtype import (
    bool_ as bool,  # noqa: A004 - PyTorch's name
)
from chainrule._dtype import (
    bfloat16,
    double,
    dtype,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    promote_types,
    result_type,
    set_default_dtype,
    short,
    uint8,
)
from chainrule._dtype import (
    float as float,  # noqa: A004
)
from chainrule._dtype import (
    int as int,  # noqa: A004
)
from chainrule._size import Size
from chainrule._tensor_str import get_printoptions, printoptions, set_printoptions
from chainrule._threads import get_num_threads, set_num_threads
from chainrule._type_info import finfo, iinfo
from chainrule._determinism import (
    are_deterministic_algorithms_enabled,
    is_deterministic_algorithms_warn_only_enabled,
    use_deterministic_algorithms,
)
from chainrule._tensor import Tensor as Tensor  # "as": re-exported, for type checkers (PEP 484)
from chainrule import _ops  # noqa: F401 - attaches the ops to Tensor
from chainrule._ops import *  # noqa: F403
# torch.det & co. live in linalg; importing them also binds chainrule.linalg to that package.
from chainrule.linalg.inverse import det, inverse, logdet, slogdet
from chainrule._creation import *  # noqa: F403
from chainrule._random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from chainrule.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule import autograd  # noqa: E402
from chainrule._compile import compile  # noqa: E402

inf = _math.inf
nan = _math.nan
pi = _math.pi
e = _math.e

from chainrule._tensor_types import (  # noqa: E402
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)


def is_tensor(obj) -> bool:
    """True if ``obj`` is a chainrule tensor."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


def is_floating_point(input: Tensor) -> bool:
    return input.is_floating_point()


def __getattr__(name: str):
    # Submodules load on first use so `import chainrule` stays fast.
    import importlib

    lazy = {"nn", "optim", "utils", "datasets", "transforms", "train", "plot", "diagnostics",
            "serialization", "testing", "cuda", "backends", "accelerator", "distributions",
            "onnx", "amp", "cpu", "multiprocessing"}
    if name in lazy:
        try:
            return importlib.import_module(f"chainrule.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"chainrule.{name}":
                raise  # a real import error inside the submodule
    elif name in ("save", "load"):
        from chainrule import serialization

        return getattr(serialization, name)
    elif name in ("autocast", "is_autocast_enabled", "get_autocast_dtype",
                  "is_autocast_available"):
        from chainrule.amp import autocast_mode

        return getattr(autocast_mode, name)
    elif name in ("set_float32_matmul_precision", "get_float32_matmul_precision"):
        from chainrule.backends import cuda

        return getattr(cuda, name)
    raise AttributeError(f"module 'chainrule' has no attribute '{name}'")
