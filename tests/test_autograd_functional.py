"""``autograd.functional`` (jacobian, hessian, vjp, jvp, vhp, hvp) against torch's."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")

X = [[0.1, 0.2], [0.3, 0.4]]

CASES = {
    "elementwise": ("jacobian", lambda lib: (lambda x: x ** 2, lib.tensor([1.0, 2.0]))),
    "matrix": ("jacobian", lambda lib: (lambda x: (x @ x.T).exp(), lib.tensor(X))),
    "two inputs": ("jacobian", lambda lib: (lambda x, y: (x * y).sum(),
                                            (lib.tensor([1.0, 2.0]), lib.tensor([3.0, 4.0])))),
    "two outputs": ("jacobian", lambda lib: (lambda x: (x, x * 2), lib.tensor([1.0, 2.0]))),
    "constant": ("jacobian", lambda lib: (lambda x: lib.ones(2), lib.tensor([1.0, 2.0]))),
    "hessian": ("hessian", lambda lib: (lambda x: (x ** 3).sum(), lib.tensor([1.0, 2.0]))),
    "hessian pair": ("hessian", lambda lib: (lambda x, y: (x * y.exp()).sum(),
                                             (lib.tensor([1.0, 2.0]), lib.tensor([0.5, -1.0])))),
    "vjp": ("vjp", lambda lib: (lambda x: x.sin(), lib.tensor([1.0, 2.0]), lib.tensor([1.0, -2.0]))),
    "vjp scalar": ("vjp", lambda lib: (lambda x: (x ** 3).sum(), lib.tensor([1.0, 2.0]))),
    "jvp": ("jvp", lambda lib: (lambda x: x.sin() * x, lib.tensor([1.0, 2.0]), lib.tensor([1.0, 3.0]))),
    "hvp": ("hvp", lambda lib: (lambda x: (x ** 3).prod(), lib.tensor([1.0, 2.0]), lib.tensor([1.0, 3.0]))),
    "vhp": ("vhp", lambda lib: (lambda x: (x ** 3).prod(), lib.tensor([1.0, 2.0]), lib.tensor([1.0, 3.0]))),
}


def _flat(value) -> list:
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in _flat(item)]
    return [value]


@pytest.mark.parametrize("case", sorted(CASES))
def test_functional_matches_torch(case):
    name, make = CASES[case]
    ours = getattr(chainrule.autograd.functional, name)(*make(chainrule))
    theirs = getattr(torch.autograd.functional, name)(*make(torch))
    ours, theirs = _flat(ours), _flat(theirs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert tuple(a.shape) == tuple(b.shape) and a.requires_grad == b.requires_grad
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("lib", [chainrule, torch], ids=["chainrule", "torch"])
def test_strict_mode_refuses_outputs_independent_of_the_input(lib):
    with pytest.raises(RuntimeError, match="does not require gradients"):
        lib.autograd.functional.jacobian(lambda x: lib.ones(2), lib.tensor([1.0, 2.0]), strict=True)


def test_create_graph_gives_differentiable_results():
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    jac = chainrule.autograd.functional.jacobian(lambda t: t ** 3, x, create_graph=True)
    assert jac.requires_grad
    jac.sum().backward()
    assert x.grad.tolist() == [6.0, 12.0]  # d/dx of 3x^2
