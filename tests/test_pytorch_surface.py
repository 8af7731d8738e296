"""The everyday PyTorch surface beyond the core: losses, sorting, float16, printing, introspection and
device plumbing, each against PyTorch where it is installed (and against written-out values where not)."""
import numpy as np
import pytest

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn

from .helpers import check_gradients, compare_with_torch, requires_torch, torch

rng = np.random.default_rng(0)
LOGITS = rng.standard_normal((4, 3)) * 3
PROBS = 1 / (1 + np.exp(-LOGITS))
TARGETS = (rng.random((4, 3)) > 0.5).astype(np.float64)
SOFT_TARGETS = rng.random((4, 3))
WEIGHT, POS_WEIGHT = rng.random((4, 3)), np.array([0.5, 2.0, 3.0])  # constants: torch refuses their gradient

LOSSES = {  # name: (ours, theirs, inputs)
    "bce": (lambda x, y: F.binary_cross_entropy(x, y), lambda x, y: torch.nn.functional.binary_cross_entropy(x, y),
            [PROBS, TARGETS]),
    "bce-weight-sum": (lambda x, y: F.binary_cross_entropy(x, y, tg.tensor(WEIGHT), reduction="sum"),
                       lambda x, y: torch.nn.functional.binary_cross_entropy(x, y, torch.tensor(WEIGHT),
                                                                             reduction="sum"),
                       [PROBS, SOFT_TARGETS]),
    "bce-logits": (lambda x, y: F.binary_cross_entropy_with_logits(x, y),
                   lambda x, y: torch.nn.functional.binary_cross_entropy_with_logits(x, y), [LOGITS, SOFT_TARGETS]),
    "bce-logits-pos-weight-none": (
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, pos_weight=tg.tensor(POS_WEIGHT), reduction="none"),
        lambda x, y: torch.nn.functional.binary_cross_entropy_with_logits(x, y, pos_weight=torch.tensor(POS_WEIGHT),
                                                                          reduction="none"),
        [LOGITS, TARGETS]),
    "l1": (lambda x, y: F.l1_loss(x, y), lambda x, y: torch.nn.functional.l1_loss(x, y), [LOGITS, SOFT_TARGETS]),
    "smooth-l1": (lambda x, y: F.smooth_l1_loss(x, y, beta=0.7),
                  lambda x, y: torch.nn.functional.smooth_l1_loss(x, y, beta=0.7), [LOGITS, SOFT_TARGETS]),
    "smooth-l1-beta0-sum": (lambda x, y: F.smooth_l1_loss(x, y, reduction="sum", beta=0.0),
                            lambda x, y: torch.nn.functional.smooth_l1_loss(x, y, reduction="sum", beta=0.0),
                            [LOGITS, SOFT_TARGETS]),
    "huber": (lambda x, y: F.huber_loss(x, y, delta=1.5), lambda x, y: torch.nn.functional.huber_loss(x, y, delta=1.5),
              [LOGITS, SOFT_TARGETS]),
    "kl-batchmean": (lambda x, y: F.kl_div(x.log_softmax(1), y, reduction="batchmean"),
                     lambda x, y: torch.nn.functional.kl_div(x.log_softmax(1), y, reduction="batchmean"),
                     [LOGITS, SOFT_TARGETS / SOFT_TARGETS.sum(1, keepdims=True)]),
    "kl-log-target-sum": (lambda x, y: F.kl_div(x, y, reduction="sum", log_target=True),
                          lambda x, y: torch.nn.functional.kl_div(x, y, reduction="sum", log_target=True),
                          [LOGITS, -SOFT_TARGETS]),
    "kl-zero-targets-none": (lambda x: F.kl_div(x, tg.tensor(TARGETS), reduction="none"),
                             lambda x: torch.nn.functional.kl_div(x, torch.tensor(TARGETS), reduction="none"),
                             [LOGITS]),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_match_torch(name):
    ours, theirs, arrays = LOSSES[name]
    compare_with_torch(ours, theirs, arrays, atol=1e-10, rtol=1e-9)


@pytest.mark.parametrize("name", ["bce", "bce-logits-pos-weight-none", "smooth-l1", "huber", "kl-batchmean"])
def test_losses_have_the_numerical_gradient(name):
    ours, _, arrays = LOSSES[name]
    check_gradients(lambda *xs: ours(*xs).sum(), arrays)


def test_loss_modules_and_their_errors():
    x, y = tg.tensor(PROBS), tg.tensor(TARGETS)
    assert nn.BCELoss()(x, y).item() == pytest.approx(
        -np.mean(TARGETS * np.log(PROBS) + (1 - TARGETS) * np.log(1 - PROBS)))
    assert nn.L1Loss(reduction="sum")(x, y).item() == pytest.approx(np.abs(PROBS - TARGETS).sum())
    assert nn.HuberLoss(delta=10.0)(x, y).item() == pytest.approx(0.5 * np.mean((PROBS - TARGETS) ** 2))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(tg.tensor([1.5]), tg.tensor([1.0]))
    with pytest.raises(ValueError, match=r"target size \(3,\) is different from the input size \(2,\)"):
        nn.BCEWithLogitsLoss()(tg.zeros(2), tg.zeros(3))
    assert F.binary_cross_entropy(tg.tensor([0.0]), tg.tensor([1.0])).item() == 100.0  # log clamped at -100


def test_sort_topk_argsort_gather_written_out():
    x = tg.tensor([[3.0, 1.0, 2.0, 3.0], [0.5, -1.0, 4.0, 0.0]], requires_grad=True)
    values, indices = x.sort(dim=1, descending=True)
    assert values.tolist() == [[3.0, 3.0, 2.0, 1.0], [4.0, 0.5, 0.0, -1.0]]
    assert indices.tolist() == [[0, 3, 2, 1], [2, 0, 3, 1]]  # stable: equal values keep their order
    top = x.topk(2)
    assert top.values.tolist() == [[3.0, 3.0], [4.0, 0.5]] and top.indices.tolist() == [[0, 3], [2, 0]]
    assert x.topk(1, dim=0, largest=False).indices.tolist() == [[1, 1, 0, 1]]
    assert x.argsort(dim=1).tolist() == [[1, 2, 0, 3], [1, 3, 0, 2]]
    top.values.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]]
    assert tg.tensor([[1, 2], [3, 4]]).gather(1, tg.tensor([[0, 0], [1, 0]])).tolist() == [[1, 1], [4, 3]]


@requires_torch
@pytest.mark.parametrize("call", [
    lambda t: t.sort(dim=1)[0], lambda t: t.sort(dim=0, descending=True)[0], lambda t: t.topk(3, dim=1)[0],
    lambda t: t.topk(2, dim=0, largest=False)[0],
], ids=["sort", "sort-descending", "topk", "topk-smallest"])
def test_sorting_values_and_gradients_match_torch(call):
    x = rng.standard_normal((3, 5))
    compare_with_torch(call, call, [x])


@requires_torch
def test_gather_and_indices_match_torch():
    x = rng.standard_normal((3, 5))
    index = np.array([[4, 0], [1, 1], [0, 3]])
    compare_with_torch(lambda t: t.gather(1, tg.tensor(index)), lambda t: t.gather(1, torch.tensor(index)), [x])
    for ours, theirs in [(tg.tensor(x).topk(3, 1), torch.tensor(x).topk(3, 1)),
                         (tg.tensor(x).sort(0, descending=True), torch.tensor(x).sort(0, descending=True))]:
        assert ours.indices.tolist() == theirs.indices.tolist()
    assert tg.tensor(x).argsort(1).tolist() == torch.tensor(x).argsort(1).tolist()


def test_half_computes_in_float16_as_numpy_does():
    a = np.array([0.1, 1.7, 1000.3], np.float32)
    x = tg.tensor(a).half()
    assert x.dtype == tg.float16
    y = x * 3.3 + x
    np.testing.assert_array_equal(y.numpy(), a.astype(np.float16) * np.float16(3.3) + a.astype(np.float16))
    model = nn.Linear(3, 2).half()
    assert model.weight.dtype == tg.float16 and model(x[None]).dtype == tg.float16


def test_size_prints_as_pytorch_and_is_a_tuple():
    x = tg.zeros(2, 3)
    assert repr(x.size()) == "torch.Size([2, 3])" and str(x.shape) == "torch.Size([2, 3])"
    assert x.size() == (2, 3) and x.size(1) == 3 and x.shape.numel() == 6 and isinstance(x.shape, tuple)


@requires_torch
@pytest.mark.parametrize("values", [
    [1.0, 2.5], [1.0, 2.0], [[1.0, 2.0], [3.0, 4.0]], [1e-5, 1.0], [1e9, 2.0], [-1.5, 2.25, 3.0], [0.0], 3.25,
    [1, 2, 3], [True, False], [True], [[-0.1234567, 10.5], [3.2, -4.0]],
])
def test_tensor_repr_matches_torch(values):
    assert repr(tg.tensor(values)) == repr(torch.tensor(values))
    assert repr(tg.tensor(values, dtype=tg.float64)) == repr(torch.tensor(values, dtype=torch.float64))


@requires_torch
def test_grad_fn_names_and_next_functions_match_torch_for_primitives():
    def walk(fn, depth=3):
        if fn is None or depth == 0:
            return None
        return (fn.name(), [walk(f, depth - 1) for f, _ in fn.next_functions])

    ours = tg.tensor([1.0, 2.0], requires_grad=True)
    theirs = torch.tensor([1.0, 2.0], requires_grad=True)
    a, b = (ours * 2 + 1).sum(), (theirs * 2 + 1).sum()
    assert walk(a.grad_fn) == walk(b.grad_fn)
    assert repr(a).endswith("grad_fn=<SumBackward0>)") and repr(b).endswith("grad_fn=<SumBackward0>)")
    leaf = a.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[0][0]
    assert leaf.variable is ours


def test_variable_and_inference_mode_behave_as_in_pytorch():
    t = tg.ones(2)
    v = tg.autograd.Variable(t, requires_grad=True)
    assert v is t and v.requires_grad and isinstance(tg.zeros(1), tg.autograd.Variable)
    with tg.inference_mode():
        assert not (v * 2).requires_grad


def test_device_plumbing_is_accepted_and_changes_nothing():
    import tinygrad_cnn.backends.cudnn as cudnn
    cudnn.benchmark = True
    assert tg.backends.cudnn.benchmark and not tg.backends.mps.is_available()
    assert tg.accelerator.is_available() == tg.cuda.is_available()
    assert (tg.accelerator.current_accelerator() is None) == (not tg.cuda.is_available())
    x = tg.ones(2)
    assert x.is_cpu and not x.is_cuda and not x.is_mps and not x.is_xpu
    assert x.to("cpu", non_blocking=True) is x
    tg.cuda.manual_seed(0), tg.cuda.manual_seed_all(0)


def test_data_parallel_is_a_pass_through_with_module_prefixed_keys():
    model = nn.Linear(3, 2)
    wrapped = nn.DataParallel(model)
    assert wrapped.module is model and list(wrapped.state_dict()) == ["module.weight", "module.bias"]
    x = tg.randn(4, 3)
    np.testing.assert_array_equal(wrapped(x).detach().numpy(), model(x).detach().numpy())


@requires_torch
def test_data_parallel_keys_are_pytorchs():
    theirs = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Linear(3, 2)))
    ours = nn.DataParallel(nn.Sequential(nn.Linear(3, 2)))
    assert list(ours.state_dict()) == list(theirs.state_dict())
