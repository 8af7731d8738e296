"""The CNN lecture's facts, as tests."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import nn
from tinygrad_cnn.models import LeNet5

IMAGE = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
FILTER = [[1, 0, 1], [0, 1, 0], [1, 0, 1]]


def test_the_5x5_image_convolved_with_the_3x3_filter(device):
    image = tg.tensor(IMAGE, dtype=tg.float32, device=device).reshape(1, 1, 5, 5)
    kernel = tg.tensor(FILTER, dtype=tg.float32, device=device).reshape(1, 1, 3, 3)
    assert F.conv2d(image, kernel).reshape(3, 3).tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]


def test_six_5x5_filters_on_a_32x32x3_image_give_28x28x6():
    assert nn.Conv2d(3, 6, 5)(tg.randn(1, 3, 32, 32)).shape == (1, 6, 28, 28)


@given(w=st.integers(1, 40), k=st.integers(1, 7), p=st.integers(0, 3), s=st.integers(1, 4))
def test_output_size_is_w_minus_k_plus_2p_over_s_plus_1(w, k, p, s):
    x = tg.zeros(1, 1, w, w)
    weight = tg.zeros(1, 1, k, k)
    if w - k + 2 * p < 0:
        with pytest.raises(RuntimeError, match="does not fit"):
            F.conv2d(x, weight, stride=s, padding=p)
    else:
        assert F.conv2d(x, weight, stride=s, padding=p).shape[-1] == (w - k + 2 * p) // s + 1


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_padding_k_minus_1_over_2_keeps_the_size(k):
    assert F.conv2d(tg.zeros(1, 2, 11, 9), tg.zeros(4, 2, k, k), padding=(k - 1) // 2).shape == (1, 4, 11, 9)


def test_a_strided_conv_downsamples():
    assert F.conv2d(tg.zeros(1, 1, 32, 32), tg.zeros(1, 1, 3, 3), stride=2, padding=1).shape == (1, 1, 16, 16)


def test_a_1x1_conv_is_a_per_pixel_linear_layer_over_channels():
    x, w, b = tg.randn(2, 5, 4, 3), tg.randn(7, 5, 1, 1), tg.randn(7)
    conv = F.conv2d(x, w, b)
    per_pixel = F.linear(x.permute(0, 2, 3, 1), w.reshape(7, 5), b).permute(0, 3, 1, 2)
    np.testing.assert_allclose(conv.numpy(), per_pixel.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layers,k", [(1, 3), (2, 3), (3, 3), (4, 3), (2, 5), (3, 5)])
def test_receptive_field_is_1_plus_L_times_K_minus_1_seen_through_the_gradient(layers, k):
    """Backprop from one output pixel of L stacked KxK convs: exactly 1 + L(K-1) input pixels per side
    get a nonzero gradient."""
    x = tg.zeros(1, 1, 31, 31, dtype=tg.float64, requires_grad=True)
    y = x
    for _ in range(layers):
        y = F.conv2d(y, tg.ones(1, 1, k, k, dtype=tg.float64), padding=(k - 1) // 2)
    y[0, 0, 15, 15].backward()
    rows, cols = np.nonzero(x.grad.numpy()[0, 0])
    side = 1 + layers * (k - 1)
    assert rows.max() - rows.min() + 1 == side and cols.max() - cols.min() + 1 == side
    assert len(rows) == side * side


def test_pooling_layers_have_no_parameters():
    assert list(nn.MaxPool2d(2).parameters()) == [] and list(nn.AvgPool2d(2).parameters()) == []


def test_max_pooling_gradient_lands_on_the_maximal_element():
    x = tg.tensor([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 8.0, 1.0], [0.0, 0.0, 1.0, 2.0], [7.0, 1.0, 3.0, 4.0]]]],
                  requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    assert x.grad.tolist() == [[[[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [1, 0, 0, 1]]]]


def test_avg_pooling_averages_each_window():
    x = tg.arange(16, dtype=tg.float32).reshape(1, 1, 4, 4)
    assert F.avg_pool2d(x, 2).reshape(2, 2).tolist() == [[2.5, 4.5], [10.5, 12.5]]


def test_lenet5_follows_the_lecture_table():
    model = LeNet5()
    table = tg.summary(model, (1, 28, 28), print_table=False)
    rows = {r["layer"].split()[0]: r for r in table.rows}
    assert rows["conv1"]["output"] == (20, 28, 28) and rows["conv1"]["weights"] == "20x1x5x5"
    assert rows["pool1"]["output"] == (20, 14, 14)
    assert rows["conv2"]["output"] == (50, 14, 14) and rows["conv2"]["weights"] == "50x20x5x5"
    assert rows["pool2"]["output"] == (50, 7, 7)
    assert rows["flatten"]["output"] == (2450,)
    assert rows["fc1"]["output"] == (500,) and rows["fc1"]["weights"] == "2450x500"
    assert rows["fc2"]["output"] == (10,) and rows["fc2"]["weights"] == "500x10"
    assert model.fc1.weight.shape == (500, 2450)  # PyTorch's storage order
    assert table.total_params == 520 + 25050 + 1225500 + 5010
    # receptive field through conv5 -> pool2 -> conv5 -> pool2: 5, 6, 14, 16; jumps 1, 2, 2, 4
    assert [rows[n]["receptive_field"] for n in ("conv1", "pool1", "conv2", "pool2")] == ["5", "6", "14", "16"]
    assert [rows[n]["jump"] for n in ("conv1", "pool1", "conv2", "pool2")] == ["1", "2", "2", "4"]
    assert rows["conv2"]["mult_adds"] == 50 * 14 * 14 * 20 * 25
    assert model(tg.randn(3, 1, 28, 28)).shape == (3, 10)


def test_summary_shows_stacked_3x3_receptive_fields():
    model = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(4)])
    table = tg.summary(model, (1, 16, 16), print_table=False)
    assert [r["receptive_field"] for r in table.rows] == [str(1 + L * 2) for L in range(1, 5)]


def test_batch_norm_uses_batch_statistics_in_training_and_running_averages_in_eval():
    bn = nn.BatchNorm2d(3)
    x = tg.randn(8, 3, 4, 4) * 5 + 2
    y = bn(x).detach().numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-3)
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    expected = (x.numpy() - bn.running_mean.numpy().reshape(1, 3, 1, 1)) / np.sqrt(
        bn.running_var.numpy().reshape(1, 3, 1, 1) + 1e-5)
    np.testing.assert_allclose(bn(x).detach().numpy(), expected, rtol=1e-4, atol=1e-5)


def test_batch_norm_gamma_and_beta_learn():
    bn = nn.BatchNorm2d(2)
    opt = tg.optim.SGD(bn.parameters(), lr=0.1)
    x = tg.randn(16, 2, 3, 3)
    for _ in range(50):
        opt.zero_grad()
        loss = ((bn(x) - 3.0) ** 2).mean()  # wants beta -> 3
        loss.backward()
        opt.step()
    np.testing.assert_allclose(bn.bias.detach().numpy(), 3.0, atol=0.05)


def test_fuse_conv_bn_gives_the_same_outputs():
    conv, bn = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
    for _ in range(3):
        bn(conv(tg.randn(4, 3, 6, 6) * 2 + 1))  # move the running statistics
    bn.weight.data = tg.randn(8)
    bn.bias.data = tg.randn(8)
    bn.eval()
    fused = nn.utils.fuse_conv_bn(conv, bn)
    x = tg.randn(2, 3, 6, 6)
    np.testing.assert_allclose(fused(x).detach().numpy(), bn(conv(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="eval mode"):
        nn.utils.fuse_conv_bn(conv, nn.BatchNorm2d(8))
