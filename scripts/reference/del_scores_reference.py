#!/usr/bin/env python3
"""Writes test/fixtures/del-scores-reference.json: DEL's localization scores computed once, independently of our
tfjs library, with the reference implementation's formulas (docs/method.md, "Localization"), in float64 numpy
and PyTorch's [out, in] weight layout:

  per-entry score   s_j = | theta_j * sum_batches dL(batch)/dtheta_j |   (L = mean cross-entropy of a batch of 128,
                                                                           model in inference mode)
  channel score     for every tensor with >= 2 dims, row = output unit; mean of the top-h entries of the row,
                    h = max(1, floor(0.1 * number of rows)) ('topk', CNNs), or of the whole row ('mean', transformers)
  mask              one global ranking over all entries, the top floor(alpha * P) are 1

The model is a small ReLU MLP (20 -> 48 -> 32 -> 10) with seeded weights; the forget set has 256 examples (two full
batches of 128, so the reference code's drop_last changes nothing). `node --test test/unlearn/del-reference.test.ts`
compares our scores, channel aggregation and mask with these numbers. Regenerate (only when the formulas are meant
to change):  python3 -m venv .venv && .venv/bin/pip install numpy==2.1.3 && .venv/bin/python scripts/reference/del_scores_reference.py
"""
import json
import os

import numpy as np

SIZES = [20, 48, 32, 10]
N, BATCH, ALPHA = 256, 128, 0.3
rng = np.random.default_rng(20241203)

# PyTorch layout: Linear weight [out, in], bias [out]; default init U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
layers = []
for i, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
    bound = 1.0 / np.sqrt(fan_in)
    w = rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(np.float32).astype(np.float64)
    b = rng.uniform(-bound, bound, size=(fan_out,)).astype(np.float32).astype(np.float64)
    layers.append((w, b))
x = rng.normal(size=(N, SIZES[0])).astype(np.float32).astype(np.float64)
y = rng.integers(0, SIZES[-1], size=N)


def batch_grads(xb, yb):
    """Gradients of the batch-mean cross-entropy w.r.t. every weight and bias (manual backprop)."""
    acts = [xb]
    h = xb
    for i, (w, b) in enumerate(layers):
        z = h @ w.T + b
        h = np.maximum(z, 0) if i < len(layers) - 1 else z
        acts.append(h)
    logits = acts[-1]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    d = p.copy()
    d[np.arange(len(yb)), yb] -= 1
    d /= len(yb)
    grads = [None] * len(layers)
    for i in reversed(range(len(layers))):
        w, _ = layers[i]
        grads[i] = (d.T @ acts[i], d.sum(axis=0))
        if i > 0:
            d = (d @ w) * (acts[i] > 0)
    return grads


summed = [(np.zeros_like(w), np.zeros_like(b)) for w, b in layers]
for start in range(0, N, BATCH):
    g = batch_grads(x[start:start + BATCH], y[start:start + BATCH])
    summed = [(sw + gw, sb + gb) for (sw, sb), (gw, gb) in zip(summed, g)]

entry = [(np.abs(w * gw), np.abs(b * gb)) for (w, b), (gw, gb) in zip(layers, summed)]


def channel(scores_out_in, how):
    rows = scores_out_in.shape[0]
    h = max(1, int(0.1 * rows)) if how == 'topk' else scores_out_in.shape[1]
    h = min(h, scores_out_in.shape[1])
    top = -np.sort(-scores_out_in, axis=1)[:, :h]
    return np.repeat(top.mean(axis=1, keepdims=True), scores_out_in.shape[1], axis=1)


def mask(how):
    flat = np.concatenate([np.concatenate([channel(sw, how).ravel(), sb.ravel()]) for sw, sb in entry])
    k = int(np.floor(ALPHA * flat.size))
    order = np.argsort(-flat, kind='stable')
    m = np.zeros(flat.size, dtype=np.uint8)
    m[order[:k]] = 1
    return m


def to_tfjs(a_out_in):
    """PyTorch [out, in] -> our [in, out] row-major flat list."""
    return a_out_in.T.ravel().tolist()


params = {}
offset = {'topk': mask('topk'), 'mean': mask('mean')}
pos = 0
for i, ((w, b), (sw, sb)) in enumerate(zip(layers, entry)):
    name = f'dense{i + 1}' if i < len(layers) - 1 else 'head'
    nw, nb = w.size, b.size
    for how in ('topk', 'mean'):
        mw = offset[how][pos:pos + nw].reshape(w.shape)
        mb = offset[how][pos + nw:pos + nw + nb]
        params.setdefault(f'{name}/kernel', {})[f'mask_{how}'] = to_tfjs(mw.astype(np.float64))
        params.setdefault(f'{name}/bias', {})[f'mask_{how}'] = mb.astype(int).tolist()
    params[f'{name}/kernel'].update({'shape': [w.shape[1], w.shape[0]], 'weight': to_tfjs(w), 'score': to_tfjs(sw),
                                     'channel_topk': to_tfjs(channel(sw, 'topk')), 'channel_mean': to_tfjs(channel(sw, 'mean'))})
    params[f'{name}/bias'].update({'shape': [b.shape[0]], 'weight': b.tolist(), 'score': sb.tolist()})
    pos += nw + nb

out = {
    'about': 'DEL localization scores from the reference formulas (scripts/reference/del_scores_reference.py)',
    'model': {'arch': 'mlp', 'hidden': SIZES[1:-1], 'inputShape': [SIZES[0]], 'numClasses': SIZES[-1]},
    'alpha': ALPHA, 'batchSize': BATCH,
    'x': x.ravel().tolist(), 'y': y.tolist(),
    'params': params,
}
path = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'del-scores-reference.json')
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, 'w') as f:
    json.dump(out, f, separators=(',', ':'))
print(f'wrote {os.path.normpath(path)}: {sum(v["weight"].__len__() for v in params.values())} parameters, '
      f'{int(offset["topk"].sum())} selected (topk), {int(offset["mean"].sum())} (mean)')
