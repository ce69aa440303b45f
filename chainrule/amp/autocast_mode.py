"""``torch.autocast``: inside the region, matmul-like ops run in a lower precision (bfloat16 by
default on the CPU), ops that need range run in float32, and every other op follows its inputs.

Ops take part through one seam: each eligible op passes its tensor arguments through
``autocast_inputs(op_name, ...)``, which casts them when the op is on one of the lists below
(PyTorch's CPU lists, restricted to the ops chainrule has). Casting is an ordinary ``.to``, so
gradients flow back to the original dtype. A machine without CUDA turns ``"cuda"`` autocast off
with PyTorch's warning.

>>> import chainrule as torch
>>> with torch.autocast("cpu"):
...     y = torch.ones(2, 3) @ torch.ones(3, 2)
>>> y.dtype
torch.bfloat16
"""

from __future__ import annotations

import functools
import warnings

from chainrule._dtype import bfloat16, dtype, float16, float32, float64

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype", "autocast_inputs",
           "is_autocast_available"]

LOWER_PRECISION_OPS = frozenset({
    "linear", "matmul", "mm", "bmm", "addmm", "baddbmm", "conv1d", "conv2d", "conv_transpose1d",
    "conv_transpose2d",
})
FLOAT32_OPS = frozenset({
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
})
_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
                 "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                 "privateuseone")
_CPU_DTYPES = (bfloat16, float16)

# Per device type: [enabled, dtype]. Only "cpu" can be enabled on this machine.
_state = {"cpu": [False, bfloat16], "cuda": [False, float16]}


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast can run on ``device_type`` here: only the CPU."""
    return device_type == "cpu"


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether an autocast region for ``device_type`` is active (CUDA when not given)."""
    return _state.get(device_type, [False])[0]


def get_autocast_dtype(device_type: str) -> dtype:
    """The lower-precision dtype autocast uses on ``device_type``."""
    return _state.get(device_type, [False, float16])[1]


class autocast:
    """Context manager (and decorator) for mixed precision on ``device_type``.

    ``dtype`` defaults to bfloat16 on the CPU; ``enabled=False`` turns a region off inside an
    enabled one. ``cache_enabled`` is accepted (there are no GPU weight casts to cache).
    """

    def __init__(self, device_type: str, dtype: dtype | None = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type.split(":")[0] not in _DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start "
                               f"of device string: {device_type}")
        self.device = device_type
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self._cache_enabled = True if cache_enabled is None else cache_enabled
        if enabled and device_type == "cuda":
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.",
                          UserWarning, stacklevel=2)
            enabled = False
        elif enabled and device_type != "cpu":
            warnings.warn(f"User provided device_type of '{device_type}', but it is not "
                          "available. Disabling", UserWarning, stacklevel=2)
            enabled = False
        elif enabled and self.fast_dtype not in _CPU_DTYPES:
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling "
                          "autocast.\nCPU Autocast only supports dtypes of torch.bfloat16, "
                          "torch.float16 currently.", UserWarning, stacklevel=2)
            enabled = False
        self._enabled = enabled
        self._saved: list[list] = []

    def __enter__(self) -> autocast:
        state = _state.setdefault(self.device, [False, self.fast_dtype])
        self._saved.append(list(state))
        state[0] = self._enabled
        if self._enabled:
            state[1] = self.fast_dtype
        return self

    def __exit__(self, *exc) -> None:
        _state[self.device][:] = self._saved.pop()

    def __call__(self, func):
        @functools.wraps(func)
        def run_with_autocast(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        return run_with_autocast


def _cast(value, target: dtype):
    # Only float16/bfloat16/float32 tensors are eligible; float64 stays float64, as in PyTorch.
    if getattr(value, "is_floating_point", None) is None or not value.is_floating_point():
        return value
    if value.dtype is float64 or value.dtype is target:
        return value
    return value.to(target)


def autocast_inputs(op_name: str, *tensors):
    """``tensors`` cast for ``op_name`` under the active CPU autocast region (unchanged outside
    one, or for an op on neither list). Returns a tuple in the same order; ``None`` stays."""
    enabled, fast_dtype = _state["cpu"]
    if not enabled:
        return tensors
    if op_name in LOWER_PRECISION_OPS:
        return tuple(_cast(t, fast_dtype) for t in tensors)
    if op_name in FLOAT32_OPS:
        return tuple(_cast(t, float32) for t in tensors)
    return tensors
