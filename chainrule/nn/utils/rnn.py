"""Variable-length sequences for recurrent layers: padding, and packing into a ``PackedSequence``.

A packed batch stores the sequences time step by time step, longest first: ``data`` holds the
``batch_sizes[0]`` first elements, then the ``batch_sizes[1]`` second ones, and so on, so a
recurrent layer runs each step on only the sequences still going. Packing and unpacking are
indexing and concatenation, so gradients flow through them.

>>> import chainrule as torch
>>> from chainrule.nn.utils.rnn import pack_sequence, pad_packed_sequence
>>> packed = pack_sequence([torch.tensor([1, 2, 3]), torch.tensor([4, 5])])
>>> packed.data, packed.batch_sizes
(tensor([1, 4, 2, 5, 3]), tensor([2, 2, 1]))
>>> pad_packed_sequence(packed, batch_first=True)
(tensor([[1, 2, 3],
        [4, 5, 0]]), tensor([3, 2]))
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence

import numpy as np

from chainrule._creation import as_tensor, full
from chainrule._dtype import int64
from chainrule._ops.shape import cat, stack
from chainrule._tensor import Tensor, make_tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
           "pad_sequence", "unpad_sequence", "pack_sequence", "unpack_sequence"]


class PackedSequence(namedtuple("PackedSequence_",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """The packed form of a batch of sequences (make it with ``pack_padded_sequence`` or
    ``pack_sequence``; recurrent layers accept it as input and return one).

    ``data`` ``(sum(lengths), *)``; ``batch_sizes`` int64, how many sequences are running at each
    time step; ``sorted_indices`` the batch order by decreasing length (None when the input was
    already sorted) and ``unsorted_indices`` its inverse.
    """

    __slots__ = ()

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> PackedSequence:
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence((data, batch_sizes)), as torch allows
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """The same packing with ``data`` converted (``to(dtype)``, ``to(device)``)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False


def _converter(method: str, dtype_name: str):
    def convert(self: PackedSequence) -> PackedSequence:
        return self.to(dtype=dtype_name)

    convert.__name__, convert.__qualname__ = method, f"PackedSequence.{method}"
    convert.__doc__ = f"The same packing with ``data`` as {dtype_name}."
    return convert


# torch's shorthand conversions: packed.double() is packed.to(torch.float64), and so on.
for _method, _dtype_name in {"double": "float64", "float": "float32", "half": "float16",
                             "long": "int64", "int": "int32", "short": "int16", "char": "int8",
                             "byte": "uint8"}.items():
    setattr(PackedSequence, _method, _converter(_method, _dtype_name))
del _method, _dtype_name


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The permutation that undoes ``permutation`` (None stays None).

    >>> import chainrule as torch
    >>> invert_permutation(torch.tensor([2, 0, 1]))
    tensor([1, 2, 0])
    """
    if permutation is None:
        return None
    return make_tensor(np.argsort(permutation._data, kind="stable").astype(np.int64))


def _lengths_array(lengths) -> np.ndarray:
    """``lengths`` (a list or a tensor) as int64 values, checked to be one-dimensional."""
    lengths = as_tensor(lengths, dtype=int64) if not isinstance(lengths, Tensor) else lengths
    if lengths.dim() != 1:
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                           f"{lengths.dim()}D cpu Long tensor")
    return lengths._data.astype(np.int64)


def _packed_positions(batch_sizes: np.ndarray, batch: int) -> np.ndarray:
    """Where each element of packed data sits in the time-major ``(T, batch)`` grid, flattened."""
    return np.concatenate([step * batch + np.arange(size) for step, size in enumerate(batch_sizes)])


def pack_padded_sequence(input: Tensor, lengths: Tensor | Sequence[int], batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch ``(T, B, *)`` (``(B, T, *)`` if ``batch_first``) of sequences whose
    lengths are ``lengths``; with ``enforce_sorted`` they must be in decreasing order, otherwise
    they are sorted here and the order kept in ``sorted_indices``.

    >>> import chainrule as torch
    >>> padded = torch.tensor([[1, 2, 0], [3, 4, 5]])
    >>> pack_padded_sequence(padded, [2, 3], batch_first=True, enforce_sorted=False)
    PackedSequence(data=tensor([3, 1, 4, 2, 5]), batch_sizes=tensor([2, 2, 1]), sorted_indices=tensor([1, 0]), unsorted_indices=tensor([1, 0]))
    """
    lengths = _lengths_array(lengths)
    sorted_indices = None
    if not enforce_sorted:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = make_tensor(order.astype(np.int64))
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if batch_first:
        input = input.transpose(0, 1)
    if input.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    steps, batch = input.shape[0], input.shape[1]
    if len(lengths) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{len(lengths)} (batch_size={batch})")
    if lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if np.any(lengths[1:] > lengths[:-1]):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                           "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                           "pack_padded_sequence and/or pack_sequence to sidestep this "
                           "requirement if you do not need ONNX exportability.")
    if lengths[0] > steps:  # torch reads past the end of the input here
        raise RuntimeError(f"the longest length in 'lengths' ({lengths[0]}) exceeds the "
                           f"input's sequence length ({steps})")
    batch_sizes = (lengths[None, :] > np.arange(lengths[0])[:, None]).sum(1)
    positions = make_tensor(_packed_positions(batch_sizes, batch))
    data = input.reshape(steps * batch, *input.shape[2:])[positions]
    return PackedSequence(data, make_tensor(batch_sizes.astype(np.int64)), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo ``pack_padded_sequence``: ``(padded, lengths)``, the batch back in its original order,
    padded with ``padding_value`` to the longest length or to ``total_length``.

    >>> import chainrule as torch
    >>> packed = pack_padded_sequence(torch.tensor([[1, 2], [3, 0]]), [2, 1], batch_first=True)
    >>> pad_packed_sequence(packed, batch_first=True, padding_value=-1, total_length=3)
    (tensor([[ 1,  2, -1],
            [ 3, -1, -1]]), tensor([2, 1]))
    """
    batch_sizes = sequence.batch_sizes._data.astype(np.int64)
    steps = len(batch_sizes)
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {steps}")
        steps = total_length
    data = sequence.data
    batch = int(batch_sizes[0])
    # Every grid cell reads either its element of data or one padding row appended after it.
    source = np.full(steps * batch, data.shape[0], dtype=np.int64)
    source[_packed_positions(batch_sizes, batch)] = np.arange(data.shape[0])
    padding = full((1, *data.shape[1:]), padding_value, dtype=data.dtype)
    padded = cat([data, padding])[make_tensor(source)].reshape(steps, batch, *data.shape[1:])
    lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(1)
    if batch_first:
        padded = padded.transpose(0, 1)
    lengths = make_tensor(lengths.astype(np.int64))
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(0 if batch_first else 1, sequence.unsorted_indices)
        lengths = make_tensor(lengths._data[sequence.unsorted_indices._data])
    return padded, lengths


def pad_sequence(sequences: Sequence[Tensor] | Tensor, batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack sequences ``(L_i, *)`` of different lengths into ``(T, B, *)`` (``(B, T, *)`` if
    ``batch_first``), padding each with ``padding_value`` on ``padding_side`` to the longest.

    >>> import chainrule as torch
    >>> pad_sequence([torch.tensor([1, 2, 3]), torch.tensor([4])], batch_first=True)
    tensor([[1, 2, 3],
            [4, 0, 0]])
    >>> pad_sequence([torch.tensor([1, 2, 3]), torch.tensor([4])], True, -1, "left")
    tensor([[ 1,  2,  3],
            [-1, -1,  4]])
    """
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    if len(sequences) == 0:
        raise RuntimeError("received an empty list of sequences")
    dtype = sequences[0].dtype
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for sequence in sequences:
        padding = full((longest - sequence.shape[0], *sequence.shape[1:]), padding_value,
                       dtype=dtype)
        sequence = sequence.to(dtype)
        padded.append(cat([sequence, padding] if padding_side == "right" else [padding, sequence]))
    return stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor | Sequence[int],
                   batch_first: bool = False) -> list[Tensor]:
    """Undo ``pad_sequence``: the list of sequences, each cut to its length.

    Unlike torch, ``padded_sequences`` is left as it is (torch transposes it in place when
    ``batch_first`` is False).

    >>> import chainrule as torch
    >>> unpad_sequence(torch.tensor([[1, 2, 3], [4, 0, 0]]), torch.tensor([3, 1]), batch_first=True)
    [tensor([1, 2, 3]), tensor([4])]
    """
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lengths = _lengths_array(lengths)
    return [sequence[:int(length)] for sequence, length in zip(padded_sequences, lengths)]


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences ``(L_i, *)``; with ``enforce_sorted`` they must come longest
    first.

    >>> import chainrule as torch
    >>> pack_sequence([torch.tensor([1]), torch.tensor([2, 3])], enforce_sorted=False).data
    tensor([2, 1, 3])
    """
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """Undo ``pack_sequence``: the list of sequences, in their original order.

    >>> import chainrule as torch
    >>> unpack_sequence(pack_sequence([torch.tensor([1]), torch.tensor([2, 3])], False))
    [tensor([1]), tensor([2, 3])]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
