"""nn.utils.rnn against torch: padding, packing and back, values, gradients, order and errors."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")

LENGTHS = {"sorted": [4, 3, 3, 1], "unsorted": [3, 4, 1, 3], "one": [2]}


def _sequences(lib, lengths, trailing=(2,), seed=0):
    rng = np.random.default_rng(seed)
    return [lib.tensor(rng.standard_normal((n, *trailing))).requires_grad_() for n in lengths]


def _padded(lib, lengths, batch_first, seed=0):
    x = np.random.default_rng(seed).standard_normal((max(lengths), len(lengths), 3))
    x = x.transpose(1, 0, 2).copy() if batch_first else x
    return lib.tensor(x).requires_grad_()


def _same(ours, theirs):
    assert str(ours.dtype) == str(theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)


def _same_packed(ours, theirs):
    _same(ours.data, theirs.data)
    _same(ours.batch_sizes, theirs.batch_sizes)
    for mine, other in ((ours.sorted_indices, theirs.sorted_indices),
                        (ours.unsorted_indices, theirs.unsorted_indices)):
        assert (mine is None) == (other is None)
        if other is not None:
            _same(mine, other)


def _same_gradients(ours_out, theirs_out, ours_in, theirs_in):
    """Backpropagate the same random weights through both outputs; compare the inputs' grads."""
    weights = np.random.default_rng(7).standard_normal(tuple(theirs_out.shape))
    (ours_out * chainrule.tensor(weights)).sum().backward()
    (theirs_out * torch.tensor(weights)).sum().backward()
    for mine, other in zip(ours_in, theirs_in):
        np.testing.assert_allclose(mine.grad.numpy(), other.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("lengths, batch_first, padding_value, padding_side, trailing",
                         list(itertools.product(["sorted", "unsorted", "one"], [False, True],
                                                [0.0, -1.5], ["right", "left"], [(), (2, 3)])))
def test_pad_sequence_matches_torch(lengths, batch_first, padding_value, padding_side, trailing):
    ours_in = _sequences(chainrule, LENGTHS[lengths], trailing)
    theirs_in = _sequences(torch, LENGTHS[lengths], trailing)
    ours = chainrule.nn.utils.rnn.pad_sequence(ours_in, batch_first, padding_value, padding_side)
    theirs = torch.nn.utils.rnn.pad_sequence(theirs_in, batch_first, padding_value, padding_side)
    _same(ours, theirs)
    _same_gradients(ours, theirs, ours_in, theirs_in)


def test_pad_sequence_takes_the_first_dtype_and_unbinds_a_tensor_as_torch():
    for lib in (chainrule, torch):
        assert lib.nn.utils.rnn.pad_sequence(
            [lib.ones(2), lib.ones(3, dtype=lib.float64)]).dtype == lib.float32
    _same(chainrule.nn.utils.rnn.pad_sequence(chainrule.arange(6).reshape(2, 3)),
          torch.nn.utils.rnn.pad_sequence(torch.arange(6).reshape(2, 3)))


@pytest.mark.parametrize("lengths, batch_first, enforce_sorted, as_tensor",
                         [(k, b, e, t) for k, b, e, t in itertools.product(
                             LENGTHS, [False, True], [True, False], [False, True])
                          if e is False or k != "unsorted"])
def test_pack_padded_sequence_matches_torch(lengths, batch_first, enforce_sorted, as_tensor):
    lengths = LENGTHS[lengths]
    ours_in, theirs_in = _padded(chainrule, lengths, batch_first), _padded(torch, lengths, batch_first)
    ours_lengths = chainrule.tensor(lengths) if as_tensor else lengths
    theirs_lengths = torch.tensor(lengths) if as_tensor else lengths
    ours = chainrule.nn.utils.rnn.pack_padded_sequence(ours_in, ours_lengths, batch_first,
                                                       enforce_sorted)
    theirs = torch.nn.utils.rnn.pack_padded_sequence(theirs_in, theirs_lengths, batch_first,
                                                     enforce_sorted)
    assert type(ours).__name__ == "PackedSequence" and ours._fields == theirs._fields
    _same_packed(ours, theirs)
    _same_gradients(ours.data, theirs.data, [ours_in], [theirs_in])


@pytest.mark.parametrize("lengths, batch_first, padding_value, total_length",
                         list(itertools.product(["sorted", "unsorted"], [False, True],
                                                [0.0, 9.0], [None, 6])))
def test_pad_packed_sequence_matches_torch(lengths, batch_first, padding_value, total_length):
    lengths = LENGTHS[lengths]
    ours_in, theirs_in = _padded(chainrule, lengths, batch_first), _padded(torch, lengths, batch_first)
    ours_packed = chainrule.nn.utils.rnn.pack_padded_sequence(ours_in, lengths, batch_first, False)
    theirs_packed = torch.nn.utils.rnn.pack_padded_sequence(theirs_in, lengths, batch_first, False)
    ours, ours_lengths = chainrule.nn.utils.rnn.pad_packed_sequence(
        ours_packed, batch_first, padding_value, total_length)
    theirs, theirs_lengths = torch.nn.utils.rnn.pad_packed_sequence(
        theirs_packed, batch_first, padding_value, total_length)
    _same(ours, theirs)
    _same(ours_lengths, theirs_lengths)
    _same_gradients(ours, theirs, [ours_in], [theirs_in])


def test_pad_packed_sequence_keeps_an_integer_dtype():
    def run(lib):
        packed = lib.nn.utils.rnn.pack_padded_sequence(lib.arange(6).reshape(3, 2), [3, 1])
        return lib.nn.utils.rnn.pad_packed_sequence(packed, padding_value=1.5)[0]

    _same(run(chainrule), run(torch))


@pytest.mark.parametrize("lengths, enforce_sorted",
                         [("sorted", True), ("sorted", False), ("unsorted", False), ("one", True)])
def test_pack_and_unpack_sequence_match_torch(lengths, enforce_sorted):
    ours_in = _sequences(chainrule, LENGTHS[lengths])
    theirs_in = _sequences(torch, LENGTHS[lengths])
    ours = chainrule.nn.utils.rnn.pack_sequence(ours_in, enforce_sorted)
    theirs = torch.nn.utils.rnn.pack_sequence(theirs_in, enforce_sorted)
    _same_packed(ours, theirs)
    ours_back = chainrule.nn.utils.rnn.unpack_sequence(ours)
    theirs_back = torch.nn.utils.rnn.unpack_sequence(theirs)
    assert len(ours_back) == len(theirs_back) == len(ours_in)
    for mine, other, original in zip(ours_back, theirs_back, ours_in):
        _same(mine, other)
        _same(mine, original)
    _same_gradients(chainrule.cat(ours_back), torch.cat(theirs_back), ours_in, theirs_in)


@pytest.mark.parametrize("batch_first", [False, True])
def test_unpad_sequence_matches_torch_and_leaves_its_input_alone(batch_first):
    lengths = LENGTHS["unsorted"]
    ours_in = _padded(chainrule, lengths, batch_first)
    theirs_in = _padded(torch, lengths, batch_first).detach()
    shape = tuple(ours_in.shape)
    ours = chainrule.nn.utils.rnn.unpad_sequence(ours_in, chainrule.tensor(lengths), batch_first)
    theirs = torch.nn.utils.rnn.unpad_sequence(theirs_in, torch.tensor(lengths), batch_first)
    for mine, other in zip(ours, theirs, strict=True):
        _same(mine, other)
    assert tuple(ours_in.shape) == shape  # torch transposes its input in place here


def test_packed_sequence_is_torch_s_namedtuple():
    def build(lib):
        return lib.nn.utils.rnn.pack_sequence([lib.tensor([1, 2, 3]), lib.tensor([4, 5, 6, 7])],
                                              enforce_sorted=False)

    ours, theirs = build(chainrule), build(torch)
    assert repr(ours) == repr(theirs)
    assert isinstance(ours, tuple) and len(ours) == 4
    data, batch_sizes, sorted_indices, unsorted_indices = ours
    assert data is ours.data and unsorted_indices is ours.unsorted_indices
    _same_packed(ours.double(), theirs.double())
    _same_packed(ours.to(chainrule.float32), theirs.to(torch.float32))
    assert ours.long() is ours and not ours.is_cuda and not ours.is_pinned()
    rebuilt = chainrule.nn.utils.rnn.PackedSequence(data, batch_sizes, sorted_indices)
    _same_packed(rebuilt, theirs)  # unsorted_indices derived from sorted_indices
    _same_packed(chainrule.nn.utils.rnn.PackedSequence((data, batch_sizes)),
                 torch.nn.utils.rnn.PackedSequence((theirs.data, theirs.batch_sizes)))
    _same(chainrule.nn.utils.rnn.invert_permutation(chainrule.tensor([2, 0, 3, 1])),
          torch.nn.utils.rnn.invert_permutation(torch.tensor([2, 0, 3, 1])))
    assert chainrule.nn.utils.rnn.invert_permutation(None) is None


ERRORS = [
    lambda lib: lib.nn.utils.rnn.pack_padded_sequence(lib.zeros(4, 3, 2), [2, 3, 1]),
    lambda lib: lib.nn.utils.rnn.pack_sequence([lib.ones(2), lib.ones(3)]),
    lambda lib: lib.nn.utils.rnn.pack_padded_sequence(lib.zeros(4, 3, 2), [3, 2]),
    lambda lib: lib.nn.utils.rnn.pack_padded_sequence(lib.zeros(4, 3, 2), [3, 2, 0]),
    lambda lib: lib.nn.utils.rnn.pack_padded_sequence(lib.zeros(4, 3, 2), [3, -1, 0], False,
                                                      False),
    lambda lib: lib.nn.utils.rnn.pack_padded_sequence(lib.zeros(4, 3, 2), lib.tensor([[3, 2, 1]])),
    lambda lib: lib.nn.utils.rnn.pack_padded_sequence(lib.zeros(0, 3, 2), [0, 0, 0]),
    lambda lib: lib.nn.utils.rnn.pad_packed_sequence(
        lib.nn.utils.rnn.pack_padded_sequence(lib.zeros(4, 3, 2), [3, 2, 1]), total_length=2),
    lambda lib: lib.nn.utils.rnn.pad_sequence([]),
    lambda lib: lib.nn.utils.rnn.pad_sequence([lib.ones(2)], padding_side="middle"),
]


@pytest.mark.parametrize("make", ERRORS)
def test_errors_match_torch(make):
    with pytest.raises(Exception) as theirs:
        make(torch)
    with pytest.raises(type(theirs.value), match=re.escape(str(theirs.value))):
        make(chainrule)


def test_lengths_longer_than_the_input_are_refused():
    # torch reads past the end of the input and packs whatever it finds there.
    with pytest.raises(RuntimeError, match=r"longest length in 'lengths' \(5\) exceeds the "
                                           r"input's sequence length \(4\)"):
        chainrule.nn.utils.rnn.pack_padded_sequence(chainrule.zeros(4, 3, 2), [5, 2, 1])
