"""Stochastic gradient descent with momentum, dampening, weight decay and Nesterov (PyTorch's rule)."""
from .optimizer import Optimizer


class SGD(Optimizer):
    """d = g + wd * p;  b = momentum * b + (1 - dampening) * d (b = d at the first step);
    d = d + momentum * b (Nesterov) or b;  p -= lr * d."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: invalid lr={lr}, momentum={momentum} or weight_decay={weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def update(self, param, grad, state, group):
        xp, scratch = param.xp, self.scratch(param)  # (temporaries go into scratch: no allocation per step)
        d = -grad if group["maximize"] else grad
        if group["weight_decay"]:
            d = xp.add(d, xp.multiply(param.array, group["weight_decay"], out=scratch), out=scratch)
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = d.copy()
            else:
                buf *= momentum
                buf += d if group["dampening"] == 0 else (1 - group["dampening"]) * d
            d = d + momentum * buf if group["nesterov"] else buf
        param.array -= xp.multiply(d, group["lr"], out=scratch)
