"""``nn.Module`` against PyTorch: registration, naming, state_dict, repr, hooks, modes, conversion."""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest

import chainrule
from chainrule import nn

torch = pytest.importorskip("torch")


def seed_model(m):
    return m.Sequential(OrderedDict([
        ("fc1", m.Linear(784, 128)), ("relu1", m.ReLU()), ("fc2", m.Linear(128, 64)),
        ("relu2", m.ReLU()), ("logits", m.Linear(64, 10))]))


def make_block_class(m, ones):
    """The same small custom module written against either library (named ``Block`` in both)."""

    class Block(m.Module):
        def __init__(self):
            super().__init__()
            self.conv_like = m.Linear(3, 4)
            self.act = m.GELU(approximate="tanh")
            self.register_buffer("running", ones(4))
            self.register_buffer("scratch", ones(2), persistent=False)
            self.scale = m.Parameter(ones(1))

        def forward(self, x):
            return self.act(self.conv_like(x)) * self.scale + self.running

    return Block


Block = make_block_class(nn, chainrule.zeros)
TorchBlock = make_block_class(torch.nn, torch.zeros)


def nested(m, block):
    return m.Sequential(
        block(),
        m.ModuleList([m.Linear(4, 4), m.Linear(4, 4), m.Linear(4, 4), m.Tanh(), m.Linear(4, 2, bias=False)]),
        m.ModuleDict({"drop": m.Dropout(0.1), "soft": m.Softmax(dim=-1)}),
        m.Sequential(m.ELU(alpha=0.5), m.LeakyReLU(0.2, inplace=True), m.Hardtanh(-2.0, 2.0),
                     m.ReLU6(inplace=True), m.Softplus(beta=2, threshold=10)),
        m.Flatten(0, -1), m.Unflatten(1, (2, 2)), m.Identity(), m.Bilinear(2, 3, 4),
        m.Embedding(10, 3, padding_idx=0, max_norm=1.0), m.PReLU(3), m.SiLU(), m.LogSoftmax(1),
    )


REPR_MODELS = {
    "seed": lambda m: seed_model(m),
    "nested": lambda m: nested(m, Block if m is nn else TorchBlock),
    "empty_sequential": lambda m: m.Sequential(),
    "module_list_runs": lambda m: m.ModuleList([m.ReLU(), m.ReLU(), m.Tanh(), m.ReLU()]),
    "linear_nobias": lambda m: m.Linear(3, 2, bias=False),
    "parameter_list": lambda m: m.ParameterList([m.Parameter((chainrule if m is nn else torch).ones(2, 3))]),
    "parameter_dict": lambda m: m.ParameterDict({
        "w": m.Parameter((chainrule if m is nn else torch).ones(2, 3)),
        "b": m.Parameter((chainrule if m is nn else torch).ones(2, dtype=(chainrule if m is nn else torch).float64))}),
}


@pytest.mark.parametrize("name", list(REPR_MODELS))
def test_repr_matches_torch(name):
    assert repr(REPR_MODELS[name](nn)) == repr(REPR_MODELS[name](torch.nn))


def test_seed_model_state_dict_keys_shapes_and_parameters_match_torch():
    ours, theirs = seed_model(nn), seed_model(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [tuple(v.shape) for v in ours.state_dict().values()] == [tuple(v.shape) for v in theirs.state_dict().values()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert sum(p.numel() for p in ours.parameters()) == 109386
    assert isinstance(ours.state_dict(), OrderedDict)
    assert not any(v.requires_grad for v in ours.state_dict().values())
    assert all(isinstance(v, nn.Parameter) for v in ours.state_dict(keep_vars=True).values())


def test_block_registration_buffers_and_state_dict_match_torch():
    ours, theirs = Block(), TorchBlock()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_parameters(prefix="model", recurse=False)] == \
        [n for n, _ in theirs.named_parameters(prefix="model", recurse=False)]
    assert ours.get_parameter("conv_like.weight") is ours.conv_like.weight
    assert ours.get_submodule("act") is ours.act
    assert ours.get_buffer("running") is ours.running
    with pytest.raises(AttributeError, match="`act` is not an nn.Parameter"):
        ours.get_parameter("act")
    with pytest.raises(AttributeError, match="Block has no attribute `missing`"):
        ours.get_submodule("missing")
    assert {"conv_like", "running", "scale", "forward"} <= set(dir(ours))


def test_setattr_getattr_delattr_rules_match_torch():
    for m, make in ((nn, chainrule.ones), (torch.nn, torch.ones)):
        module = m.Module()
        module.w = m.Parameter(make(2))
        assert "w" in module._parameters
        module.w = None
        assert module._parameters["w"] is None
        with pytest.raises(TypeError, match="cannot assign 'torch.FloatTensor' as parameter 'w'"):
            module.w = make(2)
        module.child = m.Linear(1, 1)
        with pytest.raises(TypeError, match="as child module 'child'"):
            module.child = 3
        module.register_buffer("b", make(1))
        module.b = make(3)
        assert module._buffers["b"].shape[0] == 3
        with pytest.raises(KeyError, match="attribute 'child' already exists"):
            module.register_buffer("child", make(1))
        with pytest.raises(KeyError, match=r'contain "\."'):
            module.register_parameter("a.b", None)
        del module.child
        assert "child" not in module._modules
        with pytest.raises(AttributeError, match="'Module' object has no attribute 'nothing'"):
            module.nothing  # noqa: B018


def test_assign_before_init_and_nonleaf_parameter():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(chainrule.ones(1))

    with pytest.raises(AttributeError, match=r"cannot assign parameters before Module.__init__\(\) call"):
        Broken()
    module = nn.Module()
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required "forward" function'):
        module(1)
    leaf = chainrule.ones(1, requires_grad=True)
    with pytest.raises(TypeError, match="cannot assign 'torch.FloatTensor' object to parameter 'p'"):
        module.register_parameter("p", leaf * 2)


def test_shared_parameters_are_counted_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    tmodel_shared = torch.nn.Linear(2, 2)
    tmodel = torch.nn.Sequential(tmodel_shared, torch.nn.ReLU(), tmodel_shared)
    assert len(list(model.parameters())) == len(list(tmodel.parameters())) == 2
    assert [n for n, _ in model.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in tmodel.named_parameters(remove_duplicate=False)]
    assert list(model.state_dict()) == list(tmodel.state_dict())


def test_load_state_dict_roundtrip_strict_and_errors_match_torch():
    source, target = seed_model(nn), seed_model(nn)
    result = target.load_state_dict(source.state_dict())
    assert repr(result) == "<All keys matched successfully>"
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[key].numpy(), value.numpy())
    # Loading copies values: the parameters keep their identity.
    weight = target.fc1.weight
    target.load_state_dict(seed_model(nn).state_dict())
    assert target.fc1.weight is weight

    state = source.state_dict()
    tstate = seed_model(torch.nn).state_dict()
    del state["fc2.bias"], tstate["fc2.bias"]
    state["extra.weight"], tstate["extra.weight"] = chainrule.ones(1), torch.ones(1)
    with pytest.raises(RuntimeError) as ours:
        target.load_state_dict(state)
    with pytest.raises(RuntimeError) as theirs:
        seed_model(torch.nn).load_state_dict(tstate)
    assert str(ours.value) == str(theirs.value)
    result = target.load_state_dict(state, strict=False)
    tresult = seed_model(torch.nn).load_state_dict(tstate, strict=False)
    assert result.missing_keys == tresult.missing_keys == ["fc2.bias"]
    assert result.unexpected_keys == tresult.unexpected_keys

    small = {k: chainrule.zeros(3, 3) if k == "fc1.weight" else v for k, v in source.state_dict().items()}
    tsmall = {k: torch.zeros(3, 3) if k == "fc1.weight" else v for k, v in seed_model(torch.nn).state_dict().items()}
    with pytest.raises(RuntimeError) as ours:
        target.load_state_dict(small)
    with pytest.raises(RuntimeError) as theirs:
        seed_model(torch.nn).load_state_dict(tsmall)
    assert str(ours.value) == str(theirs.value)
    assert "size mismatch for fc1.weight: copying a param with shape torch.Size([3, 3])" in str(ours.value)


def test_load_state_dict_strict_false_returns_missing_keys_like_torch():
    ours = Block().load_state_dict({"scale": chainrule.ones(1)}, strict=False)
    theirs = TorchBlock().load_state_dict({"scale": torch.ones(1)}, strict=False)
    assert ours.missing_keys == theirs.missing_keys
    assert repr(ours) == repr(theirs)


def test_load_state_dict_assign_replaces_parameters():
    model = nn.Linear(2, 2)
    state = {"weight": chainrule.ones(2, 2), "bias": chainrule.zeros(2)}
    model.load_state_dict(state, assign=True)
    assert isinstance(model.weight, nn.Parameter) and model.weight.requires_grad
    np.testing.assert_array_equal(model.weight.detach().numpy(), 1.0)


def test_train_eval_zero_grad_requires_grad_apply():
    model = nested(nn, Block)
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        model.train("yes")
    net = seed_model(nn)
    net(chainrule.randn(2, 784)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "ReLU", "Linear", "Sequential"]


def test_to_double_float_keep_parameter_identity():
    model = Block()
    weight = model.conv_like.weight
    model.double()
    assert model.conv_like.weight is weight and weight.dtype == chainrule.float64
    assert model.running.dtype == chainrule.float64
    model.to(chainrule.float32)
    assert weight.dtype == chainrule.float32
    assert model.to("cpu") is model and model.cpu() is model
    with pytest.raises(TypeError, match="only accepts floating point"):
        model.to(chainrule.int64)
    assert model(chainrule.randn(2, 3)).dtype == chainrule.float32


def test_deepcopy_gives_independent_parameters():
    model = seed_model(nn)
    clone = copy.deepcopy(model)
    assert isinstance(clone.fc1.weight, nn.Parameter)
    clone.fc1.weight.data.fill_(0.0)
    assert model.fc1.weight.detach().numpy().any()


@pytest.mark.parametrize("library", ["chainrule", "torch"])
def test_forward_hooks_match_torch(library):
    m, make = (nn, chainrule.ones) if library == "chainrule" else (torch.nn, torch.ones)
    calls = []
    layer = m.Linear(2, 2)
    pre = layer.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
    post = layer.register_forward_hook(lambda mod, args, out: calls.append(args[0].sum().item()) or out * 0)
    kw = layer.register_forward_hook(lambda mod, args, kwargs, out: calls.append("kw"), with_kwargs=True)
    first = layer.register_forward_hook(lambda mod, args, out: calls.append("first"), prepend=True)
    out = layer(make(1, 2))
    assert calls == ["first", 4.0, "kw"]
    assert not out.detach().numpy().any()
    for handle in (pre, post, kw, first):
        handle.remove()
    calls.clear()
    layer(make(1, 2))
    assert calls == []


def _backward_hook_records(m, tensor, model):
    """Run a backward through ``model`` recording the hooks on its middle layer."""
    seen = []
    model[1].register_full_backward_pre_hook(lambda mod, go: seen.append(("pre", go[0].numpy().copy())))
    model[1].register_full_backward_hook(
        lambda mod, gi, go: seen.append(("hook", gi[0].numpy().copy(), go[0].numpy().copy())) or (gi[0] * 2,))
    x = tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3) / 5, requires_grad=True)
    model(x).sum().backward()
    return seen, x.grad.numpy().copy()


def test_full_backward_hook_matches_torch():
    reference = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    model.load_state_dict({k: chainrule.tensor(v.detach().numpy()) for k, v in reference.state_dict().items()})
    theirs = _backward_hook_records(torch.nn, torch.tensor, reference)
    ours = _backward_hook_records(nn, chainrule.tensor, model)
    assert [s[0] for s in ours[0]] == [s[0] for s in theirs[0]] == ["pre", "hook"]
    for mine, ref in zip(ours[0], theirs[0]):
        for a, b in zip(mine[1:], ref[1:]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5, atol=1e-6)


def test_full_backward_hook_without_input_grad_gets_none():
    layer = nn.Linear(2, 1)
    seen = []
    layer.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go[0].shape)))
    layer(chainrule.ones(3, 2)).sum().backward()
    assert seen == [((None,), (3, 1))]
    assert layer.weight.grad is not None


def test_global_forward_hook():
    from chainrule.nn.modules.module import register_module_forward_hook

    names = []
    handle = register_module_forward_hook(lambda mod, args, out: names.append(type(mod).__name__))
    try:
        nn.Sequential(nn.Linear(1, 1), nn.ReLU())(chainrule.ones(1, 1))
    finally:
        handle.remove()
    assert names == ["Linear", "ReLU", "Sequential"]


def test_sequential_container_api_matches_torch():
    for m in (nn, torch.nn):
        seq = m.Sequential(m.Linear(1, 2), m.ReLU(), m.Linear(2, 3))
        assert len(seq) == 3 and isinstance(seq[-1], m.Linear)
        head = seq[:2]
        assert isinstance(head, m.Sequential) and len(head) == 2
        assert [type(x).__name__ for x in seq] == ["Linear", "ReLU", "Linear"]
        seq.append(m.Tanh())
        seq.insert(1, m.Sigmoid())
        seq.extend([m.Identity()])
        del seq[0]
        assert [n for n, _ in seq.named_children()] == ["0", "1", "2", "3", "4"]
        with pytest.raises(IndexError):
            seq[10]
    ours = nn.Sequential(nn.Linear(1, 2), nn.ReLU())
    theirs = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.ReLU())
    ours.insert(1, nn.Tanh())
    theirs.insert(1, torch.nn.Tanh())
    assert repr(ours) == repr(theirs)


def test_module_list_and_dict_api():
    layers = nn.ModuleList([nn.Linear(2, 2)])
    layers.append(nn.ReLU())
    layers += [nn.Tanh()]
    assert len(layers) == 3 and isinstance(layers[1], nn.ReLU)
    assert list(layers.state_dict()) == ["0.weight", "0.bias"]
    assert isinstance(layers[1:], nn.ModuleList)
    mapping = nn.ModuleDict({"a": nn.Linear(1, 1)})
    mapping["b"] = nn.ReLU()
    assert list(mapping.keys()) == ["a", "b"] and "a" in mapping and len(mapping) == 2
    assert list(mapping.state_dict()) == ["a.weight", "a.bias"]
    params = nn.ParameterDict({"w": chainrule.ones(2)})
    assert isinstance(params["w"], nn.Parameter)
    assert list(dict(params.named_parameters())) == ["w"]
    plist = nn.ParameterList([chainrule.ones(1), chainrule.ones(2)])
    assert [p.shape[0] for p in plist] == [1, 2]
    assert list(plist.state_dict()) == ["0", "1"]


def test_parameter_basics_match_torch():
    data = chainrule.ones(2)
    param = nn.Parameter(data)
    assert param.requires_grad and param.is_leaf and isinstance(param, chainrule.Tensor)
    param.data[0] = 5.0
    assert data.numpy()[0] == 5.0
    assert repr(nn.Parameter(chainrule.ones(2))) == repr(torch.nn.Parameter(torch.ones(2)))
    assert repr(nn.Parameter(chainrule.ones(2), requires_grad=False)) == \
        repr(torch.nn.Parameter(torch.ones(2), requires_grad=False))
    assert nn.Parameter().shape == (0,)
    assert type(param * 2) is chainrule.Tensor


def test_buffer_assignment_registers_like_torch():
    for m, ones in ((nn, chainrule.ones), (torch.nn, torch.ones)):
        module = m.Module()
        module.stats = m.Buffer(ones(2))
        module.scratch = m.Buffer(ones(1), persistent=False)
        assert [n for n, _ in module.named_buffers()] == ["stats", "scratch"]
        assert list(module.state_dict()) == ["stats"]
        module.stats = ones(3)
        assert module.stats.shape[0] == 3 and "stats" in module._buffers


def test_module_to_accepts_tensor_and_keyword_forms():
    model = nn.Linear(2, 2)
    model.to(dtype=chainrule.float64)
    assert model.weight.dtype == chainrule.float64
    model.to(chainrule.zeros(1))
    assert model.bias.dtype == chainrule.float32
    model.to(device="cpu")
    with pytest.raises(RuntimeError, match="cuda"):
        model.to("cuda")
    model.weight.grad = chainrule.zeros(2, 2)
    model.double()
    assert model.weight.grad.dtype == chainrule.float64


_FRESH_PROCESS_HOOKS = """
import pickle
import chainrule
from chainrule import nn
from chainrule.nn.modules import module


class Double:
    def __call__(self, layer, args):
        return (args[0] * 2,)


x = chainrule.ones(1, 2)
layer = nn.Linear(2, 2)
assert not module._hooks_registered
layer.register_forward_pre_hook(Double())
assert chainrule.equal(layer(x), layer.forward(x * 2)), "the registered hook did not run"
saved = pickle.dumps(layer)
module._hooks_registered = False  # as in a process that never registered a hook
loaded = pickle.loads(saved)
assert chainrule.equal(loaded(x), loaded.forward(x * 2)), "the unpickled hook did not run"
print("ok")
"""


def test_calls_skip_hook_lookups_only_until_a_hook_exists():
    """Module calls skip the hook dicts while no hook was ever registered (a process-wide flag):
    the first registration, and unpickling a module that holds a hook, turn the lookups on."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _FRESH_PROCESS_HOOKS], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
