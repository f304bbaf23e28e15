// Checkpoints in the safetensors layout: 8-byte little-endian header length, a JSON header
// { name: { dtype, shape, data_offsets }, __metadata__: { string: string } }, then raw little-endian bytes.
// Python reads them with `safetensors.numpy.load_file(path)` / `safe_open(path, 'np').metadata()`.
import { tf } from './tf.js';
import { buildModel, type Model, type ModelSpec } from './models.js';
import type { EpochStats, HostTensor, TrainState } from './train.js';

export type DType = 'F32' | 'I32' | 'U8';

export interface TensorEntry {
  shape: number[];
  dtype: DType;
  data: Float32Array | Int32Array | Uint8Array;
}

export interface Checkpoint {
  /** Model parameters and buffers by name. */
  weights: Map<string, TensorEntry>;
  trainState?: TrainState;
  /** Caller meta plus modelSpec, inputShape, numClasses, seed (always written by saveCheckpoint). */
  meta: Record<string, unknown>;
}

export const CHECKPOINT_FORMAT = 'unlearn-ckpt/1';
const OPT_PREFIX = 'optimizer/';
const CORRECT_PREFIX = 'train/correct/';

function bytesOf(t: TensorEntry): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

const BYTES: Record<DType, number> = { F32: 4, I32: 4, U8: 1 };

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error('checkpoint: big-endian hosts are not supported');
}

/** Encode named tensors and a string metadata map as safetensors bytes. */
export function encodeSafetensors(tensors: Map<string, TensorEntry>, metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const names = [...tensors.keys()];
  for (const name of names) {
    if (name === '__metadata__') throw new Error('checkpoint: a tensor may not be named __metadata__');
    const t = tensors.get(name)!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`checkpoint: ${name} has ${t.data.length} values for shape [${t.shape}]`);
    const len = n * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + len] };
    offset += len;
  }
  let json = JSON.stringify(header);
  // pad the header with spaces to a multiple of 8 (as the Python writer does) so tensor data is aligned
  const enc = new TextEncoder();
  let hb = enc.encode(json);
  const pad = (8 - (hb.length % 8)) % 8;
  if (pad) {
    json += ' '.repeat(pad);
    hb = enc.encode(json);
  }
  const out = new Uint8Array(8 + hb.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let pos = 8 + hb.length;
  for (const name of names) {
    const b = bytesOf(tensors.get(name)!);
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}

/** Decode safetensors bytes (F32, I32, U8 tensors). Data is copied into fresh, aligned arrays. */
export function decodeSafetensors(bytes: Uint8Array): { tensors: Map<string, TensorEntry>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new Error(`checkpoint: ${bytes.length} bytes is too short for a safetensors file`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = Number(dv.getBigUint64(0, true));
  if (hlen > bytes.length - 8) throw new Error(`checkpoint: header length ${hlen} exceeds file size ${bytes.length}`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen)));
  } catch (e) {
    throw new Error(`checkpoint: header is not valid JSON: ${(e as Error).message}`);
  }
  const base = 8 + hlen;
  const tensors = new Map<string, TensorEntry>();
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets } = h as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (dtype !== 'F32' && dtype !== 'I32' && dtype !== 'U8') throw new Error(`checkpoint: tensor ${name} has unsupported dtype ${dtype}`);
    const [a, b] = data_offsets;
    if (base + b > bytes.length || a > b) throw new Error(`checkpoint: tensor ${name} offsets [${a}, ${b}] outside the file`);
    const raw = new Uint8Array(bytes.subarray(base + a, base + b)); // copy: Buffer.slice would be a view of the whole file
    const data = dtype === 'F32' ? new Float32Array(raw.buffer) : dtype === 'I32' ? new Int32Array(raw.buffer) : raw;
    const n = shape.reduce((p, q) => p * q, 1);
    if (data.length !== n) throw new Error(`checkpoint: tensor ${name} has ${data.length} values for shape [${shape}]`);
    tensors.set(name, { dtype, shape, data });
  }
  const metadata = (header.__metadata__ as Record<string, string> | undefined) ?? {};
  return { tensors, metadata };
}

/** Asynchronous: weights are read with `data()`, which every backend supports (webgpu has no synchronous read in Node). */
export async function saveCheckpoint(model: Model, extra: { trainState?: TrainState; meta?: Record<string, unknown> } = {}): Promise<Uint8Array> {
  const tensors = new Map<string, TensorEntry>();
  const vars = [...model.params(), ...model.buffers()];
  const values = await Promise.all(vars.map(({ variable }) => variable.data()));
  vars.forEach(({ name, variable }, i) => {
    tensors.set(name, { dtype: 'F32', shape: [...variable.shape], data: Float32Array.from(values[i] as Float32Array) });
  });
  const meta = {
    ...(extra.meta ?? {}),
    modelSpec: model.spec,
    inputShape: model.inputShape,
    numClasses: model.numClasses,
    seed: model.seed,
  };
  const metadata: Record<string, string> = { format: CHECKPOINT_FORMAT, meta: JSON.stringify(meta) };
  const ts = extra.trainState;
  if (ts) {
    for (const [name, t] of ts.optimizer) tensors.set(OPT_PREFIX + name, { dtype: 'F32', shape: t.shape, data: t.data });
    ts.perExampleCorrect?.forEach((c, i) => tensors.set(`${CORRECT_PREFIX}${i}`, { dtype: 'U8', shape: [c.length], data: c }));
    metadata.trainState = JSON.stringify({
      epochsDone: ts.epochsDone,
      rng: ts.rng,
      history: ts.history,
      optimizer: [...ts.optimizer.keys()],
      perExampleCorrectEpochs: ts.perExampleCorrect?.length ?? null,
    });
  }
  return encodeSafetensors(tensors, metadata);
}

export function loadCheckpoint(bytes: Uint8Array): Checkpoint {
  const { tensors, metadata } = decodeSafetensors(bytes);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new Error(`checkpoint: __metadata__.format is ${JSON.stringify(metadata.format)}, expected ${CHECKPOINT_FORMAT}`);
  }
  const meta = JSON.parse(metadata.meta ?? '{}') as Record<string, unknown>;
  const weights = new Map<string, TensorEntry>();
  for (const [name, t] of tensors) if (!name.startsWith(OPT_PREFIX) && !name.startsWith(CORRECT_PREFIX)) weights.set(name, t);
  let trainState: TrainState | undefined;
  if (metadata.trainState) {
    const ts = JSON.parse(metadata.trainState) as {
      epochsDone: number;
      rng: number[];
      history: EpochStats[];
      optimizer: string[];
      perExampleCorrectEpochs: number | null;
    };
    const optimizer = new Map<string, HostTensor>();
    for (const name of ts.optimizer) {
      const t = tensors.get(OPT_PREFIX + name);
      if (!t) throw new Error(`checkpoint: optimizer state for ${name} is listed but missing`);
      optimizer.set(name, { shape: t.shape, data: t.data as Float32Array });
    }
    let perExampleCorrect: Uint8Array[] | undefined;
    if (ts.perExampleCorrectEpochs !== null) {
      perExampleCorrect = [];
      for (let i = 0; i < ts.perExampleCorrectEpochs; i++) {
        const t = tensors.get(`${CORRECT_PREFIX}${i}`);
        if (!t) throw new Error(`checkpoint: per-example correctness of epoch ${i} is missing`);
        perExampleCorrect.push(t.data as Uint8Array);
      }
    }
    trainState = { epochsDone: ts.epochsDone, rng: ts.rng, history: ts.history, optimizer, perExampleCorrect };
  }
  return { weights, trainState, meta };
}

/** Sets every parameter and buffer of the model from the checkpoint (all must be present, shapes equal). */
export function applyCheckpoint(model: Model, ckpt: Checkpoint): void {
  const w = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const { name } of [...model.params(), ...model.buffers()]) {
    const t = ckpt.weights.get(name);
    if (!t) throw new Error(`applyCheckpoint: checkpoint has no ${name}`);
    if (t.dtype !== 'F32') throw new Error(`applyCheckpoint: ${name} has dtype ${t.dtype}, expected F32`);
    w.set(name, { shape: t.shape, data: t.data as Float32Array });
  }
  tf.tidy(() => model.setWeights(w));
}

/** Builds the model recorded in the checkpoint's meta and applies the weights. */
export function modelFromCheckpoint(ckpt: Checkpoint): Model {
  const { modelSpec, inputShape, numClasses, seed } = ckpt.meta as { modelSpec?: ModelSpec; inputShape?: number[]; numClasses?: number; seed?: number };
  if (!modelSpec || !inputShape || !numClasses) throw new Error('modelFromCheckpoint: meta lacks modelSpec/inputShape/numClasses');
  const model = buildModel(modelSpec, inputShape, numClasses, seed ?? 0);
  applyCheckpoint(model, ckpt);
  return model;
}
