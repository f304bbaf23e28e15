"""PyTorch-CPU reference for `npm run bench -- ml`: the same models, batch 64, SGD momentum 0.9, weight decay
5e-4, random data. Prints one JSON object per model (samples/s wall and per CPU-second), measured two ways:
- the training loop (samplesPerSec, samplesPerCpuSec): what our train() does each step, written as a PyTorch user
  writes it: a shuffled batch indexed out of the data set, forward, cross-entropy, backward, SGD step, the loss read
  (loss.item()) and the batch's correct count read (argmax); epochs of at most 256 batches, about BENCH_ML_SECONDS long;
- the bare step (stepOnly*): one fixed batch, forward/backward/step, nothing read: PyTorch's floor.
Env: BENCH_TORCH_THREADS (intra-op threads, default 1), BENCH_ML_STEPS (timed steps at least, default 100;
the loop runs about BENCH_ML_SECONDS, default 5, too), BENCH_ML_WARMUP
(untimed steps before them, default 30, repeated until BENCH_ML_WARMUP_SECONDS, default 2, have passed),
BENCH_ML_MODELS (comma list of model ids), BENCH_TORCH_MODE=memory (instead: peak RSS of ResNet-18 width 64,
CIFAR-10 shape, batch 128, over BENCH_ML_MEMORY_STEPS steps).
The bench runs it with the PyTorch from PyPI it installs into a cached virtual environment, and with Debian's
python3-torch when that is installed."""
import json
import math
import os
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_resnet import ResNet  # beside this file (shared with the GPU check's reference)

threads = int(os.environ.get("BENCH_TORCH_THREADS", "1"))
torch.set_num_threads(threads)
torch.set_num_interop_threads(1)
torch.manual_seed(0)
capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", lambda: None)()


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


def trainer(model, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return step


header = {"backend": f"pytorch-cpu {torch.__version__}", "torch": torch.__version__, "threads": threads, "cpuCapability": capability}

if os.environ.get("BENCH_TORCH_MODE") == "memory":
    steps = int(os.environ.get("BENCH_ML_MEMORY_STEPS", "3"))
    step = trainer(ResNet(64, (2, 2, 2, 2)), torch.randn(128, 3, 32, 32), torch.randint(0, 10, (128,)))
    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    ms = (time.perf_counter() - t0) * 1000 / steps
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({**header, "model": "resnet18-w64", "batch": 128, "steps": steps, "msPerStep": round(ms, 1), "peakRssMiB": round(peak, 1)}))
else:
    steps = int(os.environ.get("BENCH_ML_STEPS", "100"))
    seconds = float(os.environ.get("BENCH_ML_SECONDS", "5"))
    warm_seconds = float(os.environ.get("BENCH_ML_WARMUP_SECONDS", "2"))
    want = [m.strip() for m in os.environ["BENCH_ML_MODELS"].split(",")] if os.environ.get("BENCH_ML_MODELS") else None
    for name, make, shape in MODELS:
        if want and name not in want:
            continue
        warmup = int(os.environ.get("BENCH_ML_WARMUP", "30"))
        model = make()
        step = trainer(model, torch.randn(64, *shape), torch.randint(0, 10, (64,)))
        for _ in range(warmup):
            step()
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(steps):
            step()
        step_wall, step_cpu = time.perf_counter() - t0, time.process_time() - c0
        # the training loop, on a fresh model (as our bench: warm-up steps on their own data first)
        model = make()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

        def epoch(xs, ys):
            n = len(xs) // 64
            perm = torch.randperm(len(xs))
            hits, loss_sum = 0, 0.0
            for s in range(n):
                idx = perm[s * 64:(s + 1) * 64]
                x, y = xs[idx], ys[idx]
                opt.zero_grad()
                z = model(x)
                loss = F.cross_entropy(z, y)
                loss.backward()
                opt.step()
                loss_sum += loss.item() * 64
                hits += (z.argmax(1) == y).sum().item()
            return hits, loss_sum

        wx, wy = torch.randn(warmup * 64, *shape), torch.randint(0, 10, (warmup * 64,))
        w_start = time.perf_counter()
        while True:  # as ours: at least `warmup` steps and BENCH_ML_WARMUP_SECONDS
            w0 = time.perf_counter()
            epoch(wx, wy)
            if time.perf_counter() - w_start >= warm_seconds:
                break
        # as ours: at least `steps` steps and about BENCH_ML_SECONDS at the warm-up's pace, in epochs of at most 256
        # batches over one data set made before the clock starts
        target = max(steps, math.ceil(seconds / ((time.perf_counter() - w0) / max(1, warmup))))
        per_epoch = min(target, 256)
        epochs = math.ceil(target / per_epoch)
        xs, ys = torch.randn(per_epoch * 64, *shape), torch.randint(0, 10, (per_epoch * 64,))
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(epochs):
            epoch(xs, ys)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        done = per_epoch * epochs
        print(json.dumps({**header, "model": name, "steps": done, "warmup": warmup,
                          "samplesPerSec": round(64 * done / wall, 1), "samplesPerCpuSec": round(64 * done / cpu, 1),
                          "stepOnlySteps": steps,
                          "stepOnlySamplesPerSec": round(64 * steps / step_wall, 1),
                          "stepOnlySamplesPerCpuSec": round(64 * steps / step_cpu, 1)}))
