"""DataParallel as the pass-through it is on one device: ``model = nn.DataParallel(model)`` keeps working."""
from .module import Module


class DataParallel(Module):
    """Runs ``module`` as it is (there is one device here to replicate it on); ``.module`` is the wrapped
    model, and the state dict's keys start with ``module.``, as PyTorch's do."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
