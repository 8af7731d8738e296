"""Saving and loading a general checkpoint, as the PyTorch recipe writes it: model, optimizer, epoch and
loss in one .tar file; then resume training and check that it continues exactly where it stopped."""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.bn = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.bn(self.conv2(x))))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def step(net, optimizer, inputs, labels):
    optimizer.zero_grad()
    loss = F.cross_entropy(net(inputs), labels)
    loss.backward()
    optimizer.step()
    return loss


torch.manual_seed(0)
inputs, labels = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
net = Net()
optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
for epoch in range(3):
    loss = step(net, optimizer, inputs, labels)

PATH = "model.tar"
torch.save({
    'epoch': epoch,
    'model_state_dict': net.state_dict(),
    'optimizer_state_dict': optimizer.state_dict(),
    'loss': loss,
}, PATH)

model = Net()
opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
checkpoint = torch.load(PATH, weights_only=True)
model.load_state_dict(checkpoint['model_state_dict'])
opt.load_state_dict(checkpoint['optimizer_state_dict'])
assert checkpoint['epoch'] == 2 and abs(checkpoint['loss'].item() - loss.item()) < 1e-7

model.eval()
net.eval()
with torch.no_grad():
    assert torch.equal(model(inputs), net(inputs))
model.train()
net.train()
resumed = step(model, opt, inputs, labels)  # the momentum buffers came back too
original = step(net, optimizer, inputs, labels)
assert abs(resumed.item() - original.item()) < 1e-6, (resumed.item(), original.item())
print(f"RESULT resumed_loss={resumed.item():.6f} original_loss={original.item():.6f}")
