"""PyTorch reference for the GPU check: the same models as scripts/gpu-check/check.ts (CIFAR ResNet width 16
[1,1,1,1] and ResNet-18 width 64 [2,2,2,2], CIFAR stem, 32x32x3 inputs, 10 classes), the same batch, SGD with
momentum 0.9 and weight decay 5e-4, batches copied from host memory each step as ours are, float32, default
cuDNN settings. Prints one JSON line per model: samples/s after a warm-up.
Usage: python3 torch_gpu.py --models cifar-resnet,resnet18 --batch 128 --steps 300 [--device cuda]"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

# The ResNet is bench/torch_resnet.py (shared with the CPU bench): beside this file in the offline bundle, two
# folders up in the repository.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "..", "bench")]
from torch_resnet import ResNet  # noqa: E402


MODELS = {"cifar-resnet": (16, (1, 1, 1, 1)), "resnet18": (64, (2, 2, 2, 2))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="cifar-resnet,resnet18")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    dev = torch.device(a.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    torch.manual_seed(0)
    pool = 50  # distinct batches in host memory, as the check's data set
    for m in a.models.split(","):
        width, blocks = MODELS[m]
        model = ResNet(width, blocks).to(dev).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
        xs = torch.randn(pool, a.batch, 3, 32, 32)
        ys = torch.randint(0, 10, (pool, a.batch))

        def step(i):
            x = xs[i % pool].to(dev, non_blocking=False)
            y = ys[i % pool].to(dev, non_blocking=False)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        for i in range(10):
            step(i)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        for i in range(a.steps):
            loss = step(i)
            loss.item()  # one host read per step, as ours (divergence check)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        dt = time.perf_counter() - t0
        print(json.dumps({"model": m, "batch": a.batch, "steps": a.steps, "samples_per_sec": round(a.steps * a.batch / dt, 1),
                          "device": name, "torch": torch.__version__, "cudnn": torch.backends.cudnn.version() if dev.type == "cuda" else None}),
              flush=True)


if __name__ == "__main__":
    main()
