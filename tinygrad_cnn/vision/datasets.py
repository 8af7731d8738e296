"""torchvision.datasets' MNIST, CIFAR10 and FakeData: samples are (picture, int label), the picture a
uint8 NumPy array (28, 28) or (32, 32, 3) where torchvision gives a PIL image, nothing normalised,
until ``transform`` (e.g. ``transforms.ToTensor()``) turns it into a Tensor.

Differences from torchvision: CIFAR10 reads the binary archive (``cifar-10-binary.tar.gz``, no
pickle) instead of the Python one; MNIST reads the IDX files from ``root`` or ``root/MNIST/raw``.
Both download with checksums only when ``download=True`` and the files are missing.
"""
import numpy as np

from ..data import cifar, mnist
from ..data.dataset import Dataset
from ..tensor import Tensor


class VisionDataset(Dataset):
    """Pictures and integer labels in memory, with torchvision's ``transform`` / ``target_transform``."""

    def __init__(self, root, transform=None, target_transform=None):
        self.root, self.transform, self.target_transform = root, transform, target_transform

    def picture(self, index):
        raise NotImplementedError

    def label(self, index):
        raise NotImplementedError

    def __getitem__(self, index):
        img, target = self.picture(index), self.label(index)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"    Root location: {self.root}")
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform}")
        return "\n".join(lines)


class MNIST(VisionDataset):
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform, target_transform)
        self.train = train
        images, labels = mnist.load_arrays(root, train, download)
        self.data, self.targets = Tensor(images), Tensor(labels.astype(np.int64))

    def __len__(self):
        return len(self.data.array)

    def picture(self, index):
        return self.data.array[index]

    def label(self, index):
        return int(self.targets.array[index])


class CIFAR10(VisionDataset):
    classes = list(cifar.CLASSES)

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform, target_transform)
        self.train = train
        images, labels = cifar.load_arrays(root, train, download)
        self.data = np.ascontiguousarray(images.transpose(0, 2, 3, 1))  # (N, 32, 32, 3), as torchvision's
        self.targets = labels.tolist()
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    def __len__(self):
        return len(self.data)

    def picture(self, index):
        return self.data[index]

    def label(self, index):
        return self.targets[index]


class FakeData(VisionDataset):
    """``size`` random pictures of ``image_size`` (C, H, W) with random labels below ``num_classes``;
    picture i is the same on every call (drawn from a generator seeded by i + ``random_offset``)."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None, target_transform=None,
                 random_offset=0):
        super().__init__(None, transform, target_transform)
        self.size, self.image_size, self.num_classes, self.random_offset = size, tuple(image_size), num_classes, \
            random_offset

    def __len__(self):
        return self.size

    def _rng(self, index):
        if not 0 <= index < self.size:
            raise IndexError(f"{type(self).__name__} index out of range")
        return np.random.default_rng(index + self.random_offset)

    def picture(self, index):
        c, h, w = self.image_size
        pixels = self._rng(index).integers(0, 256, size=(h, w, c), dtype=np.uint8)
        return pixels[:, :, 0] if c == 1 else pixels

    def label(self, index):
        return int(self._rng(index).integers(0, self.num_classes, size=2)[1])
