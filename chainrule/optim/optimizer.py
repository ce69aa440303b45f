"""``Optimizer``: the base every optimizer shares (parameter groups, state, state dicts).

The base class owns the loop of ``step()``: over the parameter groups and their parameters,
skipping those without a gradient, negating the gradient under ``maximize``, creating each
parameter's state on its first step and counting steps. An optimizer writes only what the
paper writes: ``init_state`` (the state one parameter starts with) and ``update`` (one step of
one parameter, in place, on NumPy arrays).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from typing import Any

import numpy as np

from chainrule._float_errors import ignore_float_errors, restore_float_errors
from chainrule._tensor import Tensor, make_tensor

__all__ = ["Optimizer", "required"]

Array = np.ndarray
ArrayState = dict[str, np.ndarray]  # a parameter's state as update() sees it: arrays, not tensors

# Where PyTorch can run ``capturable=True`` (CUDA-graph capture); never on CPU, so never here.
CAPTURABLE_DEVICES = ['cuda', 'xpu', 'hpu', 'privateuseone', 'xla']


class _RequiredParameter:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Holds ``param_groups`` (dicts of ``params`` plus hyper-parameters) and per-parameter ``state``.

    A new optimizer writes the update of one parameter; ``step()`` does the rest:

    >>> import chainrule as torch
    >>> class SignDescent(Optimizer):
    ...     def __init__(self, params, lr=0.1):
    ...         super().__init__(params, dict(lr=lr))
    ...     def update(self, param, grad, state, group):
    ...         param -= group["lr"] * np.sign(grad)
    >>> w = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
    >>> opt = SignDescent([w])
    >>> w.grad = torch.tensor([3.0, -0.5]); opt.step()
    >>> w.detach(), opt.state[w]["step"]
    (tensor([0.9000, 1.1000]), tensor(1.))
    """

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._step_pre_hooks: dict = {}
        self._step_post_hooks: dict = {}
        if isinstance(params, Tensor):
            from chainrule._tensor_str import type_name

            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type_name(params)}")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        text = f"{type(self).__name__} ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            text += "".join(f"    {key}: {group[key]}\n" for key in sorted(group) if key != "params")
        return text + ")"

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (missing ones take the defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if p.grad_fn is not None:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = {"params": params}
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group[name] = param_group.get(name, default)
        group.update({k: v for k, v in param_group.items() if k not in group})
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters (to None, or to zero)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    p._grad.grad_fn = None
                    p._grad._requires_grad = False
                    p._grad._data.fill(0)

    # What a capturable=True step() names when it refuses to run (see refuse_capturable).
    _capturable_tensors = "params and state_steps"
    _capturable_devices = CAPTURABLE_DEVICES
    # Whether the state holds a step count (``state['step']``), advanced before every update.
    counts_steps = True
    # What step() raises for a sparse gradient; None where PyTorch accepts them.
    sparse_gradients_error: str | None = "{name} does not support sparse gradients"

    def step(self, closure: Callable | None = None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given."""
        loss = self._run_closure(closure)
        token = ignore_float_errors()  # an inf gradient gives nan silently, as in PyTorch
        try:
            for group in self.param_groups:
                params = [p for p in group["params"] if p._grad is not None]
                if params:
                    self.refuse_step(params, group)
                    for p in params:
                        self._step_parameter(p, group)
        finally:
            restore_float_errors(token)
        return loss

    def _step_parameter(self, p: Tensor, group: dict) -> None:
        state = self.state.get(p)
        if not state:
            state = self.initial_state(p, group)
            if state:
                self.state[p] = state
        arrays = {key: value._data for key, value in state.items()}
        if self.counts_steps:
            arrays["step"] += 1
        self.update(p._data, gradient_of(p, group.get("maximize", False)), arrays, group)
        if len(arrays) != len(state):  # the update started state lazily (SGD's momentum buffer)
            state.update((key, make_tensor(value)) for key, value in arrays.items()
                         if key not in state)
            self.state[p] = state
        p._bump_version()

    def initial_state(self, p: Tensor, group: dict) -> dict:
        """A parameter's state before its first step: the step count first (PyTorch's key
        order), then ``init_state``'s arrays as tensors."""
        state = {"step": scalar_state(0.0)} if self.counts_steps else {}
        for key, value in self.init_state(p._data, group).items():
            state[key] = make_tensor(value)
        return state

    def init_state(self, param: Array, group: dict) -> ArrayState:
        """The arrays one parameter's state starts with (e.g. Adam's zero moments)."""
        return {}

    def update(self, param: Array, grad: Array, state: ArrayState, group: dict) -> None:
        """One step of one parameter: change ``param`` and the arrays of ``state`` in place.

        ``grad`` is already negated under ``maximize``; ``state['step']`` (when the optimizer
        counts steps) already counts this step. Arrays the update adds to ``state`` are kept.
        """
        raise NotImplementedError

    def refuse_step(self, params: list[Tensor], group: dict) -> None:
        """PyTorch's errors for a group this optimizer cannot step: sparse gradients, and
        ``capturable=True`` (which needs an accelerator)."""
        if self.sparse_gradients_error is not None and any(p._grad.is_sparse for p in params):
            raise RuntimeError(self.sparse_gradients_error.format(name=type(self).__name__))
        refuse_capturable(group, self._capturable_tensors, self._capturable_devices)

    def _run_closure(self, closure: Callable | None):
        if closure is None:
            return None
        from chainrule.autograd.grad_mode import enable_grad

        with enable_grad():
            return closure()

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}`` as in PyTorch."""
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index_of[id(p)]: value for p, value in self.state.items() if id(p) in index_of}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore state saved by ``state_dict()`` (tensors are copied, cast to each parameter's dtype)."""
        state_dict = deepcopy(state_dict)
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for mine, saved in zip(self.param_groups, saved_groups):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match "
                                 "the size of optimizer's group")
        by_index = {index: p for mine, saved in zip(self.param_groups, saved_groups)
                    for index, p in zip(saved["params"], mine["params"])}
        self.state = defaultdict(dict)
        for index, values in state_dict["state"].items():
            param = by_index.get(int(index))
            if param is None:
                continue
            self.state[param] = {key: _cast_state(key, value, param) for key, value in values.items()}
        for mine, saved in zip(self.param_groups, saved_groups):
            mine.update({k: v for k, v in saved.items() if k != "params"})

    # ------------------------------------------------------------------ hooks
    def register_step_pre_hook(self, hook: Callable):
        from chainrule.utils.hooks import RemovableHandle

        return RemovableHandle.add(self._step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable):
        from chainrule.utils.hooks import RemovableHandle

        return RemovableHandle.add(self._step_post_hooks, hook)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _with_step_hooks(cls.__dict__["step"])


def _with_step_hooks(step: Callable) -> Callable:
    from functools import wraps

    from chainrule.autograd.grad_mode import no_grad

    @wraps(step)
    def hooked(self, *args, **kwargs):
        for hook in list(self._step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                args, kwargs = result
        with no_grad():
            out = step(self, *args, **kwargs)
        for hook in list(self._step_post_hooks.values()):
            hook(self, args, kwargs)
        return out

    return hooked


# The base step() is inherited, not defined in a subclass, so __init_subclass__ cannot wrap it.
Optimizer.step = _with_step_hooks(Optimizer.step)


def _cast_state(key: str, value, param: Tensor):
    if not isinstance(value, Tensor):
        return value
    if key == "step":  # the step count stays float32, as in PyTorch
        return make_tensor(value._data.astype(np.float32))
    return make_tensor(value._data.astype(param._data.dtype))


def scalar_state(value: float) -> Tensor:
    """A 0-d float32 tensor: how PyTorch keeps scalar state (step counts, ASGD's eta and mu)."""
    return make_tensor(np.array(value, np.float32))


def gradient_of(p: Tensor, maximize: bool) -> np.ndarray:
    grad = p._grad._data
    return -grad if maximize else grad


def decay_weights(param: np.ndarray, grad: np.ndarray, lr: float, weight_decay: float,
                  decoupled: bool = False) -> np.ndarray:
    """Weight decay, returning the gradient: L2 adds ``weight_decay * p`` to it; decoupled
    (the AdamW way) shrinks ``p`` in place by ``lr * weight_decay`` instead."""
    if not weight_decay:
        return grad
    if decoupled:
        param *= 1 - lr * weight_decay
        return grad
    return grad + weight_decay * param


def check_hyperparameter(name: str, value: Any, valid: bool) -> None:
    """PyTorch's ``ValueError("Invalid <name>: <value>")`` unless ``valid``.

    >>> check_hyperparameter("learning rate", -1.0, 0.0 <= -1.0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid learning rate: -1.0
    """
    if not valid:
        raise ValueError(f"Invalid {name}: {value}")


def check_betas(betas: tuple[float, float]) -> None:
    """Each running-average coefficient must lie in ``[0, 1)``."""
    for index, beta in enumerate(betas):
        check_hyperparameter(f"beta parameter at index {index}", beta, 0.0 <= beta < 1.0)


def check_adam_hyperparameters(lr: float, betas: tuple[float, float], eps: float,
                               weight_decay: float) -> None:
    """The checks Adam, Adamax, NAdam and RAdam share, in PyTorch's order."""
    check_hyperparameter("learning rate", lr, 0.0 <= lr)
    check_hyperparameter("epsilon value", eps, 0.0 <= eps)
    check_betas(betas)
    check_hyperparameter("weight_decay value", weight_decay, 0.0 <= weight_decay)


def refuse_capturable(group: dict, tensors: str = "params and state_steps",
                      devices: list[str] = CAPTURABLE_DEVICES) -> None:
    """``capturable=True`` is accepted like PyTorch and, like PyTorch on CPU, fails at ``step()``."""
    if group.get("capturable"):
        raise AssertionError(f"If capturable=True, {tensors} must be on supported devices: {devices}.")
