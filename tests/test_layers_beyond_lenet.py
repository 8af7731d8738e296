"""The layers one step beyond LeNet-5, all composed: transposed convolution, interpolation, group
and layer norm, the newer activations. Each against PyTorch over Hypothesis-drawn shapes and
arguments, gradcheck of each composite, and the errors for bad input."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from tinygrad_cnn.testing import strategies as S

from .helpers import both_code_paths, check_gradients, code_paths, compare_with_torch, requires_torch, torch

TF = torch.nn.functional if torch is not None else None


# ---- transposed convolution -----------------------------------------------------------
@st.composite
def transposed_geometries(draw):
    g = draw(st.sampled_from([1, 1, 2]))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    h, w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    out = [(i - 1) * s - 2 * p + d * (k - 1) + op + 1
           for i, s, p, d, k, op in zip((h, w), stride, padding, dilation, kernel, output_padding)]
    assume(min(out) >= 1)
    return dict(n=draw(st.integers(1, 2)), c_in=g * draw(st.integers(1, 2)), c_out=g * draw(st.integers(1, 2)),
                h=h, w=w, kernel=kernel, groups=g,
                args=dict(stride=stride, padding=padding, output_padding=output_padding, groups=g, dilation=dilation))


def _transposed_arrays(g, data):
    x = data.draw(S.arrays((g["n"], g["c_in"], g["h"], g["w"])))
    w = data.draw(S.arrays((g["c_in"], g["c_out"] // g["groups"], *g["kernel"])))
    return x, w, data.draw(S.arrays((g["c_out"],)))


@requires_torch
@both_code_paths
@given(g=transposed_geometries(), data=st.data())
def test_conv_transpose2d_matches_torch(paths, g, data):
    with code_paths(paths):
        compare_with_torch(lambda x, w, b: F.conv_transpose2d(x, w, b, **g["args"]),
                           lambda x, w, b: TF.conv_transpose2d(x, w, b, **g["args"]), list(_transposed_arrays(g, data)))


@given(g=transposed_geometries(), data=st.data())
def test_conv_transpose2d_gradient(g, data):
    check_gradients(lambda x, w, b: F.conv_transpose2d(x, w, b, **g["args"]), list(_transposed_arrays(g, data)))


def test_conv_transpose2d_is_the_input_gradient_of_conv2d():
    """The teaching point: conv_transpose2d(g, W) is exactly d(conv2d(x, W))/dx applied to g."""
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((1, 2, 7, 7)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((3, 2, 3, 3)))
    out = F.conv2d(x, w, stride=2, padding=1)
    upstream = tg.tensor(rng.standard_normal(out.shape))
    out.backward(upstream)
    np.testing.assert_allclose(F.conv_transpose2d(upstream, w, stride=2, padding=1).numpy(), x.grad.numpy(),
                               rtol=1e-12, atol=1e-12)


@requires_torch
def test_conv_transpose2d_module_matches_torch_with_output_size(device):
    tg.manual_seed(0)
    ours = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2).to(device)
    theirs = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2).double()
    theirs.load_state_dict({k: torch.tensor(v.cpu().numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((2, 4, 5, 5))
    out = ours.double()(tg.tensor(x, device=device), output_size=(10, 10))
    expected = theirs(torch.tensor(x), output_size=(10, 10))
    np.testing.assert_allclose(out.detach().cpu().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert tuple(out.shape) == (2, 6, 10, 10)
    bound = 1 / np.sqrt(3 * 3 * 3)  # PyTorch's default: kaiming_uniform(a=sqrt(5)), fan-in from weight dim 1
    assert np.abs(ours.weight.detach().cpu().numpy()).max() <= bound + 1e-7
    assert repr(ours) == repr(theirs)


# ---- interpolation --------------------------------------------------------------------
@st.composite
def interpolations(draw):
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "bilinear", "bilinear"]))
    args = dict(mode=mode)
    if mode == "bilinear":
        args["align_corners"] = draw(st.booleans())
    if draw(st.booleans()):
        args["size"] = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    else:
        args["scale_factor"] = draw(st.sampled_from([0.5, 0.75, 1.5, 2, 2.5, 3, (2, 1.5)]))
        args["recompute_scale_factor"] = draw(st.sampled_from([None, True]))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(2, 6)), draw(st.integers(2, 6)))
    return shape, args


@requires_torch
@given(case=interpolations(), data=st.data())
def test_interpolate_matches_torch(case, data):
    shape, args = case
    compare_with_torch(lambda x: F.interpolate(x, **args), lambda x: TF.interpolate(x, **args),
                       [data.draw(S.arrays(shape))])


@given(case=interpolations(), data=st.data())
def test_interpolate_gradient(case, data):
    shape, args = case
    check_gradients(lambda x: F.interpolate(x, **args), [data.draw(S.arrays(shape))])


@requires_torch
def test_linear_and_trilinear_and_upsample_match_torch(device):
    rng = np.random.default_rng(0)
    x3, x5 = rng.standard_normal((2, 3, 7)), rng.standard_normal((1, 2, 3, 4, 5))
    compare_with_torch(lambda x: F.interpolate(x, scale_factor=1.7, mode="linear"),
                       lambda x: TF.interpolate(x, scale_factor=1.7, mode="linear"), [x3], device)
    compare_with_torch(lambda x: F.interpolate(x, size=(5, 2, 7), mode="trilinear", align_corners=True),
                       lambda x: TF.interpolate(x, size=(5, 2, 7), mode="trilinear", align_corners=True), [x5], device)
    up, up_t = nn.Upsample(scale_factor=2, mode="bilinear"), torch.nn.Upsample(scale_factor=2, mode="bilinear")
    compare_with_torch(up, up_t, [rng.standard_normal((1, 2, 3, 3))], device)
    assert repr(up) == repr(up_t)


# ---- group and layer norm -------------------------------------------------------------
@st.composite
def group_norm_cases(draw):
    groups = draw(st.integers(1, 3))
    channels = groups * draw(st.integers(1, 2))
    shape = (draw(st.integers(1, 3)), channels) + tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=2)))
    return shape, groups


@requires_torch
@given(case=group_norm_cases(), affine=st.booleans(), data=st.data())
def test_group_norm_matches_torch(case, affine, data):
    shape, groups = case
    if shape[0] * shape[1] // groups * int(np.prod(shape[2:])) == 1:
        with pytest.raises(ValueError, match="expected more than 1 value per channel"):
            F.group_norm(tg.zeros(*shape), groups)
        return
    arrays = [data.draw(S.arrays(shape))]
    if affine:
        arrays += [data.draw(S.arrays((shape[1],))), data.draw(S.arrays((shape[1],)))]
    compare_with_torch(lambda x, *wb: F.group_norm(x, groups, *wb), lambda x, *wb: TF.group_norm(x, groups, *wb),
                       arrays, atol=1e-6)


@given(case=group_norm_cases(), data=st.data())
def test_group_norm_gradient(case, data):
    shape, groups = case
    if int(np.prod(shape[1:])) // groups < 2:
        return  # one value per group: normalised to 0 whatever x is
    arrays = [data.draw(S.arrays(shape)), data.draw(S.arrays((shape[1],))), data.draw(S.arrays((shape[1],)))]
    check_gradients(lambda x, w, b: F.group_norm(x, groups, w, b), arrays)


@requires_torch
@given(shape=S.shapes(min_dims=1, max_dims=4, min_side=1, max_side=4), k=st.integers(1, 3), affine=st.booleans(),
       data=st.data())
def test_layer_norm_matches_torch(shape, k, affine, data):
    normalized = tuple(shape[len(shape) - min(k, len(shape)):])
    arrays = [data.draw(S.arrays(shape))] + ([data.draw(S.arrays(normalized)), data.draw(S.arrays(normalized))]
                                              if affine else [])
    compare_with_torch(lambda x, *wb: F.layer_norm(x, normalized, *wb),
                       lambda x, *wb: TF.layer_norm(x, normalized, *wb), arrays, atol=1e-6)


@given(shape=S.shapes(min_dims=2, max_dims=3, min_side=2, max_side=4), data=st.data())
def test_layer_norm_gradient(shape, data):
    normalized = shape[-1:]
    arrays = [data.draw(S.arrays(shape)), data.draw(S.arrays(normalized)), data.draw(S.arrays(normalized))]
    check_gradients(lambda x, w, b: F.layer_norm(x, normalized, w, b), arrays)


@requires_torch
def test_norm_modules_match_torch_in_float32(device):
    x = np.random.default_rng(0).standard_normal((4, 6, 5, 5)) * 3 + 1
    for ours, theirs in ((nn.GroupNorm(3, 6), torch.nn.GroupNorm(3, 6)), (nn.LayerNorm([5, 5]),
                                                                         torch.nn.LayerNorm([5, 5]))):
        ours.to(device)
        compare_with_torch(ours, theirs.double(), [x], device)
        compare_with_torch(ours.float(), theirs.float(), [x], device, dtype=np.float32, atol=1e-5, rtol=1e-4)
        assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())


# ---- activations ----------------------------------------------------------------------
ACTIVATIONS = {
    "gelu": (F.gelu, lambda x: TF.gelu(x)),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    "silu": (F.silu, lambda x: TF.silu(x)),
    "mish": (F.mish, lambda x: TF.mish(x)),
    "softplus": (lambda x: F.softplus(x, beta=2.0, threshold=5.0), lambda x: TF.softplus(x, beta=2.0, threshold=5.0)),
    "hardswish": (F.hardswish, lambda x: TF.hardswish(x)),
    "hardsigmoid": (F.hardsigmoid, lambda x: TF.hardsigmoid(x)),
    "relu6": (F.relu6, lambda x: TF.relu6(x)),
    "hardtanh": (lambda x: F.hardtanh(x, -2.0, 1.5), lambda x: TF.hardtanh(x, -2.0, 1.5)),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: TF.elu(x, 0.7)),
}
KINKS = [-3.0, -2.0, -1.0, 0.0, 1.5, 3.0, 6.0, 2.5, -1e4, 1e4, 40.0, -40.0]  # where the rules switch, and far out


@requires_torch
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_match_torch_at_their_kinks_and_far_out(name, device):
    ours, theirs = ACTIVATIONS[name]
    x = np.concatenate([KINKS, np.random.default_rng(0).uniform(-8, 8, 40)])
    rtol = 1e-7 if name == "hardsigmoid" else 1e-10  # torch's float64 hardsigmoid gradient uses a float32 1/6
    compare_with_torch(ours, theirs, [x], device, atol=1e-12, rtol=rtol)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@given(data=st.data())
def test_activation_gradients(name, data):
    x = data.draw(S.arrays((7,), low=-5, high=5))
    x = x[np.all(np.abs(x[:, None] - np.array(KINKS)) > 0.01, axis=1)]  # central differences need smoothness
    if x.size:
        check_gradients(ACTIVATIONS[name][0], [x])


@requires_torch
def test_activation_modules_are_pytorch_named():
    pairs = [(nn.GELU(), torch.nn.GELU()), (nn.GELU("tanh"), torch.nn.GELU("tanh")), (nn.SiLU(), torch.nn.SiLU()),
             (nn.Hardswish(), torch.nn.Hardswish()), (nn.Hardsigmoid(), torch.nn.Hardsigmoid()),
             (nn.Mish(), torch.nn.Mish()), (nn.ReLU6(), torch.nn.ReLU6()), (nn.ELU(), torch.nn.ELU()),
             (nn.Softplus(), torch.nn.Softplus()), (nn.Hardtanh(), torch.nn.Hardtanh())]
    x = np.linspace(-4, 4, 17)
    for ours, theirs in pairs:
        compare_with_torch(ours, theirs, [x], atol=1e-12)


# ---- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize("call,error,message", [
    (lambda: F.conv_transpose2d(tg.zeros(1, 3, 4, 4), tg.zeros(2, 1, 3, 3)), ValueError,
     "conv_transpose2d: input has 3 channels but weight expects 2"),
    (lambda: F.conv_transpose2d(tg.zeros(3, 4), tg.zeros(3, 1, 3, 3)), ValueError,
     "conv_transpose2d: expected a 3-d .* or 4-d .* input, got shape \\(3, 4\\)"),
    (lambda: F.conv_transpose2d(tg.zeros(1, 2, 4, 4), tg.zeros(2, 1, 3, 3), stride=2, output_padding=2), ValueError,
     "output_padding \\(2, 2\\) must be smaller than either stride \\(2, 2\\) or dilation \\(1, 1\\)"),
    (lambda: F.conv_transpose2d(tg.zeros(1, 2, 1, 1), tg.zeros(2, 1, 1, 1), padding=1), RuntimeError,
     "gives a -1x-1 output for a 1x1 input"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, groups=2), ValueError, "must be divisible by groups"),
    (lambda: nn.ConvTranspose2d(2, 2, 3, stride=2)(tg.zeros(1, 2, 3, 3), output_size=(9, 9)), ValueError,
     "valid sizes range from 7 to 8"),
    (lambda: F.interpolate(tg.zeros(1, 1, 4, 4)), ValueError, "either size or scale_factor should be defined"),
    (lambda: F.interpolate(tg.zeros(1, 1, 4, 4), size=2, scale_factor=2), ValueError,
     "only one of size or scale_factor"),
    (lambda: F.interpolate(tg.zeros(1, 1, 4, 4), scale_factor=2, align_corners=True), ValueError,
     "align_corners option can only be set with the interpolating modes"),
    (lambda: F.interpolate(tg.zeros(1, 1, 4), scale_factor=2, mode="bilinear"), NotImplementedError,
     "mode 'bilinear' needs a 4-d input"),
    (lambda: F.interpolate(tg.zeros(4, 4), scale_factor=2), ValueError, "expected a 3-d, 4-d or 5-d input"),
    (lambda: F.interpolate(tg.zeros(1, 1, 4, 4), size=(2, 3, 4)), ValueError, "has 3 values but the input has 2"),
    (lambda: nn.Upsample(size=3, scale_factor=2), ValueError, "exactly one of size or scale_factor"),
    (lambda: F.group_norm(tg.zeros(2, 6, 3), 4), ValueError,
     "number of channels in input to be divisible by num_groups, but got input of shape \\[2, 6, 3\\]"),
    (lambda: nn.GroupNorm(2, 5), ValueError, "num_channels \\(5\\) must be divisible by num_groups \\(2\\)"),
    (lambda: nn.GroupNorm(2, 4)(tg.zeros(2, 6, 3)), ValueError, "expected an input \\(N, 4, ...\\), got shape"),
    (lambda: nn.LayerNorm(5)(tg.zeros(2, 4)), RuntimeError,
     "expected input with shape \\[\\*, 5\\], but got input of size \\[2, 4\\]"),
    (lambda: F.gelu(tg.zeros(2), approximate="fast"), ValueError, "approximate must be 'none' or 'tanh'"),
])
def test_bad_input_is_one_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_errors_come_before_any_state_changes():
    block = nn.Sequential(nn.BatchNorm2d(4), nn.GroupNorm(2, 4))
    before = block.state_dict()["0.running_mean"].numpy().copy()
    with pytest.raises(ValueError):
        block(tg.zeros(2, 3, 4, 4) + 1)
    np.testing.assert_array_equal(block.state_dict()["0.running_mean"].numpy(), before)
