"""``chainrule.distributions``: probability distributions with sampling, log-densities,
entropies and KL divergences, differentiable in their parameters (PyTorch's
``torch.distributions``).

>>> import chainrule as torch
>>> from chainrule.distributions import Normal
>>> loc = torch.tensor(0.0, requires_grad=True)
>>> Normal(loc, 1.0).log_prob(torch.tensor(1.0)).backward()
>>> loc.grad
tensor(1.)
"""

from chainrule.distributions import constraints
from chainrule.distributions.bernoulli import Bernoulli
from chainrule.distributions.beta import Beta
from chainrule.distributions.categorical import Categorical
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.gamma import Gamma
from chainrule.distributions.independent import Independent
from chainrule.distributions.kl import kl_divergence, register_kl
from chainrule.distributions.multivariate_normal import MultivariateNormal
from chainrule.distributions.normal import Normal
from chainrule.distributions.uniform import Uniform

__all__ = ["Bernoulli", "Beta", "Categorical", "Distribution", "Gamma", "Independent", "MultivariateNormal", "Normal",
           "Uniform",
           "constraints", "kl_divergence", "register_kl"]
