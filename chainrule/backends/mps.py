"""``torch.backends.mps``: Apple's GPU backend, never available in chainrule."""


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False
