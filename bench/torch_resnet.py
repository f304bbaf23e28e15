"""The CIFAR ResNet both PyTorch references train (bench/ml_torch.py for `npm run bench -- ml`, and
scripts/gpu-check/torch_gpu.py for the GPU check, whose offline bundle carries a copy of this file): basic blocks,
a 3x3 stem without pooling, 1x1 projection shortcuts, global average pooling, one linear head; the same
architecture as our `resnet` model (ml/models)."""
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.sc = None
        if stride != 1 or cin != cout:
            self.sc = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        o = F.relu(self.bn1(self.conv1(x)))
        o = self.bn2(self.conv2(o))
        return F.relu(o + (self.sc(x) if self.sc is not None else x))


class ResNet(nn.Module):
    def __init__(self, width=16, blocks=(1, 1, 1, 1), classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, cin = [], width
        for s, n in enumerate(blocks):
            cout = width * 2**s
            for b in range(n):
                layers.append(Block(cin, cout, 2 if s > 0 and b == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))
