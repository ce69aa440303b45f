"""Lazy modules: ``LazyLinear``, ``LazyConv1d/2d``, ``LazyBatchNorm1d/2d``.

A lazy module is built without its input size. Its parameters start as
``UninitializedParameter`` placeholders; the first ``forward`` reads the size from the
input, gives them their shapes, initialises them exactly as the eager layer does, and turns
the module into that layer (``LazyLinear`` becomes ``Linear``). Loading a ``state_dict``
into a lazy module takes the shapes from the checkpoint instead.

>>> import chainrule as torch
>>> layer = torch.nn.LazyLinear(2)
>>> layer
LazyLinear(in_features=0, out_features=2, bias=True)
>>> layer(torch.randn(5, 3)).shape
torch.Size([5, 2])
>>> layer
Linear(in_features=3, out_features=2, bias=True)
"""

from __future__ import annotations

from chainrule._creation import tensor
from chainrule._dtype import int64
from chainrule._ops._util import Tensor
from chainrule.autograd.grad_mode import no_grad
from chainrule.nn.modules._checks import check_argument
from chainrule.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d
from chainrule.nn.modules.conv import Conv1d, Conv2d
from chainrule.nn.modules.linear import Linear
from chainrule.nn.parameter import UninitializedBuffer, UninitializedParameter

__all__ = ["LazyLinear", "LazyConv1d", "LazyConv2d", "LazyBatchNorm1d",
           "LazyBatchNorm2d"]

_PLACEHOLDERS = (UninitializedParameter, UninitializedBuffer)


class LazyModuleMixin:
    """Materialises the placeholders on the first call, then becomes ``cls_to_become``.

    A subclass writes ``initialize_parameters(*inputs)``, which materialises its placeholders
    and calls ``reset_parameters()``.
    """

    cls_to_become: type | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters)

    def has_uninitialized_params(self) -> bool:
        """Whether any parameter or buffer is still a placeholder."""
        tensors = list(self._parameters.values()) + list(self._buffers.values())
        return any(isinstance(t, _PLACEHOLDERS) for t in tensors)

    def initialize_parameters(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"initialize_parameters is not implemented for "
                                  f"{type(self).__name__}")

    def _materialize(self, shapes: dict[str, tuple[int, ...]]) -> None:
        """Give each placeholder that the module has its shape, then initialise the parameters as
        the eager layer does."""
        with no_grad():
            for name, shape in shapes.items():
                placeholder = getattr(self, name)
                if placeholder is not None:
                    placeholder.materialize(shape)
            self.reset_parameters()

    def _apply(self, fn):
        # Module._apply rebuilds buffers from fn's result: keep placeholder buffers placeholders
        # (of the converted dtype) so that they are still materialised on the first forward.
        placeholders = [name for name, b in self._buffers.items() if isinstance(b, UninitializedBuffer)]
        super()._apply(fn)
        for name in placeholders:
            if not isinstance(self._buffers[name], UninitializedBuffer):
                self._buffers[name] = UninitializedBuffer(dtype=self._buffers[name].dtype)
        return self

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        # As in PyTorch, a placeholder is saved as itself: it has no values to detach.
        super()._save_to_state_dict(destination, prefix, keep_vars)
        for name, value in list(self._parameters.items()) + list(self._buffers.items()):
            if isinstance(value, _PLACEHOLDERS):
                destination[prefix + name] = value

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        with no_grad():
            for name, value in list(self._parameters.items()) + list(self._buffers.items()):
                if isinstance(value, _PLACEHOLDERS) and prefix + name in state_dict:
                    value.materialize(state_dict[prefix + name].shape)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _infer_parameters(module: LazyModuleMixin, args: tuple) -> None:
    """The forward pre-hook: initialise from the first input, then stop being lazy."""
    module.initialize_parameters(*args)
    if module.has_uninitialized_params():
        raise RuntimeError(f"module {type(module).__name__} has not been fully initialized")
    module._initialize_hook.remove()
    del module._initialize_hook
    if module.cls_to_become is not None:
        module.__class__ = module.cls_to_become


class LazyLinear(LazyModuleMixin, Linear):
    """``Linear`` whose ``in_features`` is the size of the first input's last dim."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(0, 0, False)
        self.weight = UninitializedParameter(dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(dtype=dtype)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor) -> None:
        self.in_features = input.shape[-1]
        if self.has_uninitialized_params():
            self._materialize({"weight": (self.out_features, self.in_features),
                               "bias": (self.out_features,)})


class _LazyConvNd(LazyModuleMixin):
    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None,
                 dtype=None) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode)
        self.weight = UninitializedParameter(dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(dtype=dtype)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor) -> None:
        batched = self.spatial_dims + 2
        if input.ndim not in (batched - 1, batched):
            raise RuntimeError(f"Expected {batched - 1}D (unbatched) or {batched}D (batched) "
                               f"input to {type(self).__name__}, but got input of size: "
                               f"{input.shape}")
        self.in_channels = input.shape[input.ndim - self.spatial_dims - 1]
        check_argument(self.in_channels % self.groups == 0, "in_channels must be divisible by groups")
        if self.has_uninitialized_params():
            weight = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
            self._materialize({"weight": weight, "bias": (self.out_channels,)})


class LazyConv1d(_LazyConvNd, Conv1d):
    """``Conv1d`` whose ``in_channels`` comes from the first input."""

    cls_to_become = Conv1d


class LazyConv2d(_LazyConvNd, Conv2d):
    """``Conv2d`` whose ``in_channels`` comes from the first input."""

    cls_to_become = Conv2d


class _LazyNormBase(LazyModuleMixin):
    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None) -> None:
        super().__init__(0, eps, momentum, False, False)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = UninitializedParameter(dtype=dtype)
            self.bias = UninitializedParameter(dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(dtype=dtype)
            self.running_var = UninitializedBuffer(dtype=dtype)
            self.num_batches_tracked = tensor(0, dtype=int64)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor) -> None:
        if self.has_uninitialized_params():
            self.num_features = input.shape[1]
            self._materialize(dict.fromkeys(("weight", "bias", "running_mean", "running_var"),
                                            (self.num_features,)))


class LazyBatchNorm1d(_LazyNormBase, BatchNorm1d):
    """``BatchNorm1d`` whose ``num_features`` comes from the first input."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNormBase, BatchNorm2d):
    """``BatchNorm2d`` whose ``num_features`` comes from the first input."""

    cls_to_become = BatchNorm2d
