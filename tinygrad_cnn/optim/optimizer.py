"""Optimizer: parameter groups, per-parameter state, zero_grad and state dicts (PyTorch's layout)."""
from .. import autograd
from ..autograd import enable_grad, no_grad
from ..tensor import Tensor


class Optimizer:
    """Base class. Subclasses implement ``update(param, grad_array, state, group)`` on raw arrays, in place."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = {}  # Parameter -> dict of arrays and numbers
        self.param_groups = []
        self._scratches = {}  # id(Parameter) -> the array an update writes its temporaries into
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    def add_param_group(self, group):
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor) or not p.is_leaf:
                raise TypeError("optimizer can only optimize leaf Tensors")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        if autograd._tape is not None:  # a recording (tg.compile) calls it again at each replay
            autograd._tape.call_again(self.zero_grad, set_to_none)
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad = Tensor._from_array(p.grad.xp.zeros_like(p.grad.array))

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; builds no graph. Each update is in place,
        so it counts as one (the version goes up): a graph still holding the old values refuses to
        backward again, as in PyTorch."""
        loss = None
        if autograd._tape is not None:  # a recording (tg.compile) calls it again at each replay
            if closure is not None:
                autograd._tape.escape("an optimizer step with a closure")
            autograd._tape.call_again(self.step)
        if closure is not None:
            with enable_grad():  # the closure recomputes the loss
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                self.update(p, p.grad.array, self.state.setdefault(p, {}), group)
                p._version_cell[0] += 1
        return loss

    def update(self, param, grad, state, group):
        raise NotImplementedError

    def scratch(self, param):
        """An array of ``param``'s shape and dtype for an update's temporaries, kept between steps (not part
        of the state: a state dict holds what PyTorch's holds)."""
        buffer = self._scratches.get(id(param))
        if buffer is None or buffer.shape != param.array.shape or buffer.dtype != param.array.dtype:
            buffer = self._scratches[id(param)] = param.xp.empty_like(param.array)
        return buffer

    def state_dict(self):
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}, as PyTorch."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: Tensor._from_array(v) if _is_array(v) else v
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)):
            raise ValueError("loaded state dict has a different number of parameter groups or parameters")
        by_index = {}
        for saved, own in zip(groups, self.param_groups):
            for i, p in zip(saved["params"], own["params"]):
                by_index[i] = p
            own.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for i, values in state_dict["state"].items():
            p = by_index[int(i)]
            self.state[p] = {k: (v.to(p.device).array.copy() if isinstance(v, Tensor) else v) for k, v in values.items()}

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join(lines) + "\n)"


def _is_array(value):
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, Tensor)
