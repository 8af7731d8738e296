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


@requires_torch
@pytest.mark.parametrize("name", ["masked_fill", "flip", "repeat", "normalize", "cosine_similarity",
                                  "adaptive_max_pool2d", "softmax2d", "zero_pad", "unflatten"])
def test_more_composites_match_torch(name):
    mask = rng.random((3, 4)) > 0.5
    x = rng.standard_normal((3, 4))
    image = rng.standard_normal((2, 3, 7, 7))
    cases = {
        "masked_fill": (lambda t: t.masked_fill(tg.tensor(mask), -1.5),
                        lambda t: t.masked_fill(torch.tensor(mask), -1.5), [x]),
        "flip": (lambda t: t.flip(0, 1) * 2, lambda t: t.flip(0, 1) * 2, [x]),
        "repeat": (lambda t: t.repeat(2, 1, 3), lambda t: t.repeat(2, 1, 3), [x]),
        "normalize": (lambda t: F.normalize(t, dim=1), lambda t: torch.nn.functional.normalize(t, dim=1), [x]),
        "cosine_similarity": (lambda a, b: F.cosine_similarity(a, b),
                              lambda a, b: torch.nn.functional.cosine_similarity(a, b), [x, x[::-1] + 0.3]),
        "adaptive_max_pool2d": (lambda t: F.adaptive_max_pool2d(t, (3, 2)),
                                lambda t: torch.nn.functional.adaptive_max_pool2d(t, (3, 2)), [image]),
        "softmax2d": (lambda t: nn.Softmax2d()(t), lambda t: torch.nn.Softmax2d()(t), [image]),
        "zero_pad": (lambda t: nn.ZeroPad2d((1, 0, 2, 1))(t), lambda t: torch.nn.ZeroPad2d((1, 0, 2, 1))(t), [image]),
        "unflatten": (lambda t: nn.Unflatten(1, (2, 2))(t), lambda t: torch.nn.Unflatten(1, (2, 2))(t), [x]),
    }
    ours, theirs, arrays = cases[name]
    compare_with_torch(ours, theirs, arrays)


@requires_torch
def test_prelu_and_embedding_modules_match_torch():
    x = rng.standard_normal((2, 3, 4, 4))
    ours, theirs = nn.PReLU(3, init=0.1).double(), torch.nn.PReLU(3, init=0.1).double()
    xt, xo = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    ours(xo).sum().backward()
    theirs(xt).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    table = rng.standard_normal((6, 3))
    emb, emb_t = nn.Embedding(6, 3, padding_idx=2).double(), torch.nn.Embedding(6, 3, padding_idx=2).double()
    with torch.no_grad():
        emb_t.weight.copy_(torch.tensor(table))
    emb.weight.array[...] = table
    index = np.array([[1, 2, 1], [5, 0, 2]])
    (emb(tg.tensor(index)) ** 2).sum().backward()
    (emb_t(torch.tensor(index)) ** 2).sum().backward()
    np.testing.assert_allclose(emb.weight.grad.numpy(), emb_t.weight.grad.numpy(), rtol=1e-12)
    assert not emb.weight.grad.numpy()[2].any()  # the padding row learns nothing


def test_dropout2d_zeroes_whole_channels():
    tg.manual_seed(0)
    out = F.dropout2d(tg.ones(8, 16, 3, 3), p=0.25).numpy()
    per_channel = out.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | np.isclose(per_channel, 1 / 0.75).all(-1))
    assert 0.1 < (per_channel[..., 0] == 0).mean() < 0.4
    assert F.dropout2d(tg.ones(2, 3, 4, 4), training=False).numpy().min() == 1.0


def test_scatter_new_and_legacy_constructors():
    one_hot = tg.zeros(3, 4).scatter_(1, tg.tensor([[2], [0], [3]]), 1.0)
    assert one_hot.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]]
    x = tg.ones(2, dtype=tg.float64)
    assert x.new_zeros(3, 2).dtype == tg.float64 and x.new_ones((2,)).tolist() == [1.0, 1.0]
    assert x.new_tensor([1, 2]).dtype == tg.float64 and x.new_full((2,), 7).tolist() == [7.0, 7.0]
    assert tg.ones(1).type() == "torch.FloatTensor" and tg.tensor([1]).type() == "torch.LongTensor"
    assert tg.FloatTensor(2, 3).shape == (2, 3) and tg.LongTensor([1, 2]).dtype == tg.int64
    assert tg.FloatTensor([1, 2]).tolist() == [1.0, 2.0]


@requires_torch
def test_containers_register_as_pytorchs():
    ours = nn.Module()
    ours.blocks = nn.ModuleDict({"a": nn.Linear(2, 3), "b": nn.Conv2d(1, 2, 3)})
    ours.scales = nn.ParameterList([tg.ones(2), tg.zeros(3)])
    ours.extra = nn.ParameterDict({"bias": nn.Parameter(tg.ones(1))})
    theirs = torch.nn.Module()
    theirs.blocks = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 3), "b": torch.nn.Conv2d(1, 2, 3)})
    theirs.scales = torch.nn.ParameterList([torch.ones(2), torch.zeros(3)])
    theirs.extra = torch.nn.ParameterDict({"bias": torch.nn.Parameter(torch.ones(1))})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(list(ours.parameters())) == len(list(theirs.parameters())) == 7
    assert "a" in ours.blocks and len(ours.scales) == 2 and ours.extra["bias"].shape == (1,)


@requires_torch
def test_torch_functions_that_mirror_methods():
    x = rng.standard_normal((3, 4))
    for name in ["add", "sub", "mul", "div", "eq", "gt", "lt", "ge", "le", "ne"]:
        ours, theirs = getattr(tg, name)(tg.tensor(x), 0.5), getattr(torch, name)(torch.tensor(x), 0.5)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert tg.topk(tg.tensor(x), 2).indices.tolist() == torch.topk(torch.tensor(x), 2).indices.tolist()
    assert tg.argsort(tg.tensor(x), dim=0).tolist() == torch.argsort(torch.tensor(x), dim=0).tolist()
    assert tg.get_num_threads() >= 1


@pytest.mark.parametrize("fn", [
    lambda t: t.repeat(2, 1, 3), lambda t: t.flip(1), lambda t: t.masked_fill(tg.tensor(np.eye(3, 4) > 0), 0.0),
    lambda t: F.normalize(t, dim=0), lambda t: F.cosine_similarity(t, t * t + 1),
    lambda t: F.adaptive_max_pool2d(t.reshape(1, 1, 3, 4), (2, 3)),
], ids=["repeat", "flip", "masked_fill", "normalize", "cosine_similarity", "adaptive_max_pool2d"])
def test_more_composites_have_the_numerical_gradient(fn):
    check_gradients(lambda t: fn(t).sum() if fn(t).ndim == 0 else (fn(t) * fn(t)).sum(), [rng.standard_normal((3, 4))])
