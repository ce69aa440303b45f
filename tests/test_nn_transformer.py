"""Transformer layers, stacks and ``nn.Transformer`` against PyTorch: torch's state dict loaded into
chainrule's module, then outputs and gradients of inputs and every parameter compared; reprs,
state-dict keys, init, masks, warnings and errors; dropout in train mode checked statistically."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

import chainrule
from chainrule import nn

torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")

# Warnings both libraries give on purpose for the configurations these tests compare (mixed mask
# types, nested tensors off without batch_first, torch's prototype nested tensors).
pytestmark = [
    pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask:UserWarning"),
    pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning"),
    pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors:UserWarning"),
]

D, HEADS, FF, S, T, N = 8, 2, 16, 5, 4, 3
TOL = dict(rtol=1e-4, atol=2e-5)


def _randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _quiet(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # enable_nested_tensor's notice
        return make()


def _activation(lib, name):
    return {"relu": "relu", "gelu": "gelu", "gelu_module": lambda: lib.nn.GELU(),
            "silu_callable": lambda: lib.nn.functional.silu}[name]


def _pair(name, *args, activation=None, **kwargs):
    """The same module in both libraries (built by ``name`` with ``args``), ours holding torch's state."""
    def build(lib):
        extra = {}
        if activation is not None:
            made = _activation(lib, activation)
            extra["activation"] = made() if callable(made) else made
        return _quiet(lambda: getattr(lib.nn, name)(*args, **kwargs, **extra))
    torch.manual_seed(0)
    theirs, ours = build(torch), build(chainrule)
    ours.load_state_dict({k: chainrule.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return ours.eval(), theirs.eval()


def _check(ours, theirs, arrays, masks=None, **flags):
    """Forward both in eval mode, backpropagate one random upstream gradient, compare everything."""
    masks = masks or {}
    ours_in = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    mine = ours(*ours_in, **{k: chainrule.tensor(v) for k, v in masks.items()}, **flags)
    expected = theirs(*theirs_in, **{k: torch.tensor(v) for k, v in masks.items()}, **flags)
    assert tuple(mine.shape) == tuple(expected.shape)
    np.testing.assert_allclose(mine.detach().numpy(), expected.detach().numpy(), **TOL)
    upstream = _randn(*expected.shape, seed=99)
    (mine * chainrule.tensor(upstream)).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    for m, e in zip(ours_in, theirs_in):
        np.testing.assert_allclose(m.grad.numpy(), e.grad.numpy(), **TOL)
    their_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad.numpy(), their_params[name].grad.numpy(), **TOL, err_msg=name)
    return mine


def _sequence(length, batched, batch_first, seed):
    shape = (length, D) if not batched else ((N, length, D) if batch_first else (length, N, D))
    return _randn(*shape, seed=seed)


def _padding(length, batched, kind="bool"):
    padding = np.zeros((N, length) if batched else (length,), bool)
    padding[..., -1] = True
    if batched:
        padding[0, -2] = True
    return padding if kind == "bool" else np.where(padding, -np.inf, 0.0).astype(np.float32)


LAYER_GRID = list(itertools.product([False, True], [False, True], ["relu", "gelu", "gelu_module",
                                                                   "silu_callable"], [True, False]))


@pytest.mark.parametrize("norm_first,batch_first,activation,bias", LAYER_GRID)
def test_encoder_layer_matches_torch(norm_first, batch_first, activation, bias):
    ours, theirs = _pair("TransformerEncoderLayer", D, HEADS, FF, norm_first=norm_first,
                         batch_first=batch_first, bias=bias, activation=activation)
    assert ours.activation_relu_or_gelu == theirs.activation_relu_or_gelu
    _check(ours, theirs, [_sequence(S, True, batch_first, 1)])


@pytest.mark.parametrize("norm_first,batch_first,activation,bias", LAYER_GRID)
def test_decoder_layer_matches_torch(norm_first, batch_first, activation, bias):
    ours, theirs = _pair("TransformerDecoderLayer", D, HEADS, FF, norm_first=norm_first,
                         batch_first=batch_first, bias=bias, activation=activation)
    _check(ours, theirs, [_sequence(T, True, batch_first, 1), _sequence(S, True, batch_first, 2)])


MASKS = ["causal", "causal_hint", "bool_mask", "padding", "float_padding", "mask_and_padding"]


def _encoder_masks(kind, batched, length=S):
    causal = np.triu(np.full((length, length), -np.inf, np.float32), 1)
    if kind == "causal":
        return dict(src_mask=causal), {}
    if kind == "causal_hint":
        return dict(src_mask=causal), dict(is_causal=True)
    if kind == "bool_mask":
        return dict(src_mask=np.triu(np.ones((length, length), bool), 2)), {}
    if kind == "padding":
        return dict(src_key_padding_mask=_padding(length, batched)), {}
    if kind == "float_padding":
        return dict(src_key_padding_mask=_padding(length, batched, "float")), {}
    return dict(src_mask=causal, src_key_padding_mask=_padding(length, batched, "float")), {}


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("kind", MASKS)
def test_encoder_layer_masks_match_torch(kind, batched):
    ours, theirs = _pair("TransformerEncoderLayer", D, HEADS, FF, batch_first=True)
    masks, flags = _encoder_masks(kind, batched)
    _check(ours, theirs, [_sequence(S, batched, True, 1)], masks, **flags)


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("kind", MASKS)
def test_encoder_stack_masks_match_torch(kind, batched):
    layer = lambda lib: lib.nn.TransformerEncoderLayer(D, HEADS, FF, batch_first=True)  # noqa: E731
    torch.manual_seed(0)
    theirs = _quiet(lambda: torch.nn.TransformerEncoder(layer(torch), 2, torch.nn.LayerNorm(D))).eval()
    ours = _quiet(lambda: nn.TransformerEncoder(layer(chainrule), 2, nn.LayerNorm(D))).eval()
    ours.load_state_dict({k: chainrule.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    masks, flags = _encoder_masks(kind, batched)
    masks = {("mask" if k == "src_mask" else k): v for k, v in masks.items()}
    _check(ours, theirs, [_sequence(S, batched, True, 1)], masks, **flags)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kind", ["none", "causal", "causal_hint", "padding", "all"])
def test_decoder_stack_masks_match_torch(kind, batch_first):
    layer = lambda lib: lib.nn.TransformerDecoderLayer(D, HEADS, FF, batch_first=batch_first)  # noqa: E731
    torch.manual_seed(0)
    theirs = torch.nn.TransformerDecoder(layer(torch), 2, torch.nn.LayerNorm(D)).eval()
    ours = nn.TransformerDecoder(layer(chainrule), 2, nn.LayerNorm(D)).eval()
    ours.load_state_dict({k: chainrule.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    masks, flags = {}, {}
    if kind in ("causal", "causal_hint", "all"):
        masks["tgt_mask"] = np.triu(np.full((T, T), -np.inf, np.float32), 1)
    if kind == "causal_hint":
        flags["tgt_is_causal"] = True
    if kind in ("padding", "all"):
        masks["tgt_key_padding_mask"] = _padding(T, True)
        masks["memory_key_padding_mask"] = _padding(S, True)
    if kind == "all":
        masks["memory_mask"] = np.zeros((T, S), bool)
    _check(ours, theirs, [_sequence(T, True, batch_first, 1), _sequence(S, True, batch_first, 2)], masks,
           **flags)


@pytest.mark.parametrize("norm_first,batch_first", [(False, False), (True, True)])
def test_transformer_matches_torch(norm_first, batch_first):
    ours, theirs = _pair("Transformer", D, HEADS, 2, 2, FF, norm_first=norm_first, batch_first=batch_first)
    masks = dict(tgt_mask=np.triu(np.full((T, T), -np.inf, np.float32), 1),
                 src_key_padding_mask=_padding(S, True), memory_key_padding_mask=_padding(S, True))
    _check(ours, theirs, [_sequence(S, True, batch_first, 1), _sequence(T, True, batch_first, 2)], masks)


def test_transformer_unbatched_matches_torch():
    ours, theirs = _pair("Transformer", D, HEADS, 1, 1, FF)
    _check(ours, theirs, [_sequence(S, False, False, 1), _sequence(T, False, False, 2)])


def test_encoder_inference_pads_with_zeros_like_torch_nested_tensors():
    """In inference with a key padding mask, PyTorch runs on nested tensors: padded positions come
    back as zeros before the final norm."""
    layer = lambda lib: lib.nn.TransformerEncoderLayer(D, HEADS, FF, batch_first=True)  # noqa: E731
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoder(layer(torch), 2, torch.nn.LayerNorm(D)).eval()
    ours = nn.TransformerEncoder(layer(chainrule), 2, nn.LayerNorm(D)).eval()
    ours.load_state_dict({k: chainrule.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x, padding = _sequence(S, True, True, 1), _padding(S, True)
    with torch.no_grad():
        expected = theirs(torch.tensor(x), src_key_padding_mask=torch.tensor(padding)).numpy()
    with chainrule.no_grad():
        mine = ours(chainrule.tensor(x), src_key_padding_mask=chainrule.tensor(padding)).numpy()
    np.testing.assert_allclose(mine, expected, **TOL)
    np.testing.assert_allclose(mine[padding], np.broadcast_to(ours.norm.bias.detach().numpy(), mine[padding].shape),
                               atol=1e-6)


# ------------------------------------------------------------------ layout, init, repr
LAYOUTS = {
    "encoder_layer": lambda lib: lib.nn.TransformerEncoderLayer(D, HEADS, FF),
    "encoder_layer_module_activation": lambda lib: lib.nn.TransformerEncoderLayer(D, HEADS, FF,
                                                                                   activation=lib.nn.GELU()),
    "decoder_layer_no_bias": lambda lib: lib.nn.TransformerDecoderLayer(D, HEADS, FF, bias=False),
    "encoder": lambda lib: lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(D, HEADS, FF), 2,
                                                     lib.nn.LayerNorm(D)),
    "decoder": lambda lib: lib.nn.TransformerDecoder(lib.nn.TransformerDecoderLayer(D, HEADS, FF), 2),
    "transformer": lambda lib: lib.nn.Transformer(D, HEADS, 2, 1, FF, dropout=0.2, layer_norm_eps=1e-6),
}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_repr_and_state_dict_keys_match_torch(name):
    ours, theirs = (_quiet(lambda lib=lib: LAYOUTS[name](lib)) for lib in (chainrule, torch))
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert tuple(ours.state_dict()[key].shape) == tuple(value.shape), key


def test_transformer_init_is_xavier_uniform_on_every_matrix():
    chainrule.manual_seed(0)
    model = nn.Transformer(D, HEADS, 1, 1, FF)
    for name, param in model.named_parameters():
        values = param.detach().numpy()
        if values.ndim > 1:
            bound = math.sqrt(6 / sum(values.shape[:2]))
            assert np.abs(values).max() <= bound and np.abs(values).max() > 0.7 * bound, name
    layer = nn.TransformerEncoderLayer(D, HEADS, FF)  # a bare layer keeps MHA's and Linear's own init
    assert not layer.self_attn.in_proj_bias.detach().numpy().any()


def test_layers_are_independent_copies():
    layer = nn.TransformerDecoderLayer(D, HEADS, FF)
    stack = nn.TransformerDecoder(layer, 3)
    assert stack.num_layers == 3 and len(stack.layers) == 3
    assert len({id(p) for p in stack.parameters()}) == 3 * len(list(layer.parameters()))
    np.testing.assert_array_equal(stack.layers[2].linear1.weight.detach().numpy(), layer.linear1.weight.detach().numpy())


def test_generate_square_subsequent_mask_matches_torch():
    for size in (1, 4):
        mine = nn.Transformer.generate_square_subsequent_mask(size)
        theirs = torch.nn.Transformer.generate_square_subsequent_mask(size)
        assert mine.dtype == chainrule.float32
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert nn.Transformer.generate_square_subsequent_mask(2, dtype=chainrule.float64).dtype == chainrule.float64


ENCODER_WARNINGS = [dict(), dict(batch_first=True, norm_first=True), dict(batch_first=True, bias=False),
                    dict(batch_first=True, activation=lambda x: x), dict(batch_first=True, nhead=1),
                    dict(batch_first=True)]


@pytest.mark.parametrize("options", ENCODER_WARNINGS)
@pytest.mark.parametrize("enable_nested_tensor", [True, False])
def test_encoder_nested_tensor_notice_matches_torch(options, enable_nested_tensor):
    options = dict(options)
    arguments = dict(d_model=D, nhead=options.pop("nhead", HEADS), dim_feedforward=FF) | options

    def build(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            encoder = lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(**arguments), 1,
                                                enable_nested_tensor=enable_nested_tensor)
        return encoder, [str(w.message) for w in caught]
    (ours, mine), (theirs, expected) = build(chainrule), build(torch)
    assert mine == expected
    assert ours.use_nested_tensor == theirs.use_nested_tensor
    assert ours.enable_nested_tensor == theirs.enable_nested_tensor and ours.mask_check == theirs.mask_check


ERRORS = {
    "activation_name": lambda lib: lib.nn.TransformerEncoderLayer(D, HEADS, activation="tanh"),
    "batch_mismatch": lambda lib: lib.nn.Transformer(D, HEADS, 1, 1, FF)(lib.randn(S, N, D), lib.randn(T, N + 1, D)),
    "batch_first_mismatch": lambda lib: lib.nn.Transformer(D, HEADS, 1, 1, FF, batch_first=True)(
        lib.randn(N, S, D), lib.randn(N + 1, T, D)),
    "feature_mismatch": lambda lib: lib.nn.Transformer(D, HEADS, 1, 1, FF)(lib.randn(S, N, D), lib.randn(T, N, D + 1)),
    "heads_do_not_divide": lambda lib: lib.nn.TransformerDecoderLayer(D, 3),
    "bad_mask_shape": lambda lib: lib.nn.TransformerEncoderLayer(D, HEADS, FF)(
        lib.randn(S, N, D), src_mask=lib.zeros(S, S + 1)),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_match_torch(case):
    with pytest.raises(Exception) as theirs:
        _quiet(lambda: ERRORS[case](torch))
    with pytest.raises(type(theirs.value)) as ours:
        _quiet(lambda: ERRORS[case](chainrule))
    assert str(ours.value) == str(theirs.value)


# ------------------------------------------------------------------ dropout, statistically
@pytest.mark.parametrize("name", ["TransformerEncoderLayer", "TransformerDecoderLayer"])
def test_train_mode_dropout_has_torch_statistics(name):
    """Every batch element draws its own masks: over many copies of one sequence, the mean and spread
    of each output element must agree with torch's within sampling error."""
    copies = 4000
    ours, theirs = _pair(name, D, HEADS, FF, dropout=0.3)
    ours.train(), theirs.train()
    arrays = [np.repeat(_randn(length, 1, D, seed=i), copies, axis=1) for i, length in enumerate((T, S))]
    arrays = arrays[:1] if name == "TransformerEncoderLayer" else arrays
    chainrule.manual_seed(0)
    torch.manual_seed(0)
    with chainrule.no_grad():
        mine = ours(*map(chainrule.tensor, arrays)).numpy()
    with torch.no_grad():
        expected = theirs(*map(torch.tensor, arrays)).numpy()
    error = expected.std(1) / math.sqrt(copies)
    assert (np.abs(mine.mean(1) - expected.mean(1)) < 5 * error + 1e-3).all()
    np.testing.assert_allclose(mine.std(1), expected.std(1), rtol=0.1, atol=1e-3)
    ours.eval()
    with chainrule.no_grad():
        deterministic = ours(*map(chainrule.tensor, arrays)).numpy()
    assert np.abs(mine.mean(1) - deterministic.mean(1)).max() > 1e-3  # dropout did act in train mode
    # equal up to rounding: BLAS may sum the first and last rows of a batch in different orders
    np.testing.assert_allclose(deterministic[:, 0], deterministic[:, -1], rtol=1e-5, atol=1e-6)
