// Evaluation over every example of a split (the last partial batch included), inference mode.
import { tf } from './tf.js';
import type { Model } from './models.js';
import type { Split } from './data/types.js';
import { batchPositions, gatherBatch } from './data/split.js';
import { Driver } from './driver.js';

export interface EvalOptions {
  batchSize?: number;
  /** Yields, cancellation and progress (ml/driver.ts); phase name `phase` (default 'evaluate'). */
  driver?: Driver;
  phase?: string;
}

export interface PerExample {
  /** Stable example ids, in split order. */
  ids: Int32Array;
  /** Cross-entropy (natural log). */
  loss: Float32Array;
  /** Softmax probability of the true class. */
  trueProb: Float32Array;
  /** logit[true] − max over other classes of logit. */
  margin: Float32Array;
  pred: Int32Array;
}

export interface EvalResult {
  accuracy: number;
  /** Mean per-example loss. */
  loss: number;
  count: number;
  perExample: PerExample;
}

/**
 * Logits of every example, eval mode, row-major count × numClasses. Read asynchronously (a GPU backend has no
 * synchronous read in Node); the next batch is dispatched before the previous one is read, so a GPU keeps busy.
 * Every batch is a driver step (yields, cancellation, progress).
 */
export async function predictLogits(model: Model, split: Split, opts: EvalOptions = {}): Promise<Float32Array> {
  const k = model.numClasses;
  const out = new Float32Array(split.count * k);
  let offset = 0;
  let pending: { z: tf.Tensor; offset: number } | undefined;
  const drain = async (): Promise<void> => {
    if (!pending) return;
    const { z, offset: at } = pending;
    pending = undefined;
    try {
      out.set((await z.data()) as Float32Array, at);
    } finally {
      z.dispose();
    }
  };
  const driver = opts.driver ?? new Driver();
  const batches = batchPositions(split.count, opts.batchSize ?? 256);
  driver.begin(opts.phase ?? 'evaluate', { steps: batches.length });
  try {
    for (const positions of batches) {
      const z = tf.tidy(() => {
        const { x } = gatherBatch(split, positions);
        return model.logits(x, false);
      });
      await drain();
      pending = { z, offset };
      offset += positions.length * k;
      await driver.step();
    }
    await drain();
  } finally {
    pending?.z.dispose();
  }
  return out;
}

export async function evaluate(model: Model, split: Split, opts: EvalOptions = {}): Promise<EvalResult> {
  const n = split.count;
  const k = model.numClasses;
  const logits = await predictLogits(model, split, opts);
  const loss = new Float32Array(n);
  const trueProb = new Float32Array(n);
  const margin = new Float32Array(n);
  const pred = new Int32Array(n);
  let hits = 0;
  let lossSum = 0;
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * k, (i + 1) * k);
    const y = split.y[i];
    if (y < 0 || y >= k) throw new Error(`evaluate: label ${y} of example id ${split.ids[i]} outside 0..${k - 1}`);
    let max = -Infinity;
    let arg = 0;
    let otherMax = -Infinity;
    for (let c = 0; c < k; c++) {
      if (row[c] > max) {
        max = row[c];
        arg = c;
      }
      if (c !== y && row[c] > otherMax) otherMax = row[c];
    }
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp(row[c] - max);
    const logp = row[y] - max - Math.log(sum);
    loss[i] = -logp;
    trueProb[i] = Math.exp(logp);
    margin[i] = row[y] - otherMax;
    pred[i] = arg;
    if (arg === y) hits++;
    lossSum += -logp;
  }
  return {
    accuracy: n > 0 ? hits / n : NaN,
    loss: n > 0 ? lossSum / n : NaN,
    count: n,
    perExample: { ids: Int32Array.from(split.ids), loss, trueProb, margin, pred },
  };
}
