"""RMSprop (PyTorch's update rule, with momentum and the centered variant)."""
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """s = alpha s + (1 - alpha) g^2;  centered: m = lerp(m, g, 1 - alpha), s_hat = s - m^2;
    d = g / (sqrt(s_hat) + eps);  b = momentum b + d (momentum > 0), d = b;  p -= lr d."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 maximize=False):
        if lr < 0 or eps < 0 or momentum < 0 or weight_decay < 0 or alpha < 0:
            raise ValueError(f"RMSprop: invalid lr={lr}, alpha={alpha}, eps={eps}, momentum={momentum} or "
                             f"weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def update(self, param, grad, state, group):
        xp = param.xp
        g = -grad if group["maximize"] else grad
        alpha, momentum = group["alpha"], group["momentum"]
        if group["weight_decay"]:
            g = g + group["weight_decay"] * param.array
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param.array)
            if momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(param.array)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(param.array)
        state["step"] += 1
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * (g * g)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - alpha) * (g - grad_avg)  # torch's lerp_(g, 1 - alpha)
            avg = xp.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            avg = xp.sqrt(square_avg) + group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += g / avg
            param.array -= group["lr"] * buf
        else:
            param.array -= group["lr"] * (g / avg)
