"""PyTorch-CPU reference for `npm run bench -- ml`: the same three models, one thread, batch 64, SGD
momentum 0.9, weight decay 5e-4, random data. Prints one JSON object per model (samples/s wall and per
CPU-second). Run: python3 bench/ml_torch.py  (Debian: apt-get install python3-torch)."""
import json
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)


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


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(7 * 7 * 32, 64), nn.ReLU(), nn.Linear(64, 10))


MODELS = [
    ("mlp-784-256-10", lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)), (1, 28, 28)),
    ("cnn-16-32-64", cnn, (1, 28, 28)),
    ("resnet-w16-1111", ResNet, (3, 32, 32)),
]

steps = int(os.environ.get("BENCH_ML_STEPS", "30"))
for name, make, shape in MODELS:
    model = make()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(64, *shape)
    y = torch.randint(0, 10, (64,))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(steps):
        step()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"model": name, "backend": f"pytorch-cpu {torch.__version__}", "threads": 1, "steps": steps,
                      "samplesPerSec": round(64 * steps / wall, 1), "samplesPerCpuSec": round(64 * steps / cpu, 1)}))
