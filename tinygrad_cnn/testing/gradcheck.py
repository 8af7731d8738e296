"""Compare autograd's gradients with central differences, like ``torch.autograd.gradcheck``.

The function's outputs are contracted with a *random* upstream gradient v (an all-ones
upstream gradient hides whole classes of bugs), so what is checked is the
vector-Jacobian product  v^T J  for every input, in float64.
"""
from .. import backend
from ..autograd import grad as autograd_grad
from ..tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by gradcheck when the analytical and numerical gradients disagree."""


def _as_outputs(out):
    return [out] if isinstance(out, Tensor) else [o for o in out if isinstance(o, Tensor)]


def _differentiable(inputs):
    return [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]


def _check_inputs(inputs):
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    for x in _differentiable(inputs):
        if x.dtype != backend.float64:
            raise ValueError(f"gradcheck: inputs that require grad must be float64 for reliable central "
                             f"differences, got {x.dtype}")
    if not _differentiable(inputs):
        raise ValueError("gradcheck: at least one input must be a Tensor with requires_grad=True")
    return inputs


def numerical_gradients(fn, inputs, upstream, eps=1e-6):
    """d(sum_k <v_k, fn(inputs)_k>)/d(x) for each input x that requires grad, by central differences."""
    grads = []
    for x in _differentiable(inputs):  # fn runs with grad enabled: it may differentiate inside (gradgradcheck)
        flat = x.array.reshape(-1)  # a view: editing it edits x
        g = x.xp.zeros(flat.shape, backend.float64)
        for i in range(flat.size):
            original = flat[i].item()
            flat[i] = original + eps
            plus = _contract(fn(*inputs), upstream)
            flat[i] = original - eps
            minus = _contract(fn(*inputs), upstream)
            flat[i] = original
            g[i] = (plus - minus) / (2 * eps)
        grads.append(g.reshape(x.shape))
    return grads


def _contract(out, upstream):
    return sum(float((o.array.astype(backend.float64) * v).sum()) for o, v in zip(_as_outputs(out), upstream))


def _random_upstream(outputs, seed):
    rng = backend.new_generator(seed)
    return [backend.to_device(rng.standard_normal(o.shape), o.device) for o in outputs]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """True when autograd's vector-Jacobian products match central differences for every input.

    Otherwise raises ``GradcheckError`` naming the input and the worst mismatch (or returns
    False with ``raise_exception=False``).
    """
    inputs = _check_inputs(inputs)
    outputs = _as_outputs(fn(*inputs))
    upstream = _random_upstream(outputs, seed)
    linked = [(o, Tensor._from_array(v)) for o, v in zip(outputs, upstream) if o.requires_grad]
    if linked:
        analytical = autograd_grad([o for o, _ in linked], _differentiable(inputs), [v for _, v in linked],
                                   allow_unused=True)
    else:  # outputs that do not depend on the inputs: the gradient is zero
        analytical = [None] * len(_differentiable(inputs))
    numerical = numerical_gradients(fn, inputs, upstream, eps)
    for i, (a, n) in enumerate(zip(analytical, numerical)):
        a = n * 0 if a is None else a.array
        error = abs(a - n) - (atol + rtol * abs(n))
        if error.max() > 0:
            if not raise_exception:
                return False
            worst = int(error.argmax())
            index = tuple(int(j) for j in backend.numpy_module().unravel_index(worst, n.shape)) if n.ndim else ()
            raise GradcheckError(
                f"gradcheck: Jacobian mismatch for input {i} (shape {tuple(n.shape)}) at index {index}: "
                f"analytical {float(a.reshape(-1)[worst]):.8g} vs numerical {float(n.reshape(-1)[worst]):.8g} "
                f"(atol={atol}, rtol={rtol})"
            )
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check second derivatives: gradcheck of  x -> grad(<v, fn(x)>, x)  built with create_graph=True."""
    inputs = _check_inputs(inputs)
    outputs = _as_outputs(fn(*inputs))
    upstream = [Tensor._from_array(v) for v in _random_upstream(outputs, seed + 1)]

    def first_derivative(*xs):
        linked = [(o, v) for o, v in zip(_as_outputs(fn(*xs)), upstream) if o.requires_grad]
        grads = autograd_grad([o for o, _ in linked], _differentiable(xs), [v for _, v in linked],
                              create_graph=True, allow_unused=True)
        return tuple(Tensor._from_array(x.xp.zeros_like(x.array)) if g is None else g
                     for x, g in zip(_differentiable(xs), grads))

    return gradcheck(first_derivative, inputs, eps, atol, rtol, raise_exception, seed)
