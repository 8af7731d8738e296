"""``torch.utils``'s place: ``tinygrad_cnn.utils.data`` (Dataset, DataLoader, samplers), and interop helpers."""
from .. import backend
from . import data


def to_torch_state_dict(model):
    """The model's state dict as torch tensors, ready for ``torch_model.load_state_dict`` (needs torch)."""
    try:
        import torch
    except ImportError as error:
        raise ImportError("to_torch_state_dict needs PyTorch (pip install torch==2.13.0)") from error
    return {key: torch.from_numpy(backend.to_numpy(value.array).copy()) for key, value in model.state_dict().items()}
