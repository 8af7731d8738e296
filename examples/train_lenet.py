"""Train the lecture's LeNet-5 on the embedded digits, written out the PyTorch way.

    python examples/train_lenet.py [--epochs 10] [--limit N]
"""
import argparse

import tinygrad_cnn as tg
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn.data import DataLoader, digits
from tinygrad_cnn.models import LeNet5

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--limit", type=int, default=0, help="train on the first N images only (for a quick try)")
args = parser.parse_args()

tg.manual_seed(0)
train_set, test_set = digits(train=True), digits(train=False)
if args.limit:
    train_set = tg.data.TensorDataset(*(a[:args.limit] for a in train_set.arrays))
train_loader = DataLoader(train_set, batch_size=32, shuffle=True, seed=0)
test_loader = DataLoader(test_set, batch_size=500)

model = LeNet5()
optimizer = tg.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)

for epoch in range(1, args.epochs + 1):
    model.train()
    for images, labels in train_loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()

    model.eval()
    correct = 0
    with tg.no_grad():
        for images, labels in test_loader:
            correct += (model(images).argmax(1) == labels).sum().item()
    print(f"epoch {epoch}: last batch loss {loss.item():.4f}, test accuracy {correct / len(test_set):.2%}")

tg.save(model.state_dict(), "lenet5_digits.npz")
