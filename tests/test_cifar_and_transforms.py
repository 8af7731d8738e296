"""CIFAR-10 from a small fake binary archive the test builds (no network), its checked download,
and the image transforms (seeded, per sample and per batch)."""
import hashlib
import io
import os
import tarfile
import urllib.error

import numpy as np
import pytest

import tinygrad_cnn as tg
from tinygrad_cnn import data
from tinygrad_cnn.data import cifar
from tinygrad_cnn.data import transforms as T

from .helpers import FakeResponse, first_mirror_down


def _records(labels, seed):
    """Binary CIFAR records: a label byte, then the red, green and blue planes of a 32x32 image."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (len(labels), 3, 32, 32), dtype=np.uint8)
    rows = np.concatenate([np.asarray(labels, np.uint8)[:, None], images.reshape(len(labels), -1)], axis=1)
    return rows.tobytes(), images


def _fake_archive(path, per_batch=3, corrupt=None):
    """A cifar-10-binary.tar.gz with 5 train batches and a test batch of ``per_batch`` records each."""
    members, images = {}, {}
    for i, name in enumerate(cifar.TRAIN_FILES + cifar.TEST_FILES):
        labels = [(i + k) % 10 for k in range(per_batch)]
        members[name], images[name] = _records(labels, seed=i)
    if corrupt:
        members = corrupt(members)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, payload in members.items():
            info = tarfile.TarInfo(f"{cifar.FOLDER}/{name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, cifar.ARCHIVE), "wb") as f:
        f.write(buffer.getvalue())
    return images, buffer.getvalue()


def test_cifar10_reads_the_binary_archive(tmp_path):
    images, _ = _fake_archive(tmp_path)
    train = data.CIFAR10(str(tmp_path), train=True, normalize=False)
    test = data.CIFAR10(str(tmp_path), train=False)
    x, y = train.arrays
    assert x.shape == (15, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(x[:3] * 255, images["data_batch_1.bin"], atol=1e-4)  # R, G, B planes in order
    assert y[:6].tolist() == [0, 1, 2, 1, 2, 3]
    xt, yt = test.arrays
    expected = (images["test_batch.bin"] / 255.0 - np.reshape(cifar.MEAN, (1, 3, 1, 1))) / np.reshape(cifar.STD,
                                                                                                     (1, 3, 1, 1))
    np.testing.assert_allclose(xt, expected, rtol=1e-5, atol=1e-5)
    assert yt.tolist() == [5, 6, 7]


def test_cifar10_refuses_bad_files_and_says_where_to_put_the_archive(tmp_path):
    _fake_archive(tmp_path / "a", corrupt=lambda m: {**m, "data_batch_2.bin": m["data_batch_2.bin"][:-5]})
    with pytest.raises(ValueError, match="data_batch_2.bin has .* not a whole number of 3073-byte records"):
        data.CIFAR10(str(tmp_path / "a"))
    _fake_archive(tmp_path / "b", corrupt=lambda m: {k: v for k, v in m.items() if k != "test_batch.bin"})
    with pytest.raises(ValueError, match="no member cifar-10-batches-bin/test_batch.bin"):
        data.CIFAR10(str(tmp_path / "b"), train=False)
    bad_label = bytearray(_records([3], 0)[0])
    bad_label[0] = 12
    _fake_archive(tmp_path / "c", corrupt=lambda m: {**m, "test_batch.bin": bytes(bad_label)})
    with pytest.raises(ValueError, match="a label 12"):
        data.CIFAR10(str(tmp_path / "c"), train=False)
    with pytest.raises(FileNotFoundError, match="cifar-10-binary.tar.gz not found .* place the file there by hand"):
        data.CIFAR10(str(tmp_path / "empty"))



def test_cifar10_download_tries_the_next_mirror_and_checks_the_archive(tmp_path, monkeypatch):
    _, payload = _fake_archive(tmp_path / "source")
    monkeypatch.setattr(cifar, "MD5", hashlib.md5(payload).hexdigest())
    monkeypatch.setattr(cifar, "SHA256", hashlib.sha256(payload).hexdigest())
    opener = first_mirror_down(payload)
    root = tmp_path / "root"
    monkeypatch.setattr(cifar, "MIRRORS", ["http://one/", "http://two/"])
    path = cifar.download_archive(str(root), mirrors=cifar.MIRRORS, opener=opener)
    assert opener.calls == ["http://one/cifar-10-binary.tar.gz", "http://two/cifar-10-binary.tar.gz"]
    assert open(path, "rb").read() == payload and os.listdir(root) == [cifar.ARCHIVE]
    assert len(data.CIFAR10(str(root), train=False)) == 3


def test_cifar10_download_with_a_wrong_checksum_or_offline_leaves_nothing(tmp_path):
    with pytest.raises(data.DownloadError, match="no mirror gave a correct cifar-10-binary.tar.gz"):
        cifar.download_archive(str(tmp_path), opener=lambda url, timeout: FakeResponse(b"not the archive"))
    assert os.listdir(tmp_path) == []

    def offline(url, timeout):
        raise urllib.error.URLError("Temporary failure in name resolution")

    with pytest.raises(data.DownloadError) as info:
        cifar.download_archive(str(tmp_path), opener=offline)
    message = str(info.value)
    assert "no network" in message and "place the files cifar-10-binary.tar.gz in" in message and "\n" not in message
    assert os.listdir(tmp_path) == []


# ---- transforms ---------------------------------------------------------------------
def _images(n=6, c=2, side=5):
    return np.arange(n * c * side * side, dtype=np.float32).reshape(n, c, side, side)


def test_random_crop_cuts_a_padded_window_per_sample_and_is_seeded():
    x = _images()
    out = T.RandomCrop(5, padding=2, seed=0)(x)
    assert out.shape == x.shape
    padded = np.pad(x, [(0, 0), (0, 0), (2, 2), (2, 2)])
    offsets = set()
    for i in range(len(x)):  # each crop is some 5x5 window of its own padded image, the same for every channel
        found = [(a, b) for a in range(5) for b in range(5) if np.array_equal(padded[i, :, a:a + 5, b:b + 5], out[i])]
        assert found
        offsets.add(found[0])
    assert len(offsets) > 1  # samples are cropped independently
    np.testing.assert_array_equal(T.RandomCrop(5, padding=2, seed=0)(x), out)  # the same seed, the same crops
    tg.manual_seed(3)
    a = T.RandomCrop(3)(x[0])
    tg.manual_seed(3)
    np.testing.assert_array_equal(T.RandomCrop(3)(x[0]), a)  # unseeded: tg.manual_seed decides
    assert a.shape == (2, 3, 3)
    with pytest.raises(ValueError, match="crop size .* is larger than the padded image size"):
        T.RandomCrop(8)(x)
    with pytest.raises(ValueError, match="expected an image"):
        T.RandomCrop(3)(x[0, 0])


def test_random_horizontal_flip_mirrors_with_probability_p():
    x = _images(n=200)
    out = T.RandomHorizontalFlip(0.5, seed=1)(x)
    flipped = [np.array_equal(o, i[..., ::-1]) for o, i in zip(out, x)]
    kept = [np.array_equal(o, i) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and 70 < sum(flipped) < 130
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(x[0]), x[0][..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(0.0)(x), x)


def test_to_tensor_and_per_channel_normalize():
    hwc = np.stack([np.full((2, 3), 255, np.uint8), np.zeros((2, 3), np.uint8)], axis=-1)
    chw = T.ToTensor()(hwc)
    assert chw.shape == (2, 2, 3) and chw.dtype == np.float32 and chw[0].max() == 1.0 and chw[1].max() == 0.0
    assert T.ToTensor()(np.stack([hwc, hwc])).shape == (2, 2, 2, 3)
    out = T.Normalize([0.5, 0.0], [0.5, 2.0])(chw)
    np.testing.assert_allclose(out[0], 1.0) and np.testing.assert_allclose(out[1], 0.0)


def test_transforms_per_sample_in_a_dataset_and_per_batch_in_a_dataloader():
    x, y = _images(n=8), np.arange(8)
    augment = T.Compose([T.RandomCrop(5, padding=1), T.RandomHorizontalFlip()])
    tg.manual_seed(0)
    per_sample = [b[0].numpy() for b in data.DataLoader(data.TensorDataset(x, y, transform=augment), 4)]
    tg.manual_seed(0)
    per_batch = [b[0].numpy() for b in data.DataLoader(data.TensorDataset(x, y), 4, batch_transform=augment)]
    for batches in (per_sample, per_batch):
        assert [b.shape for b in batches] == [(4, 2, 5, 5)] * 2
        assert not np.array_equal(np.concatenate(batches), x)  # something was cropped or flipped
    tg.manual_seed(0)
    again = [b[0].numpy() for b in data.DataLoader(data.TensorDataset(x, y), 4, batch_transform=augment)]
    np.testing.assert_array_equal(np.concatenate(again), np.concatenate(per_batch))  # reproducible


def test_resize_is_bilinear_interpolation():
    import tinygrad_cnn.nn.functional as F

    images = np.random.default_rng(0).standard_normal((2, 3, 8, 6)).astype(np.float32)
    expected = F.interpolate(tg.tensor(images), size=(20, 9), mode="bilinear").numpy()
    np.testing.assert_allclose(T.Resize((20, 9))(images), expected, rtol=1e-5, atol=1e-6)
