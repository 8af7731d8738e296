"""LeNet-5 exactly as the lecture's table writes it (for 1x28x28 inputs):

| layer                     | output   | weights   |
| ------------------------- | -------- | --------- |
| conv1 5x5, 20, pad 2      | 20x28x28 | 20x1x5x5  |
| ReLU, maxpool 2x2 stride 2| 20x14x14 |           |
| conv2 5x5, 50, pad 2      | 50x14x14 | 50x20x5x5 |
| ReLU, maxpool 2x2 stride 2| 50x7x7   |           |
| flatten                   | 2450     |           |
| fc1                       | 500      | 2450x500  |
| ReLU, fc2                 | 10       | 500x10    |
"""
from .. import nn


class LeNet5(nn.Module):
    def __init__(self, in_channels=1, num_classes=10, batch_norm=False):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 20, kernel_size=5, padding=2)
        self.bn1 = nn.BatchNorm2d(20) if batch_norm else nn.Identity()
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(20, 50, kernel_size=5, padding=2)
        self.bn2 = nn.BatchNorm2d(50) if batch_norm else nn.Identity()
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2, 2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(50 * 7 * 7, 500)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(500, num_classes)

    def forward(self, x):
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        return self.fc2(self.relu3(self.fc1(self.flatten(x))))
