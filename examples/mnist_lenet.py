"""Train LeNet-5 on MNIST read from a folder of IDX files.

    python examples/mnist_lenet.py --root ../shared/datasets/mnist --test-only-split
        (only the 10,000 test images there: the first 8,000 train, the last 2,000 test)
    python examples/mnist_lenet.py --root data/mnist --download
"""
import argparse

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.data import MNIST, DataLoader, TensorDataset
from tinygrad_cnn.models import LeNet5

parser = argparse.ArgumentParser()
parser.add_argument("--root", default="data/mnist")
parser.add_argument("--download", action="store_true")
parser.add_argument("--test-only-split", action="store_true", help="split the 10,000 test images 8,000/2,000")
parser.add_argument("--epochs", type=int, default=4)
parser.add_argument("--limit", type=int, default=0, help="train on the first N images only")
args = parser.parse_args()

tg.manual_seed(0)
if args.test_only_split:
    images, labels = MNIST(args.root, train=False, download=args.download).arrays
    train_set, test_set = TensorDataset(images[:8000], labels[:8000]), TensorDataset(images[8000:], labels[8000:])
else:
    train_set = MNIST(args.root, train=True, download=args.download)
    test_set = MNIST(args.root, train=False, download=args.download)
if args.limit:
    train_set = TensorDataset(*(a[:args.limit] for a in train_set.arrays))

model = LeNet5()
optimizer = tg.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)
scheduler = tg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
for epoch in range(1, args.epochs + 1):
    model.train()
    for images, labels in DataLoader(train_set, batch_size=64, shuffle=True, seed=epoch):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
    scheduler.step()
    model.eval()
    with tg.no_grad():
        correct = sum((model(x).argmax(1) == y).sum().item() for x, y in DataLoader(test_set, batch_size=1000))
    print(f"epoch {epoch}: test accuracy {correct / len(test_set):.2%}")
