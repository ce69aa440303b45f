"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their one-step cells.

Every step is composed from ``F.linear``, ``sigmoid``, ``tanh`` and elementwise
arithmetic, so backpropagation through time is ordinary autograd over the
unrolled loop. The input projection ``W_ih x + b_ih`` is computed for all time
steps at once; only the hidden-to-hidden product runs step by step. A ``PackedSequence``
input runs each step on only the sequences still going (the first ``batch_sizes[t]``).
"""

from __future__ import annotations

import math
import numbers
import warnings

from chainrule._creation import empty, zeros
from chainrule._ops._util import Tensor
from chainrule._ops.shape import cat, stack
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.modules._checks import check_argument
from chainrule.nn.modules._repr import changed_settings
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.nn.utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# One time step of each recurrence. ``gi`` is the input projection W_ih x + b_ih, already computed.

def _rnn_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, relu: bool) -> Tensor:
    pre = gi + F.linear(h, w_hh, b_hh)
    return pre.relu() if relu else pre.tanh()


def _lstm_step(gi: Tensor, h: Tensor, c: Tensor, w_hh: Tensor,
               b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    i, f, g, o = (gi + F.linear(h, w_hh, b_hh)).chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def _gru_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    # The reset gate scales the hidden term *including* its bias b_hn.
    n = (i_n + r * h_n).tanh()
    return (1 - z) * n + z * h


def _uniform_by_hidden_size(module: Module) -> None:
    """PyTorch's initialisation of recurrent weights: every parameter U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for weight in module.parameters():
        init.uniform_(weight, -bound, bound)


class RNNBase(Module):
    """Shared machinery of ``RNN``, ``LSTM`` and ``GRU``: parameters, checks and the layer loop.

    Parameters per layer ``k`` and direction (suffix ``''`` or ``'_reverse'``):
    ``weight_ih_l{k}`` ``(gates*hidden_size, in)``, ``weight_hh_l{k}``
    ``(gates*hidden_size, hidden_size)``, ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None) -> None:
        super().__init__()
        check_argument(isinstance(dropout, numbers.Number) and not isinstance(dropout, bool)
                       and 0 <= dropout <= 1, "dropout should be a number in range [0, 1] "
                       "representing the probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}")
        check_argument(hidden_size > 0, "hidden_size must be greater than zero")
        check_argument(num_layers > 0, "num_layers must be greater than zero")
        check_argument(proj_size >= 0,
                       "proj_size should be a positive integer or zero to disable projections")
        check_argument(proj_size < hidden_size, "proj_size has to be smaller than hidden_size")
        if proj_size > 0:
            raise NotImplementedError("LSTM with proj_size > 0 is not supported by chainrule yet")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {"weight_ih": (gate_size, layer_input), "weight_hh": (gate_size, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                for name, shape in shapes.items():
                    self.register_parameter(name + suffix, Parameter(empty(shape, dtype=dtype, device=device)))
                    self._flat_weights_names.append(name + suffix)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_by_hidden_size(self)

    @property
    def all_weights(self) -> list[list[Parameter]]:
        per_direction = 4 if self.bias else 2
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i:i + per_direction]]
                for i in range(0, len(names), per_direction)]

    def _layer_weights(self, layer: int, direction: int) -> tuple:
        suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        return (getattr(self, "weight_ih" + suffix), getattr(self, "weight_hh" + suffix),
                getattr(self, "bias_ih" + suffix, None), getattr(self, "bias_hh" + suffix, None))

    def flatten_parameters(self) -> None:
        """A no-op: torch gathers the weights into one cuDNN buffer here, chainrule has none."""

    def _check_input(self, input: Tensor) -> bool:
        """Validate ``input``; return whether it is batched."""
        if input.dim() not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                             f"{input.dim()}D tensor instead")
        self._check_input_size(input)
        return input.dim() == 3

    def _check_input_size(self, input: Tensor) -> None:
        if input.size(-1) != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.size(-1)}")

    def _check_hidden(self, hx: Tensor, expected: tuple, message: str = "Expected hidden size {}, got {}") -> None:
        if tuple(hx.shape) != expected:
            raise RuntimeError(message.format(expected, list(hx.shape)))

    def _run_layers(self, input: Tensor, states: list[Tensor],
                    batch_sizes: list[int] | None = None) -> tuple[Tensor, list[Tensor]]:
        """Run every layer and direction over time-major ``input`` ``(L, N, H_in)``, or over
        packed data ``(sum(batch_sizes), H_in)`` whose step ``t`` holds ``batch_sizes[t]`` rows.

        ``states`` holds the initial ``(D*num_layers, N, H)`` tensors (one for RNN/GRU,
        ``h`` and ``c`` for LSTM); the final ones come back in the same layout.
        """
        directions = 2 if self.bidirectional else 1
        finals: list[list[Tensor]] = [[] for _ in states]
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                w_ih, w_hh, b_ih, b_hh = self._layer_weights(layer, direction)
                projected = F.linear(input, w_ih, b_ih)
                projected = (projected.unbind(0) if batch_sizes is None
                             else projected.split(batch_sizes, 0))
                state = [s[index] for s in states]
                steps = [None] * len(projected)
                order = range(len(projected) - 1, -1, -1) if direction == 1 else range(len(projected))
                for t in order:
                    steps[t], state = self._step_running(projected[t], state, w_hh, b_hh)
                outputs.append(stack(steps, 0) if batch_sizes is None else cat(steps, 0))
                for final, s in zip(finals, state):
                    final.append(s)
            input = outputs[0] if directions == 1 else cat(outputs, -1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                input = F.dropout(input, self.dropout, True)
        return input, [stack(final, 0) for final in finals]

    def _step(self, gi: Tensor, state: list[Tensor], w_hh: Tensor, b_hh: Tensor | None) -> list[Tensor]:
        raise NotImplementedError

    def _step_running(self, gi: Tensor, state: list[Tensor], w_hh: Tensor,
                      b_hh: Tensor | None) -> tuple[Tensor, list[Tensor]]:
        """One step of the first ``len(gi)`` sequences: ``(their output, every state)``.

        Packed sequences are sorted longest first, so the ones not running are the last rows:
        after their end (forwards) or before their start (backwards) they keep their state.
        """
        running = gi.shape[0]
        if running == state[0].shape[0]:
            state = self._step(gi, state, w_hh, b_hh)
            return state[0], state
        stepped = self._step(gi, [s[:running] for s in state], w_hh, b_hh)
        return stepped[0], [cat([new, old[running:]]) for new, old in zip(stepped, state)]

    def _forward(self, input: Tensor | PackedSequence, hx: list[Tensor] | None,
                 names: tuple[str, ...]):
        """Common forward: batch handling, default states and shape checks around ``_run_layers``."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx, names)
        batched = self._check_input(input)
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        expected = ((2 if self.bidirectional else 1) * self.num_layers, input.size(1), self.hidden_size)
        if hx is None:
            hx = [zeros(expected, dtype=input.dtype, device=input.device) for _ in names]
        else:
            if not batched:
                hx = [h.unsqueeze(1) for h in hx]
            for h, name in zip(hx, names):
                self._check_hidden(h, expected, f"Expected {name} size {{}}, got {{}}")
        output, finals = self._run_layers(input, hx)
        if not batched:
            output = output.squeeze(1)
            finals = [h.squeeze(1) for h in finals]
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, finals

    def _forward_packed(self, input: PackedSequence, hx: list[Tensor] | None,
                        names: tuple[str, ...]):
        """The forward over a ``PackedSequence``: ``hx`` and the final states are in the caller's
        batch order, the packed data in order of decreasing length."""
        data, batch_sizes, sorted_indices, unsorted_indices = input
        self._check_input_size(data)
        expected = ((2 if self.bidirectional else 1) * self.num_layers, int(batch_sizes[0]),
                    self.hidden_size)
        if hx is None:
            hx = [zeros(expected, dtype=data.dtype, device=data.device) for _ in names]
        else:
            for h, name in zip(hx, names):
                self._check_hidden(h, expected, f"Expected {name} size {{}}, got {{}}")
            if sorted_indices is not None:
                hx = [h.index_select(1, sorted_indices) for h in hx]
        output, finals = self._run_layers(data, hx, batch_sizes.tolist())
        if unsorted_indices is not None:
            finals = [h.index_select(1, unsorted_indices) for h in finals]
        return PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices), finals

    def forward(self, input: Tensor | PackedSequence,
                hx: Tensor | None = None) -> tuple[Tensor | PackedSequence, Tensor]:
        """``(output, h_n)``: the forward of the one-state layers (RNN, GRU); LSTM has its own."""
        if hx is not None and not isinstance(input, PackedSequence):
            self._check_hx_dims(input, [hx], "hx")
        output, (h_n,) = self._forward(input, None if hx is None else [hx], ("hidden",))
        return output, h_n

    def _check_hx_dims(self, input: Tensor, hx: list[Tensor], what: str) -> None:
        wanted = 3 if input.dim() == 3 else 2
        if input.dim() in (2, 3) and any(h.dim() != wanted for h in hx):
            kind = "batched 3-D" if wanted == 3 else "unbatched 2-D"
            got = ", ".join(f"{h.dim()}-D" for h in hx)
            if len(hx) > 1:
                got = f"({got}) tensors"
            else:
                got += " tensor"
            raise RuntimeError(f"For {kind} input, {what} should also be {wanted}-D but got {got}")

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + changed_settings(
            self, proj_size=0, num_layers=1, bias=True, batch_first=False, dropout=0,
            bidirectional=False)


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` (or ``relu``).

    Input ``(L, N, H_in)`` (``(N, L, H_in)`` if ``batch_first``) or unbatched
    ``(L, H_in)``; ``hx`` ``(D*num_layers, N, H)``. Returns ``(output, h_n)`` with
    output ``(L, N, D*H)``.

    >>> import chainrule as torch
    >>> rnn = torch.nn.RNN(10, 20, num_layers=2)
    >>> output, h_n = rnn(torch.randn(5, 3, 10), torch.zeros(2, 3, 20))
    >>> output.shape, h_n.shape
    (torch.Size([5, 3, 20]), torch.Size([2, 3, 20]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None) -> None:
        check_argument(nonlinearity in ("tanh", "relu"),
                       f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def _step(self, gi, state, w_hh, b_hh):
        return [_rnn_step(gi, state[0], w_hh, b_hh, self.nonlinearity == "relu")]



class LSTM(RNNBase):
    """Long short-term memory; gates ``i, f, g, o`` are stacked in that order in each weight.

    ``c_t = f * c_{t-1} + i * g`` and ``h_t = o * tanh(c_t)``. Returns
    ``(output, (h_n, c_n))``. ``proj_size > 0`` is not supported.

    >>> import chainrule as torch
    >>> lstm = torch.nn.LSTM(10, 20, batch_first=True)
    >>> output, (h_n, c_n) = lstm(torch.randn(3, 5, 10))
    >>> output.shape, h_n.shape, c_n.shape
    (torch.Size([3, 5, 20]), torch.Size([1, 3, 20]), torch.Size([1, 3, 20]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)

    def _step(self, gi, state, w_hh, b_hh):
        return list(_lstm_step(gi, state[0], state[1], w_hh, b_hh))

    def forward(self, input: Tensor | PackedSequence, hx: tuple[Tensor, Tensor] | None = None):
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise RuntimeError("LSTM expects hx to be a tuple (h_0, c_0)")
            if not isinstance(input, PackedSequence):
                self._check_hx_dims(input, list(hx), "hx and cx")
        output, (h_n, c_n) = self._forward(input, None if hx is None else list(hx),
                                           ("hidden[0]", "hidden[1]"))
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit; gates ``r, z, n`` are stacked in that order in each weight.

    ``n_t = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))`` and
    ``h_t = (1 - z) * n_t + z * h_{t-1}``. Returns ``(output, h_n)``.

    >>> import chainrule as torch
    >>> gru = torch.nn.GRU(10, 20, bidirectional=True)
    >>> output, h_n = gru(torch.randn(5, 3, 10))
    >>> output.shape, h_n.shape
    (torch.Size([5, 3, 40]), torch.Size([2, 3, 20]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)

    def _step(self, gi, state, w_hh, b_hh):
        return [_gru_step(gi, state[0], w_hh, b_hh)]



class RNNCellBase(Module):
    """Parameters and checks shared by the one-step cells: ``weight_ih`` ``(gates*H, H_in)``,
    ``weight_hh`` ``(gates*H, H)``, ``bias_ih`` and ``bias_hh`` ``(gates*H,)``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate_size = num_chunks * hidden_size
        self.weight_ih = Parameter(empty((gate_size, input_size), dtype=dtype, device=device))
        self.weight_hh = Parameter(empty((gate_size, hidden_size), dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(gate_size, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(gate_size, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_by_hidden_size(self)

    def _prepare(self, input: Tensor, hx: list[Tensor] | None) -> tuple[Tensor, list[Tensor], bool]:
        """Check shapes, add the batch dimension to unbatched tensors, default ``hx`` to zeros."""
        if input.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got "
                             f"{input.dim()}D instead")
        if input.size(-1) != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.size(-1)} "
                               f"expected {self.input_size}")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        count = 2 if isinstance(self, LSTMCell) else 1
        if hx is None:
            return input, [zeros((input.size(0), self.hidden_size), dtype=input.dtype,
                                 device=input.device) for _ in range(count)], batched
        for index, h in enumerate(hx):
            if h.dim() != input.dim() - (0 if batched else 1):
                raise RuntimeError(f"{type(self).__name__}: Expected hidden to be "
                                   f"{input.dim() - (0 if batched else 1)}D, got {h.dim()}D instead")
            if not batched:
                h = h.unsqueeze(0)
            if h.size(0) != input.size(0):
                raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{index} "
                                   f"batch size {h.size(0)}")
            if h.size(1) != self.hidden_size:
                raise RuntimeError(f"hidden{index} has inconsistent hidden_size: got {h.size(1)}, "
                                   f"expected {self.hidden_size}")
            hx[index] = h
        return input, hx, batched

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        return text


class RNNCell(RNNCellBase):
    """One Elman step: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or ``relu``).

    >>> import chainrule as torch
    >>> cell = torch.nn.RNNCell(10, 20)
    >>> cell(torch.randn(3, 10), torch.randn(3, 20)).shape
    torch.Size([3, 20])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        input, (h,), batched = self._prepare(input, None if hx is None else [hx])
        h = _rnn_step(F.linear(input, self.weight_ih, self.bias_ih), h, self.weight_hh,
                      self.bias_hh, self.nonlinearity == "relu")
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step; returns ``(h', c')``. Gates ``i, f, g, o`` in that order.

    >>> import chainrule as torch
    >>> cell = torch.nn.LSTMCell(10, 20)
    >>> h, c = cell(torch.randn(3, 10))
    >>> h.shape, c.shape
    (torch.Size([3, 20]), torch.Size([3, 20]))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        input, (h, c), batched = self._prepare(input, None if hx is None else list(hx))
        h, c = _lstm_step(F.linear(input, self.weight_ih, self.bias_ih), h, c, self.weight_hh,
                          self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step; returns ``h'``. Gates ``r, z, n`` in that order.

    >>> import chainrule as torch
    >>> cell = torch.nn.GRUCell(10, 20)
    >>> cell(torch.randn(10)).shape
    torch.Size([20])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, (h,), batched = self._prepare(input, None if hx is None else [hx])
        h = _gru_step(F.linear(input, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)
