"""CIFAR-style ResNets for small images (He et al. 2016, section 4.2): ResNet-8, -14, -20, ...

A 3x3 stem conv, then three stages of basic blocks with 16, 32 and 64 channels (by
default), the second and third starting with stride 2; adaptive average pooling, optional
dropout and a linear classifier. Depth = 6n + 2 for n blocks per stage. Each block is

    out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))

where the shortcut is the identity, or a 1x1 stride-2 conv and batch norm (``downsample``)
where the shape changes. State-dict keys follow torchvision's ResNet (``layer1.0.conv1.weight``,
``layer2.0.downsample.0.weight``, ``fc.bias``), so a twin written in torch loads it.
"""
from .. import nn
from ..nn import functional as F


class BasicBlock(nn.Module):
    """Two 3x3 conv + batch norm layers and a residual add."""

    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(channels))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResNet(nn.Module):
    """``blocks`` basic blocks in each of ``len(widths)`` stages; ``in_channels`` 3 for 3x32x32 images,
    1 for 1x28x28 digits."""

    def __init__(self, blocks=(1, 1, 1), widths=(16, 32, 64), in_channels=3, num_classes=10, dropout=0.0):
        super().__init__()
        if len(blocks) != len(widths) or min(blocks) < 1:
            raise ValueError(f"ResNet: blocks {tuple(blocks)} and widths {tuple(widths)} need one positive count "
                             f"per stage")
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        channels, stages = widths[0], []
        for i, (count, width) in enumerate(zip(blocks, widths)):
            layer = []
            for j in range(count):
                layer.append(BasicBlock(channels, width, stride=2 if i > 0 and j == 0 else 1))
                channels = width
            stages.append(nn.Sequential(*layer))
        for i, stage in enumerate(stages, start=1):
            setattr(self, f"layer{i}", stage)
        self.num_stages = len(stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for i in range(1, self.num_stages + 1):
            x = getattr(self, f"layer{i}")(x)
        x = self.avgpool(x).flatten(1)
        return self.fc(self.dropout(x))


def resnet8(in_channels=3, num_classes=10, widths=(16, 32, 64), dropout=0.0):
    """ResNet-8: one basic block per stage."""
    return ResNet((1, 1, 1), widths, in_channels, num_classes, dropout)


def resnet14(in_channels=3, num_classes=10, widths=(16, 32, 64), dropout=0.0):
    return ResNet((2, 2, 2), widths, in_channels, num_classes, dropout)


def resnet20(in_channels=3, num_classes=10, widths=(16, 32, 64), dropout=0.0):
    """ResNet-20: three basic blocks per stage."""
    return ResNet((3, 3, 3), widths, in_channels, num_classes, dropout)
