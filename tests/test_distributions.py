"""``chainrule.distributions`` against ``torch.distributions``: log_prob, entropy, moments,
KL divergences and their gradients, shapes, reprs and validation errors; samples checked
for shape and (loosely) for their statistics."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
from chainrule import distributions as D

torch = pytest.importorskip("torch", reason="torch (the test oracle) is not installed")
from tests.torch_compare import raises_like_torch  # noqa: E402

RNG = np.random.default_rng(0)


def _positive(*shape):
    return RNG.random(shape) * 2 + 0.3


def _probabilities(*shape):
    return RNG.random(shape) * 0.8 + 0.1


def _simplex(*shape):
    p = RNG.random(shape) + 0.1
    return p / p.sum(-1, keepdims=True)


def _with_positive_diagonal(*shape):
    a = RNG.standard_normal(shape)
    diagonal = np.arange(shape[-1])
    a[..., diagonal, diagonal] = np.abs(a[..., diagonal, diagonal]) + 0.5
    return a


# name -> (constructor(lib, *params), parameter arrays, a valid value array)
CASES = {
    "Normal": (lambda lib, loc, scale: lib.distributions.Normal(loc, scale),
               [RNG.standard_normal((2, 3)), _positive(2, 3)], RNG.standard_normal((2, 3))),
    "Normal-broadcast": (lambda lib, loc, scale: lib.distributions.Normal(loc, scale),
                         [RNG.standard_normal(3), _positive(2, 1)], RNG.standard_normal((4, 2, 3))),
    "Uniform": (lambda lib, low, high: lib.distributions.Uniform(low, low + high),
                [RNG.standard_normal(4), _positive(4)], None),
    "Bernoulli-probs": (lambda lib, p: lib.distributions.Bernoulli(probs=p), [_probabilities(3, 2)],
                        RNG.integers(0, 2, (3, 2)).astype(float)),
    "Bernoulli-logits": (lambda lib, z: lib.distributions.Bernoulli(logits=z),
                         [RNG.standard_normal(5) * 3], RNG.integers(0, 2, 5).astype(float)),
    "Categorical-probs": (lambda lib, p: lib.distributions.Categorical(probs=p), [_simplex(2, 4)],
                          RNG.integers(0, 4, (3, 2))),
    "Categorical-logits": (lambda lib, z: lib.distributions.Categorical(logits=z),
                           [RNG.standard_normal(5) * 2], RNG.integers(0, 5, (2,))),
    "MVN-covariance": (lambda lib, loc, a: lib.distributions.MultivariateNormal(
        loc, covariance_matrix=a @ a.mT + lib.eye(3, dtype=a.dtype)),
        [RNG.standard_normal((2, 3)), RNG.standard_normal((3, 3))], RNG.standard_normal((4, 2, 3))),
    "MVN-scale_tril": (lambda lib, loc, a: lib.distributions.MultivariateNormal(loc, scale_tril=a.tril()),
                       [RNG.standard_normal(3), _with_positive_diagonal(2, 3, 3)],
                       RNG.standard_normal((2, 3))),
    "MVN-precision": (lambda lib, loc, a: lib.distributions.MultivariateNormal(
        loc, precision_matrix=a @ a.mT + lib.eye(3, dtype=a.dtype)),
        [RNG.standard_normal(3), RNG.standard_normal((2, 3, 3))], RNG.standard_normal(3)),
    "Independent-Normal": (lambda lib, loc, scale: lib.distributions.Independent(
        lib.distributions.Normal(loc, scale), 1),
        [RNG.standard_normal((2, 3)), _positive(2, 3)], RNG.standard_normal((4, 2, 3))),
    "Independent-Bernoulli": (lambda lib, p: lib.distributions.Independent(
        lib.distributions.Bernoulli(p), 2), [_probabilities(3, 2)], RNG.integers(0, 2, (3, 2)) * 1.0),
    "Gamma": (lambda lib, c, r: lib.distributions.Gamma(c, r), [_positive(3), _positive(3)],
              _positive(2, 3)),
    "Beta": (lambda lib, a, b: lib.distributions.Beta(a, b), [_positive(2, 3), _positive(2, 3)],
             _probabilities(2, 3)),
    "Beta-modes": (lambda lib, a, b: lib.distributions.Beta(a, b),
                   [np.array([0.5, 0.5, 0.3, 2.0, 1.0, 3.0]), np.array([0.3, 0.5, 0.5, 0.5, 1.0, 2.0])],
                   _probabilities(6)),
}


def _build(case, lib, requires_grad=True):
    constructor, params, _ = CASES[case]
    tensors = [lib.tensor(p, requires_grad=requires_grad) for p in params]
    return constructor(lib, *tensors), tensors


def _value(case, lib):
    _, params, value = CASES[case]
    if value is None:  # inside each uniform's interval
        value = params[0] + params[1] * 0.4
    return lib.tensor(value)


def _close(ours, theirs, rtol=1e-9, atol=1e-12):
    assert str(ours.dtype) == str(theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", list(CASES))
def test_shapes_and_moments_match_torch(case):
    ours, _ = _build(case, chainrule)
    theirs, _ = _build(case, torch)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)
    assert tuple(ours.event_shape) == tuple(theirs.event_shape)
    assert ours.has_rsample == theirs.has_rsample
    assert ours.has_enumerate_support == theirs.has_enumerate_support
    for stat in ("mean", "variance", "stddev", "mode"):
        _close(getattr(ours, stat), getattr(theirs, stat))


@pytest.mark.parametrize("case", list(CASES))
def test_log_prob_and_entropy_and_their_gradients_match_torch(case):
    ours, our_params = _build(case, chainrule)
    theirs, their_params = _build(case, torch)
    our_lp, their_lp = ours.log_prob(_value(case, chainrule)), theirs.log_prob(_value(case, torch))
    _close(our_lp, their_lp)
    _close(ours.entropy(), theirs.entropy())
    _close(ours.perplexity(), theirs.perplexity())
    weights = RNG.standard_normal(tuple(their_lp.shape))
    (our_lp * chainrule.tensor(weights)).sum().add(ours.entropy().sum()).backward()
    (their_lp * torch.tensor(weights)).sum().add(theirs.entropy().sum()).backward()
    for mine, other in zip(our_params, their_params):
        _close(mine.grad, other.grad, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("case", ["Normal", "Uniform"])
def test_cdf_and_icdf_and_their_gradients_match_torch(case):
    ours, our_params = _build(case, chainrule)
    theirs, their_params = _build(case, torch)
    _close(ours.cdf(_value(case, chainrule)), theirs.cdf(_value(case, torch)))
    levels = np.broadcast_to(np.linspace(0.001, 0.999, ours.batch_shape[-1]), tuple(ours.batch_shape))
    quantiles = ours.icdf(chainrule.tensor(levels.copy()))
    expected = theirs.icdf(torch.tensor(levels.copy()))
    _close(quantiles, expected, rtol=1e-12, atol=1e-12)
    quantiles.sum().backward()
    expected.sum().backward()
    for mine, other in zip(our_params, their_params):
        _close(mine.grad, other.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("sample_shape", [(), (5,), (2, 3)], ids=str)
def test_sample_shapes_and_dtypes_match_torch(case, sample_shape):
    ours, _ = _build(case, chainrule)
    theirs, _ = _build(case, torch)
    mine, other = ours.sample(sample_shape), theirs.sample(sample_shape)
    assert tuple(mine.shape) == tuple(other.shape)
    assert str(mine.dtype) == str(other.dtype)
    assert not mine.requires_grad
    ours.log_prob(mine)  # every sample lies in the support


@pytest.mark.parametrize("case", list(CASES))
def test_sample_statistics_are_close_to_the_moments(case):
    chainrule.manual_seed(0)
    ours, _ = _build(case, chainrule, requires_grad=False)
    draws = ours.sample((20000,)).to(chainrule.float64)
    if case.startswith("Categorical"):
        frequencies = [(draws == k).to(chainrule.float64).mean(0).numpy()
                       for k in range(ours.probs.shape[-1])]
        np.testing.assert_allclose(np.stack(frequencies, -1), ours.probs.numpy(), atol=0.02)
        return
    np.testing.assert_allclose(draws.mean(0).numpy(), ours.mean.numpy(),
                               atol=0.05 * float(ours.stddev.max()) + 0.01)
    np.testing.assert_allclose(draws.var(0).numpy(), ours.variance.numpy(), rtol=0.1, atol=0.01)


@pytest.mark.parametrize("case", ["Normal", "Uniform", "MVN-covariance", "Gamma", "Beta"])
def test_rsample_is_differentiable_in_the_parameters(case):
    ours, params = _build(case, chainrule)
    draws = ours.rsample((3,))
    assert draws.requires_grad
    draws.sum().backward()
    if case in ("Gamma", "Beta"):
        assert all(np.isfinite(p.grad.numpy()).all() for p in params)
        return
    # d sample / d (loc or low) is 1 for every draw
    np.testing.assert_allclose(params[0].grad.numpy(), np.full(params[0].shape, 3.0 * draws[0].numel()
                                                               / params[0].numel()))


KL_PAIRS = {
    "Normal": ("Normal", "Normal-broadcast"),
    "Uniform": ("Uniform", "Uniform"),
    "Bernoulli": ("Bernoulli-probs", "Bernoulli-logits"),
    "Categorical": ("Categorical-probs", "Categorical-probs"),
    "Gamma": ("Gamma", "Gamma"),
    "Beta": ("Beta", "Beta"),
    "MultivariateNormal": ("MVN-covariance", "MVN-scale_tril"),
    "Independent": ("Independent-Normal", "Independent-Normal"),
}


@pytest.mark.parametrize("pair", list(KL_PAIRS))
def test_kl_divergence_and_its_gradients_match_torch(pair):
    first, second = KL_PAIRS[pair]
    if first == second:  # a second set of parameters
        constructor, params, _ = CASES[first]
        shifted = [np.abs(p[::-1].copy()) + 0.2 if p.ndim else p for p in params]
        CASES["_other"] = (constructor, shifted, None)
        second = "_other"
    if pair == "Bernoulli":  # PyTorch's Bernoulli KL needs equal batch shapes
        CASES["_other"] = (CASES[second][0], [RNG.standard_normal((3, 2))], None)
        second = "_other"
    ps = {lib: _build(first, lib) for lib in (chainrule, torch)}
    qs = {lib: _build(second, lib) for lib in (chainrule, torch)}
    ours = D.kl_divergence(ps[chainrule][0], qs[chainrule][0])
    theirs = torch.distributions.kl_divergence(ps[torch][0], qs[torch][0])
    _close(ours, theirs)
    finite = np.isfinite(theirs.detach().numpy())
    weights = np.where(finite, RNG.standard_normal(tuple(theirs.shape)), 0.0)
    (ours * chainrule.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    for mine, other in zip(ps[chainrule][1] + qs[chainrule][1], ps[torch][1] + qs[torch][1]):
        _close(mine.grad, other.grad, rtol=1e-7, atol=1e-10)


def test_kl_divergence_edge_cases_match_torch():
    pairs = [
        (lambda lib: lib.distributions.Uniform(0.0, 2.0), lambda lib: lib.distributions.Uniform(0.5, 3.0)),
        (lambda lib: lib.distributions.Bernoulli(lib.tensor([0.0, 1.0, 0.5])),
         lambda lib: lib.distributions.Bernoulli(lib.tensor([0.0, 0.5, 1.0]))),
        (lambda lib: lib.distributions.Categorical(lib.tensor([0.5, 0.5, 0.0])),
         lambda lib: lib.distributions.Categorical(lib.tensor([0.5, 0.0, 0.5]))),
    ]
    for p, q in pairs:
        ours = chainrule.distributions.kl_divergence(p(chainrule), q(chainrule))
        theirs = torch.distributions.kl_divergence(p(torch), q(torch))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_register_kl_dispatches_on_the_most_specific_pair():
    class MyNormal(D.Normal):
        pass

    p, q = MyNormal(0.0, 1.0), D.Normal(1.0, 2.0)
    np.testing.assert_allclose(D.kl_divergence(p, q).numpy(),
                               D.kl_divergence(D.Normal(0.0, 1.0), q).numpy())

    @D.register_kl(MyNormal, D.Normal)
    def _always_seven(p, q):
        return chainrule.tensor(7.0)

    try:
        assert D.kl_divergence(p, q).item() == 7.0
        assert D.kl_divergence(q, q).item() == 0.0
    finally:
        del D.kl._KL_REGISTRY[MyNormal, D.Normal]


@pytest.mark.parametrize("call", [
    lambda lib: lib.distributions.Normal(0.0, -1.0),
    lambda lib: lib.distributions.Normal(lib.zeros(2), lib.tensor([1.0, 0.0])),
    lambda lib: lib.distributions.Normal(0.0, 1.0).log_prob(1.0),
    lambda lib: lib.distributions.Normal(lib.zeros(2), 1.0).log_prob(lib.zeros(3)),
    lambda lib: lib.distributions.Bernoulli(0.3).log_prob(lib.tensor(0.5)),
    lambda lib: lib.distributions.Bernoulli(),
    lambda lib: lib.distributions.Bernoulli(probs=0.3, logits=0.1),
    lambda lib: lib.distributions.Bernoulli(1.5),
    lambda lib: lib.distributions.Uniform(1.0, 0.0),
    lambda lib: lib.distributions.Uniform(0.0, 1.0).log_prob(lib.tensor(2.0)),
    lambda lib: lib.distributions.Categorical(lib.tensor([0.2, -0.1])),
    lambda lib: lib.distributions.Categorical(lib.tensor(0.5)),
    lambda lib: lib.distributions.Categorical(logits=lib.zeros(3)).log_prob(lib.tensor(3)),
    lambda lib: lib.distributions.Gamma(1.0, 1.0).log_prob(lib.tensor(-1.0)),
    lambda lib: lib.distributions.Gamma(-1.0, 1.0),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2)),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), lib.eye(2), scale_tril=lib.eye(2)),
    lambda lib: lib.distributions.MultivariateNormal(lib.tensor(0.0), lib.eye(2)),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), lib.ones(2)),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), lib.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), scale_tril=lib.ones(2, 2)),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), lib.eye(2)).log_prob(lib.zeros(3)),
    lambda lib: lib.distributions.kl_divergence(
        lib.distributions.MultivariateNormal(lib.zeros(2), lib.eye(2)),
        lib.distributions.MultivariateNormal(lib.zeros(3), lib.eye(3))),
    lambda lib: lib.distributions.Independent(lib.distributions.Normal(lib.zeros(3), 1.0), 2),
    lambda lib: lib.distributions.Independent(lib.distributions.Normal(lib.zeros(3), 1.0), 1).log_prob(
        lib.zeros(2)),
    lambda lib: lib.distributions.kl_divergence(lib.distributions.Categorical(logits=lib.zeros(2)),
                                                lib.distributions.Normal(0.0, 1.0)),
])
def test_validation_errors_match_torch(call):
    raises_like_torch(lambda: call(chainrule), lambda: call(torch))


def test_beta_rejects_bad_concentrations_with_torchs_exception_type():
    with pytest.raises(ValueError, match="concentration1"):
        D.Beta(-1.0, 1.0)
    with pytest.raises(ValueError):
        torch.distributions.Beta(-1.0, 1.0)


def test_validation_can_be_switched_off():
    assert D.Normal(0.0, -1.0, validate_args=False).scale.item() == -1.0
    D.Distribution.set_default_validate_args(False)
    try:
        D.Uniform(1.0, 0.0)
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Uniform(1.0, 0.0)


@pytest.mark.parametrize("make", [
    lambda lib: lib.distributions.Normal(0.0, 1.0),
    lambda lib: lib.distributions.Normal(lib.zeros(2), 1.0),
    lambda lib: lib.distributions.Bernoulli(0.3),
    lambda lib: lib.distributions.Bernoulli(logits=lib.zeros(2)),
    lambda lib: lib.distributions.Categorical(logits=lib.zeros(3)),
    lambda lib: lib.distributions.Uniform(0.0, 2.0),
    lambda lib: lib.distributions.Gamma(1.0, 2.0),
    lambda lib: lib.distributions.Beta(1.0, 2.0),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), lib.eye(2)),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(3, 2), scale_tril=lib.eye(2)),
    lambda lib: lib.distributions.Independent(lib.distributions.Normal(lib.zeros(3, 2), 1.0), 1),
    lambda lib: lib.distributions.Independent(lib.distributions.Bernoulli(lib.full((3, 2), 0.5)), 0),
])
def test_reprs_and_supports_match_torch(make):
    ours, theirs = make(chainrule), make(torch)
    assert repr(ours) == repr(theirs)
    assert repr(ours.support) == repr(theirs.support)
    assert {k: repr(v) for k, v in ours.arg_constraints.items()} == \
        {k: repr(v) for k, v in theirs.arg_constraints.items()}
    assert str(ours.sample().dtype) == str(theirs.sample().dtype)


def test_constraint_reprs_match_torch():
    names = ["real", "positive", "nonnegative", "unit_interval", "simplex", "boolean",
             "nonnegative_integer", "positive_integer", "real_vector", "lower_cholesky",
             "positive_definite"]
    for name in names:
        assert repr(getattr(D.constraints, name)) == repr(getattr(torch.distributions.constraints, name))
    assert repr(D.constraints.integer_interval(0, 3)) == "IntegerInterval(lower_bound=0, upper_bound=3)"
    assert repr(D.constraints.half_open_interval(0.0, 1.0)) == repr(
        torch.distributions.constraints.half_open_interval(0.0, 1.0))


@pytest.mark.parametrize("name,value", [
    ("lower_cholesky", [[1.0, 0.0], [0.5, 2.0]]), ("lower_cholesky", [[1.0, 0.3], [0.5, 2.0]]),
    ("lower_cholesky", [[-1.0, 0.0], [0.5, 2.0]]), ("positive_definite", [[2.0, 0.5], [0.5, 1.0]]),
    ("positive_definite", [[1.0, 2.0], [2.0, 1.0]]), ("positive_definite", [[1.0, 0.5], [0.0, 1.0]]),
    ("simplex", [0.3, 0.7]), ("simplex", [0.3, 0.6]), ("real_vector", [1.0, float("nan")]),
])
def test_constraint_checks_match_torch(name, value):
    ours = getattr(D.constraints, name).check(chainrule.tensor(value))
    theirs = getattr(torch.distributions.constraints, name).check(torch.tensor(value))
    assert ours.tolist() == theirs.tolist()


@pytest.mark.parametrize("case", ["MVN-covariance", "MVN-scale_tril", "MVN-precision"])
def test_multivariate_normal_matrices_match_torch(case):
    ours, _ = _build(case, chainrule)
    theirs, _ = _build(case, torch)
    for name in ("scale_tril", "covariance_matrix", "precision_matrix"):
        _close(getattr(ours, name), getattr(theirs, name), rtol=1e-8, atol=1e-10)


def test_cholesky_and_its_gradients_match_torch():
    a = RNG.standard_normal((3, 4, 4))
    spd = a @ a.transpose(0, 2, 1) + np.eye(4)
    ours, theirs = chainrule.tensor(spd, requires_grad=True), torch.tensor(spd, requires_grad=True)
    factor, expected = chainrule.linalg.cholesky(ours), torch.linalg.cholesky(theirs)
    _close(factor, expected)
    assert factor.grad_fn.name() == expected.grad_fn.name()
    _close(chainrule.linalg.cholesky(ours, upper=True), torch.linalg.cholesky(theirs, upper=True))
    weights = RNG.standard_normal((3, 4, 4))
    (factor * chainrule.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    _close(ours.grad, theirs.grad, rtol=1e-8, atol=1e-12)
    x = chainrule.tensor(RNG.standard_normal((3, 3)) + 3 * np.eye(3), requires_grad=True)
    assert chainrule.autograd.gradgradcheck(lambda m: chainrule.linalg.cholesky(m @ m.mT), (x,))


@pytest.mark.parametrize("matrix", [[[1.0, 2.0], [2.0, 1.0]],
                                    [[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, -1.0]]]])
def test_cholesky_of_a_matrix_that_is_not_positive_definite_fails_as_torch(matrix):
    with pytest.raises(torch.linalg.LinAlgError) as expected:
        torch.linalg.cholesky(torch.tensor(matrix))
    with pytest.raises(chainrule.linalg.LinAlgError) as got:
        chainrule.linalg.cholesky(chainrule.tensor(matrix))
    assert str(got.value) == str(expected.value)


def test_enumerate_support_matches_torch():
    for make in (lambda lib: lib.distributions.Bernoulli(lib.tensor([0.2, 0.6])),
                 lambda lib: lib.distributions.Categorical(logits=lib.zeros(2, 3))):
        for expand in (True, False):
            ours = make(chainrule).enumerate_support(expand)
            theirs = make(torch).enumerate_support(expand)
            assert ours.tolist() == theirs.tolist() and str(ours.dtype) == str(theirs.dtype)


def test_erfinv_and_its_gradient_match_torch():
    from chainrule.distributions._special import erfinv

    y = np.concatenate([np.linspace(-1.0, 1.0, 41), [-0.999999, 1e-9, 0.9999999999, 1.5]])
    ours, theirs = chainrule.tensor(y, requires_grad=True), torch.tensor(y, requires_grad=True)
    # erf near +-1 is known to about 1e-16 absolutely, so erfinv within 1e-10 of +-1 to ~1e-8
    _close(erfinv(ours), torch.erfinv(theirs), rtol=1e-8, atol=1e-14)
    _close(erfinv(ours)[:-4], torch.erfinv(theirs)[:-4], rtol=1e-13, atol=1e-14)
    inner = slice(1, -4)  # away from +-1 and the far tails
    erfinv(ours)[inner].sum().backward()
    torch.erfinv(theirs)[inner].sum().backward()
    _close(ours.grad, theirs.grad, rtol=1e-10)


def test_special_functions_and_their_derivatives_match_torch():
    from chainrule.distributions._special import digamma, lgamma

    x = np.concatenate([np.linspace(-4.7, -0.2, 10), np.linspace(0.01, 30.0, 40)])
    ours = chainrule.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    _close(lgamma(ours), torch.lgamma(theirs), rtol=1e-12)
    (first,) = chainrule.autograd.grad(digamma(ours).sum(), ours)
    _close(digamma(ours), torch.digamma(theirs), rtol=1e-12, atol=1e-12)
    _close(first, torch.polygamma(1, theirs), rtol=1e-8)
    lgamma(ours).sum().backward()
    _close(ours.grad, torch.digamma(theirs), rtol=1e-12, atol=1e-12)


def test_xlogy_and_its_gradients_match_torch():
    from chainrule.distributions._special import xlogy

    x, y = np.array([0.0, 0.0, 2.0, -1.5]), np.array([[0.5], [3.0]])
    ours = [chainrule.tensor(a, requires_grad=True) for a in (x, y)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, y)]
    _close(xlogy(*ours), torch.xlogy(*theirs))
    assert xlogy(*ours).grad_fn.name() == torch.xlogy(*theirs).grad_fn.name()
    xlogy(*ours).sum().backward()
    torch.xlogy(*theirs).sum().backward()
    for mine, other in zip(ours, theirs):
        _close(mine.grad, other.grad)


@pytest.mark.parametrize("make,value", [
    (lambda lib: lib.distributions.Uniform(0.0, 2.0, validate_args=False), [-1.0, 0.0, 1.0, 2.0, 3.0]),
    (lambda lib: lib.distributions.Bernoulli(lib.tensor([0.5, 0.2, 0.8])), [1.0, 0.0, 1.0]),
    (lambda lib: lib.distributions.Gamma(lib.tensor([0.5, 1.0, 3.0]), 2.0), [0.0, 0.0, 0.0]),
])
def test_boundary_values_and_modes_match_torch(make, value):
    ours, theirs = make(chainrule), make(torch)
    _close(ours.log_prob(chainrule.tensor(value)), theirs.log_prob(torch.tensor(value)))
    _close(ours.mode, theirs.mode)


def test_gamma_sample_gradient_matches_torchs_standard_gamma_grad():
    from chainrule.distributions._standard_gamma import standard_gamma

    alpha = np.array([0.05, 0.5, 2.0, 7.0, 30.0, 300.0]).repeat(50)
    ours = chainrule.tensor(alpha, requires_grad=True)
    chainrule.manual_seed(0)
    draws = standard_gamma(ours)
    assert draws.grad_fn.name() == "StandardGammaBackward0"
    draws.sum().backward()
    expected = torch._standard_gamma_grad(torch.tensor(alpha), torch.tensor(draws.detach().numpy()))
    # torch's gradient is itself an approximation (to about 1e-3 in the far tails)
    np.testing.assert_allclose(ours.grad.numpy(), expected.numpy(), rtol=5e-3, atol=1e-6)


def test_gamma_rsample_gradient_in_the_rate_is_exact():
    concentration = chainrule.tensor([2.0, 5.0], dtype=chainrule.float64)
    rate = chainrule.tensor([0.5, 3.0], dtype=chainrule.float64, requires_grad=True)
    draws = D.Gamma(concentration, rate).rsample((4,))
    draws.sum().backward()
    # draws = g / rate for standard gamma samples g, so d draws / d rate = -draws / rate
    np.testing.assert_allclose(rate.grad.numpy(), (-draws / rate).sum(0).detach().numpy())


@pytest.mark.parametrize("case", ["Gamma", "Beta"])
def test_rsample_gradient_of_the_mean_is_unbiased(case):
    chainrule.manual_seed(3)
    params = [chainrule.tensor([2.0, 0.7], dtype=chainrule.float64, requires_grad=True),
              chainrule.tensor([1.5, 3.0], dtype=chainrule.float64, requires_grad=True)]
    dist = getattr(D, case)(*params)
    dist.rsample((20000,)).mean(0).sum().backward()
    exact = [p.clone().detach().requires_grad_() for p in params]
    getattr(D, case)(*exact).mean.sum().backward()
    for estimate, truth in zip(params, exact):
        np.testing.assert_allclose(estimate.grad.numpy(), truth.grad.numpy(), rtol=0.05, atol=0.005)


EXPANSIONS = {"Normal": (4, 2, 3), "Normal-broadcast": (5, 2, 3), "Uniform": (2, 4),
              "Bernoulli-probs": (2, 3, 2), "Bernoulli-logits": (3, 5), "Categorical-probs": (3, 2),
              "Categorical-logits": (4,), "MVN-covariance": (3, 2), "MVN-scale_tril": (4, 2),
              "MVN-precision": (5, 2), "Independent-Normal": (4, 2), "Independent-Bernoulli": (2,),
              "Gamma": (2, 3), "Beta": (4, 2, 3)}


@pytest.mark.parametrize("case", list(EXPANSIONS))
def test_expand_matches_torch(case):
    shape = EXPANSIONS[case]
    ours, theirs = _build(case, chainrule)[0].expand(shape), _build(case, torch)[0].expand(shape)
    assert type(ours).__name__ == type(theirs).__name__
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape) == shape
    assert tuple(ours.event_shape) == tuple(theirs.event_shape)
    assert repr(ours) == repr(theirs)
    sample = theirs.sample()
    _close(ours.log_prob(chainrule.tensor(sample.numpy())), theirs.log_prob(sample))
    _close(ours.entropy(), theirs.entropy())
    assert tuple(ours.sample((2,)).shape) == tuple(theirs.sample((2,)).shape)
