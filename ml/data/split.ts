import { tf } from '../tf.js';
import type { Rng } from '../rng.js';
import type { Split } from './types.js';
import { wasmHeapTensor } from '../kernels/asm.js';

export function exampleSize(split: Pick<Split, 'exampleShape'>): number {
  return split.exampleShape.reduce((a, b) => a * b, 1);
}

export function subsetByPositions(split: Split, positions: ArrayLike<number>): Split {
  const d = exampleSize(split);
  const n = positions.length;
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const p = positions[i];
    if (!(p >= 0 && p < split.count) || !Number.isInteger(p)) {
      throw new Error(`subsetByPositions: position ${p} (index ${i}) out of range 0..${split.count - 1}`);
    }
    x.set(split.x.subarray(p * d, (p + 1) * d), i * d);
    y[i] = split.y[p];
    ids[i] = split.ids[p];
  }
  return { x, y, ids, count: n, exampleShape: [...split.exampleShape] };
}

export function positionsOfIds(split: Split, ids: ArrayLike<number>): Int32Array {
  const index = new Map<number, number>();
  for (let i = 0; i < split.count; i++) index.set(split.ids[i], i);
  const out = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const p = index.get(ids[i]);
    if (p === undefined) throw new Error(`id ${ids[i]} (index ${i}) is not in this split (${split.count} examples)`);
    out[i] = p;
  }
  return out;
}

export function subsetByIds(split: Split, ids: ArrayLike<number>): Split {
  return subsetByPositions(split, positionsOfIds(split, ids));
}

export function complementIds(split: Split, ids: ArrayLike<number>): Int32Array {
  const drop = new Set<number>();
  for (let i = 0; i < ids.length; i++) drop.add(ids[i]);
  const out: number[] = [];
  for (let i = 0; i < split.count; i++) if (!drop.has(split.ids[i])) out.push(split.ids[i]);
  return Int32Array.from(out);
}

/** Positions split into batches of batchSize (last partial batch kept); shuffled when rng is given. */
export function batchPositions(count: number, batchSize: number, rng?: Rng): Int32Array[] {
  if (!(batchSize >= 1)) throw new Error(`batchPositions: batchSize must be >= 1, got ${batchSize}`);
  let order: Int32Array;
  if (rng) order = rng.permutation(count);
  else {
    order = new Int32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
  }
  const out: Int32Array[] = [];
  for (let s = 0; s < count; s += batchSize) out.push(order.subarray(s, Math.min(count, s + batchSize)));
  return out;
}

/** Gathers one batch into new tensors (x: [n, ...exampleShape] float32, y: [n] int32). Caller disposes. */
export function gatherBatch(split: Split, positions: ArrayLike<number>): { x: tf.Tensor; y: tf.Tensor1D } {
  const d = exampleSize(split);
  const n = positions.length;
  const fillX = (xb: Float32Array): void => {
    for (let i = 0; i < n; i++) {
      const p = positions[i];
      xb.set(split.x.subarray(p * d, (p + 1) * d), i * d);
    }
  };
  const fillY = (yb: Int32Array): void => {
    for (let i = 0; i < n; i++) yb[i] = split.y[positions[i]];
  };
  // wasm: gathered straight into the backend's heap (one copy, no per-batch JS buffer for the GC to account)
  const x = wasmHeapTensor([n, ...split.exampleShape], 'float32', fillX);
  if (x) return { x, y: wasmHeapTensor([n], 'int32', fillY) as tf.Tensor1D };
  const xb = new Float32Array(n * d);
  const yb = new Int32Array(n);
  fillX(xb);
  fillY(yb);
  return { x: tf.tensor(xb, [n, ...split.exampleShape], 'float32'), y: tf.tensor1d(yb, 'int32') };
}


/** Seeded class-stratified subsample: up to perClass positions of each class, returned in original order. */
export function stratifiedPositions(y: Int32Array, numClasses: number, perClass: number, rng: Rng): Int32Array {
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < y.length; i++) {
    const c = y[i];
    if (c < 0 || c >= numClasses) throw new Error(`label ${c} at position ${i} outside 0..${numClasses - 1}`);
    byClass[c].push(i);
  }
  const chosen: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const list = byClass[c];
    if (list.length < perClass) {
      throw new Error(`class ${c} has only ${list.length} examples, ${perClass} per class requested`);
    }
    // partial Fisher-Yates: first perClass entries become a uniform sample
    for (let i = 0; i < perClass; i++) {
      const j = i + rng.int(list.length - i);
      const t = list[i];
      list[i] = list[j];
      list[j] = t;
    }
    for (let i = 0; i < perClass; i++) chosen.push(list[i]);
  }
  chosen.sort((a, b) => a - b);
  return Int32Array.from(chosen);
}
