"""Pieces of real PyTorch programs (docs/programs.md) against PyTorch, self-contained: each model is
written once, adapted in a few lines from the program, built in both libraries from the same
weights, and its outputs, parameter gradients and (where the program trains) losses compared."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")

TOL = dict(rtol=1e-4, atol=2e-5)


def _same_weights(ours, theirs):
    """Load torch's state dict into chainrule's module; the keys must be the same."""
    state = theirs.state_dict()
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict({name: chainrule.tensor(value.numpy()) for name, value in state.items()})


def _compare_grads(ours, theirs, **tol):
    grads = {name: p.grad for name, p in theirs.named_parameters()}
    for name, p in ours.named_parameters():
        assert (p.grad is None) == (grads[name] is None), name
        if p.grad is not None:
            np.testing.assert_allclose(p.grad.numpy(), grads[name].numpy(), err_msg=name, **tol)


# pytorch/examples word_language_model/model.py: an nn.Transformer subclass used encoder-only, with
# a sinusoidal buffer and a causal mask made as log(tril(ones)) (0 and -inf).
def _word_language_model(lib):
    nn = lib.nn

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model, dropout=0.1, max_len=50):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            pe = lib.zeros(max_len, d_model)
            position = lib.arange(0, max_len, dtype=lib.float).unsqueeze(1)
            div_term = lib.exp(lib.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
            pe[:, 0::2] = lib.sin(position * div_term)
            pe[:, 1::2] = lib.cos(position * div_term)
            self.register_buffer("pe", pe.unsqueeze(0).transpose(0, 1))

        def forward(self, x):
            return self.dropout(x + self.pe[:x.size(0), :])

    class TransformerModel(nn.Transformer):
        def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
            super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid, num_encoder_layers=nlayers)
            self.pos_encoder = PositionalEncoding(ninp, dropout)
            self.input_emb = nn.Embedding(ntoken, ninp)
            self.ninp = ninp
            self.decoder = nn.Linear(ninp, ntoken)

        def forward(self, src):
            mask = lib.log(lib.tril(lib.ones(len(src), len(src))))
            src = self.pos_encoder(self.input_emb(src) * math.sqrt(self.ninp))
            return nn.functional.log_softmax(self.decoder(self.encoder(src, mask=mask)), dim=-1)

    with pytest.warns(UserWarning, match="enable_nested_tensor"):
        return TransformerModel(30, 8, 2, 16, 2, dropout=0.0)


def test_word_language_model_transformer_matches_torch():
    theirs, ours = _word_language_model(torch), _word_language_model(chainrule)
    _same_weights(ours, theirs)
    theirs.eval(), ours.eval()  # nn.Transformer's own dropout (0.1) is not the script's
    tokens = np.random.default_rng(0).integers(0, 30, (7, 3))
    expected, got = theirs(torch.tensor(tokens)), ours(chainrule.tensor(tokens))
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), **TOL)
    expected[:, :, 0].sum().backward()
    got[:, :, 0].sum().backward()
    _compare_grads(ours, theirs, **TOL)


# nanoGPT model.py: CausalSelfAttention, both its flash (scaled_dot_product_attention, is_causal)
# and its manual (masked_fill with a tril buffer) paths, inside a pre-norm Block with bias-free
# LayerNorm and a GELU MLP.
def _nanogpt_block(lib, flash):
    nn, F = lib.nn, lib.nn.functional
    C, HEADS, BLOCK = 16, 4, 8

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(C, 3 * C, bias=False)
            self.c_proj = nn.Linear(C, C, bias=False)
            self.register_buffer("bias", lib.tril(lib.ones(BLOCK, BLOCK)).view(1, 1, BLOCK, BLOCK))

        def forward(self, x):
            B, T, _ = x.size()
            q, k, v = self.c_attn(x).split(C, dim=2)
            k, q, v = (t.view(B, T, HEADS, C // HEADS).transpose(1, 2) for t in (k, q, v))
            if flash:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = F.softmax(att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf")), dim=-1)
                y = att @ v
            return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(C, bias=False)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(C, bias=False)
            self.mlp = nn.Sequential(nn.Linear(C, 4 * C), nn.GELU(), nn.Linear(4 * C, C))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    return Block()


@pytest.mark.parametrize("flash", [True, False], ids=["sdpa", "manual"])
def test_nanogpt_block_matches_torch(flash):
    theirs, ours = _nanogpt_block(torch, flash), _nanogpt_block(chainrule, flash)
    _same_weights(ours, theirs)
    x = np.random.default_rng(1).standard_normal((2, 6, 16)).astype(np.float32)
    expected, got = theirs(torch.tensor(x)), ours(chainrule.tensor(x))
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), **TOL)
    targets = np.random.default_rng(2).integers(-1, 16, (12,))  # -1: nanoGPT's ignored position
    F_t, F_c = torch.nn.functional, chainrule.nn.functional
    loss_t = F_t.cross_entropy(expected.view(-1, 16), torch.tensor(targets), ignore_index=-1)
    loss_c = F_c.cross_entropy(got.view(-1, 16), chainrule.tensor(targets), ignore_index=-1)
    np.testing.assert_allclose(loss_c.item(), loss_t.item(), **TOL)
    loss_t.backward()
    loss_c.backward()
    _compare_grads(ours, theirs, **TOL)


# pytorch/examples time_sequence_prediction/train.py: two LSTMCells unrolled over a sine wave in
# float64, trained by LBFGS through a closure; the losses of the first steps agree.
def _sequence(lib):
    nn = lib.nn

    class Sequence(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1 = nn.LSTMCell(1, 6)
            self.lstm2 = nn.LSTMCell(6, 6)
            self.linear = nn.Linear(6, 1)

        def forward(self, input):
            outputs = []
            h_t = c_t = lib.zeros(input.size(0), 6, dtype=lib.double)
            h_t2 = c_t2 = lib.zeros(input.size(0), 6, dtype=lib.double)
            for input_t in input.split(1, dim=1):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                outputs += [self.linear(h_t2)]
            return lib.cat(outputs, dim=1)

    return Sequence().double()


def _lbfgs_losses(lib, model, wave):
    inputs, targets = lib.from_numpy(wave[:, :-1]), lib.from_numpy(wave[:, 1:])
    criterion = lib.nn.MSELoss()
    optimizer = lib.optim.LBFGS(model.parameters(), lr=0.8, max_iter=4)
    losses = []

    def closure():
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        losses.append(loss.item())
        loss.backward()
        return loss

    for _ in range(2):
        optimizer.step(closure)
    return losses


def test_time_sequence_prediction_lbfgs_matches_torch():
    theirs, ours = _sequence(torch), _sequence(chainrule)
    _same_weights(ours, theirs)
    start = np.random.default_rng(2).integers(-20, 20, (3, 1))
    wave = np.sin((np.arange(12) + start) / 4.0)
    expected = _lbfgs_losses(torch, theirs, wave)
    got = _lbfgs_losses(chainrule, ours, wave)
    assert len(got) == len(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)
