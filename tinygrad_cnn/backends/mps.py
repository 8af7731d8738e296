"""``torch.backends.mps``: Apple's Metal backend is never available here."""


def is_available():
    return False


def is_built():
    return False
