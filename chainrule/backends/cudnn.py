"""``torch.backends.cudnn``: flags scripts set for reproducibility; there is no cuDNN here."""

enabled = True
deterministic = False
benchmark = False
allow_tf32 = True


def is_available() -> bool:
    return False
