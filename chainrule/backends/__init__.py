"""``torch.backends``: the switches scripts set for GPU libraries, which a CPU framework keeps
as plain flags (``torch.backends.cudnn.deterministic = True`` works and changes nothing), and
``native``, the switch for chainrule's own optional compiled kernels."""

from chainrule.backends import cpu, cuda, cudnn, mps, native

__all__ = ["cpu", "cuda", "cudnn", "mps", "native"]
