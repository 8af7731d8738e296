"""Datasets, DataLoader, IDX parsing and the checked, atomic MNIST download (no network in tests)."""
import gzip
import os
import urllib.error

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import data
from tinygrad_cnn.data import mnist

from .helpers import FakeResponse, first_mirror_down

SHARED_MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets", "mnist")
needs_real_mnist = pytest.mark.skipif(
    not os.path.exists(os.path.join(SHARED_MNIST, "t10k-images-idx3-ubyte.gz")),
    reason="the real MNIST test set is not at ../shared/datasets/mnist")


def test_dataloader_batches_shuffles_and_is_deterministic():
    ds = data.TensorDataset(np.arange(10, dtype=np.float32)[:, None], np.arange(10))
    batches = list(data.DataLoader(ds, batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 2] and batches[0][0].shape == (4, 1)
    assert len(data.DataLoader(ds, 4, drop_last=True)) == 2 and len(list(data.DataLoader(ds, 4, drop_last=True))) == 2
    a = data.DataLoader(ds, 3, shuffle=True, seed=7)
    b = data.DataLoader(ds, 3, shuffle=True, seed=7)
    first = [y.tolist() for _, y in a]
    assert first == [y.tolist() for _, y in b]
    assert sorted(sum(first, [])) == list(range(10)) and sum(first, []) != list(range(10))
    assert [y.tolist() for _, y in a] != first  # the next epoch has another order
    resumed = data.DataLoader(ds, 3, shuffle=True, seed=7)
    resumed.epoch = 1
    assert [y.tolist() for _, y in resumed] == [y.tolist() for _, y in b]


def test_dataloader_collates_generic_datasets():
    class Squares(data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], np.float32), i

    (x, y), *_ = data.DataLoader(Squares(), batch_size=5)
    assert x.tolist() == [[0, 0], [1, 1], [2, 4], [3, 9], [4, 16]] and y.dtype == tg.int64


def test_embedded_digits_have_a_fixed_split_and_lenet_size():
    train, test = data.digits(train=True), data.digits(train=False)
    assert len(train) == 1437 and len(test) == 360
    x, y = train.arrays
    assert x.shape == (1437, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(10))
    assert np.array_equal(data.digits(train=False).arrays[1], test.arrays[1])
    assert abs(x[:, :, :4].std()) < 1e-6  # the 4-pixel frame is padding


def _idx(magic, shape, payload):
    header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in shape)
    return header + payload


def _write_mnist(root, n=5, gz=True, corrupt=None):
    images = np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10
    files = {"t10k-images-idx3-ubyte": _idx(0x803, (n, 28, 28), images.tobytes()),
             "t10k-labels-idx1-ubyte": _idx(0x801, (n,), labels.tobytes())}
    if corrupt:
        files = corrupt(files)
    os.makedirs(root, exist_ok=True)
    for name, content in files.items():
        if gz:
            with gzip.open(os.path.join(root, name + ".gz"), "wb") as f:
                f.write(content)
        else:
            with open(os.path.join(root, name), "wb") as f:
                f.write(content)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_are_read_gzipped_or_not(tmp_path, gz):
    images, labels = _write_mnist(tmp_path, gz=gz)
    ds = data.MNIST(tmp_path, train=False, normalize=False)
    np.testing.assert_allclose(ds.arrays[0][:, 0] * 255, images, atol=1e-3)
    assert ds.arrays[1].tolist() == labels.tolist()


def test_corrupt_headers_and_truncated_files_give_clear_errors(tmp_path):
    def wrong_magic(files):
        files["t10k-images-idx3-ubyte"] = b"\x00\x00\x08\x01" + files["t10k-images-idx3-ubyte"][4:]
        return files

    def truncated(files):
        files["t10k-images-idx3-ubyte"] = files["t10k-images-idx3-ubyte"][:-100]
        return files

    _write_mnist(tmp_path / "a", corrupt=wrong_magic)
    with pytest.raises(ValueError, match=r"is not an IDX image file \(magic number 0x00000801, expected 0x00000803\)"):
        data.MNIST(tmp_path / "a", train=False)
    _write_mnist(tmp_path / "b", corrupt=truncated)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        data.MNIST(tmp_path / "b", train=False)
    with pytest.raises(FileNotFoundError, match="pass download=True or place the IDX files there"):
        data.MNIST(tmp_path / "empty", train=False)



def test_download_checks_checksums_and_leaves_nothing_on_mismatch(tmp_path):
    opened = []

    def opener(url, timeout):
        opened.append(url)
        return FakeResponse(b"not the real file")

    with pytest.raises(data.DownloadError, match="no mirror gave a correct t10k-labels-idx1-ubyte.gz"):
        mnist.download_file("t10k-labels-idx1-ubyte.gz", str(tmp_path), opener=opener)
    assert len(opened) == len(mnist.MIRRORS)  # every mirror was tried
    assert os.listdir(tmp_path) == []


def test_download_offline_says_so_in_one_sentence(tmp_path):
    def opener(url, timeout):
        raise urllib.error.URLError("Temporary failure in name resolution")

    with pytest.raises(data.DownloadError) as info:
        mnist.download_file("t10k-labels-idx1-ubyte.gz", str(tmp_path), opener=opener)
    message = str(info.value)
    assert "no network" in message and "place the files" in message and "t10k-images-idx3-ubyte.gz" in message
    assert "\n" not in message and os.listdir(tmp_path) == []


@needs_real_mnist
def test_download_accepts_the_real_file_from_a_local_mirror(tmp_path):
    """A file with the right MD5 and SHA-256 (the real one, served by a fake opener) is kept, atomically."""
    real = open(os.path.join(SHARED_MNIST, "t10k-labels-idx1-ubyte.gz"), "rb").read()
    opener = first_mirror_down(real)
    path = mnist.download_file("t10k-labels-idx1-ubyte.gz", str(tmp_path), opener=opener)
    assert len(opener.calls) == 2
    assert open(path, "rb").read() == real and os.listdir(tmp_path) == ["t10k-labels-idx1-ubyte.gz"]


@needs_real_mnist
def test_real_mnist_test_set_loads():
    ds = data.MNIST(SHARED_MNIST, train=False)
    x, y = ds.arrays
    assert x.shape == (10000, 1, 28, 28) and y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(y).tolist()[:3] == [980, 1135, 1032]


def test_transforms():
    from tinygrad_cnn.data import transforms

    image = np.arange(16, dtype=np.float32).reshape(4, 4)
    assert transforms.Pad(2)(image).shape == (8, 8) and transforms.Pad(2)(image)[0].sum() == 0
    big = transforms.Resize(8)(image)
    assert big.shape == (8, 8) and np.isclose(big.mean(), image.mean(), atol=1e-5)
    assert np.allclose(transforms.Resize(4)(image), image)  # resizing to the same size changes nothing
    normed = transforms.Normalize(image.mean(), image.std())(image)
    assert abs(normed.mean()) < 1e-6 and abs(normed.std() - 1) < 1e-6
    assert transforms.Compose([transforms.Resize(2), transforms.Pad(1)])(image[None]).shape == (1, 4, 4)
