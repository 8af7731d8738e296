"""``torch.backends.cudnn``: settable flags with PyTorch's defaults; no cuDNN is used, so they change nothing."""
enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    return False


def version():
    return None
