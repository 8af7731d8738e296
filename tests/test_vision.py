"""tinygrad_cnn.vision, torchvision's place: datasets giving uint8 pictures, transforms, make_grid, save_image."""
import gzip
import io
import os
import struct
import tarfile
import zlib

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn.data import cifar
from tinygrad_cnn.vision import datasets, transforms, utils

from .helpers import requires_torch, torch

SHARED_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets", "mnist")


def write_idx(path, array):
    magic = (0x08 << 8) | array.ndim
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def small_mnist(root, n=20):
    """IDX files in torchvision's layout (root/MNIST/raw) holding n known images and labels."""
    raw = os.path.join(root, "MNIST", "raw")
    os.makedirs(raw)
    images = (np.arange(n * 28 * 28) % 251).reshape(n, 28, 28).astype(np.uint8)
    labels = np.arange(n) % 10
    for prefix in ("train", "t10k"):
        write_idx(os.path.join(raw, f"{prefix}-images-idx3-ubyte.gz"), images)
        write_idx(os.path.join(raw, f"{prefix}-labels-idx1-ubyte.gz"), labels)
    return images, labels


def small_cifar(root, n=12):
    """A CIFAR-10 binary archive holding n known records per batch file."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    labels = np.arange(n) % 10
    records = np.concatenate([labels[:, None].astype(np.uint8), images.reshape(n, -1)], axis=1).tobytes()
    with tarfile.open(os.path.join(root, cifar.ARCHIVE), "w:gz") as archive:
        for name in cifar.TRAIN_FILES + cifar.TEST_FILES:
            info = tarfile.TarInfo(f"{cifar.FOLDER}/{name}")
            info.size = len(records)
            archive.addfile(info, io.BytesIO(records))
    return images, labels


def test_mnist_gives_uint8_pictures_and_int_labels_until_totensor(tmp_path):
    images, labels = small_mnist(str(tmp_path))
    plain = datasets.MNIST(str(tmp_path), train=True)
    picture, label = plain[3]
    assert picture.dtype == np.uint8 and picture.shape == (28, 28) and label == 3 and isinstance(label, int)
    np.testing.assert_array_equal(picture, images[3])
    assert plain.data.shape == (20, 28, 28) and plain.targets.dtype == tg.int64
    normalized = datasets.MNIST(str(tmp_path), train=False, transform=transforms.Compose([
        transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]), target_transform=lambda y: y * 10)
    x, y = normalized[3]
    assert x.shape == (1, 28, 28) and x.dtype == tg.float32 and y == 30
    np.testing.assert_allclose(x.numpy()[0], (images[3] / 255 - 0.1307) / 0.3081, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not os.path.exists(os.path.join(SHARED_MNIST, "t10k-images-idx3-ubyte.gz")),
                    reason="the real MNIST test set is not at ../shared/datasets/mnist")
def test_real_mnist_test_set_through_a_dataloader_with_workers():
    test = datasets.MNIST(SHARED_MNIST, train=False, transform=transforms.ToTensor())
    assert len(test) == 10000 and test[0][1] == 7
    images, labels = next(iter(tg.utils.data.DataLoader(test, batch_size=64, num_workers=2)))
    assert images.shape == (64, 1, 28, 28) and 0.0 <= float(images.min()) and float(images.max()) == 1.0
    assert labels.tolist()[:5] == [7, 2, 1, 0, 4]


def test_cifar10_gives_height_width_channel_pictures_not_normalised(tmp_path):
    images, labels = small_cifar(str(tmp_path))
    train = datasets.CIFAR10(str(tmp_path), train=True)
    assert len(train) == 5 * 12 and train.data.shape == (60, 32, 32, 3) and train.targets[:3] == [0, 1, 2]
    picture, label = train[4]
    np.testing.assert_array_equal(picture, images[4].transpose(1, 2, 0))
    x, _ = datasets.CIFAR10(str(tmp_path), train=False, transform=transforms.ToTensor())[4]
    np.testing.assert_allclose(x.numpy(), images[4] / 255, rtol=1e-6)
    assert train.classes[3] == "cat"


def test_fake_data_is_reproducible_and_sized():
    fake = datasets.FakeData(size=5, image_size=(3, 8, 6), num_classes=4)
    picture, label = fake[2]
    assert picture.shape == (8, 6, 3) and picture.dtype == np.uint8 and 0 <= label < 4
    np.testing.assert_array_equal(picture, fake[2][0])
    with pytest.raises(IndexError):
        fake[5]


def test_totensor_refuses_tensors_and_channels_first_floats():
    with pytest.raises(TypeError, match="it is a tensor already"):
        transforms.ToTensor()(tg.zeros(3, 4, 4))
    with pytest.raises(ValueError, match=r"already channels-first \(C, H, W\)"):
        transforms.ToTensor()(np.zeros((3, 32, 32), np.float32))
    with pytest.raises(ValueError, match=r"already channels-first"):  # tg.data's own transform says so too
        tg.data.transforms.ToTensor()(tg.data.digits()[0][0])
    with pytest.raises(TypeError, match="apply ToTensor first"):
        transforms.Normalize((0.5,), (0.5,))(np.zeros((4, 4), np.uint8))


def test_geometry_on_pictures_and_tensors_alike():
    picture = np.arange(5 * 7 * 3).reshape(5, 7, 3).astype(np.uint8)
    tensor = transforms.ToTensor()(picture)
    assert transforms.CenterCrop(3)(picture).shape == (3, 3, 3)
    np.testing.assert_array_equal(transforms.CenterCrop(3)(picture), picture[1:4, 2:5])
    np.testing.assert_array_equal(transforms.CenterCrop(3)(tensor).numpy(), tensor.numpy()[:, 1:4, 2:5])
    assert transforms.Resize(10)(picture).shape == (10, 14, 3)  # the shorter side becomes 10
    assert transforms.Resize((4, 6))(tensor).shape == (3, 4, 6)
    padded = transforms.Pad((1, 2))(picture)
    assert padded.shape == (9, 9, 3) and padded[0].sum() == 0
    tg.manual_seed(0)
    crops = {transforms.RandomCrop(5, padding=2)(picture).tobytes() for _ in range(20)}
    assert len(crops) > 5 and transforms.RandomCrop(5, padding=2)(tensor).shape == (3, 5, 5)
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(p=1.0)(picture), picture[:, ::-1])
    gray = transforms.Grayscale()(picture)
    np.testing.assert_array_equal(gray, np.round(picture @ np.array([0.299, 0.587, 0.114])).astype(np.uint8))
    assert transforms.RandomResizedCrop(4)(picture).shape == (4, 4, 3)


@requires_torch
@pytest.mark.parametrize("size", [(4, 6), (9, 17), (3, 3)])
def test_tensor_resize_matches_torchs_antialiased_bilinear(size):
    x = np.random.default_rng(0).random((3, 7, 11)).astype(np.float32)
    ours = transforms.Resize(size)(tg.tensor(x)).numpy()
    theirs = torch.nn.functional.interpolate(torch.tensor(x)[None], size=size, mode="bilinear", antialias=True,
                                             align_corners=False)[0].numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_make_grid_lays_images_out_as_torchvision():
    images = tg.tensor(np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1) * np.ones((5, 1, 2, 3), np.float32))
    grid = utils.make_grid(images, nrow=3, padding=1, pad_value=9).numpy()
    assert grid.shape == (3, 2 * 3 + 1, 3 * 4 + 1)  # rows of (2 + 1), columns of (3 + 1), plus one padding
    assert grid[0, 1, 1] == 0 and grid[0, 1, 5] == 1 and grid[0, 4, 1] == 3 and grid[0, 4, 5] == 4
    assert grid[0, 0, 0] == 9 and grid[0, 4, 9] == 9  # padding, and the empty sixth place
    normalized = utils.make_grid(images, normalize=True).numpy()
    assert normalized.min() == 0.0 and normalized.max() == pytest.approx(1.0, abs=1e-5)


def read_png(data):
    """Pixels of a PNG written with filter 0 on every row (what save_image writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        length, tag = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.setdefault(tag, b"")
        chunks[tag] += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    w, h, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    channels = {0: 1, 2: 3, 6: 4}[color]
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, 1 + w * channels)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(h, w, channels)


def test_save_image_writes_the_grid_as_png(tmp_path):
    images = tg.tensor(np.linspace(0, 1, 2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4))
    utils.save_image(images, tmp_path / "grid.png", padding=0)
    pixels = read_png((tmp_path / "grid.png").read_bytes())
    expected = utils.make_grid(images, padding=0).numpy().transpose(1, 2, 0)
    np.testing.assert_array_equal(pixels, np.clip(expected * 255 + 0.5, 0, 255).astype(np.uint8))
