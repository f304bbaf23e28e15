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

/** What a reader accepts; checkpoints come from S3 and may have been written by anyone with access to the bucket. */
export const CHECKPOINT_LIMITS = {
  /** the JSON header (safetensors' own reader caps it at 100 MB) */
  maxHeaderBytes: 100_000_000,
  /** tensor data in one file */
  maxDataBytes: 4 * 1024 ** 3,
  maxTensors: 100_000,
  maxRank: 8,
  /** per-example correctness epochs kept in a train state */
  maxEpochs: 100_000,
};

const fail = (what: string): never => {
  throw new Error(`checkpoint: ${what}`);
};
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Decode safetensors bytes (F32, I32, U8 tensors), strictly: the header length fits the file; every entry has
 * exactly dtype, shape and data_offsets; shapes are non-negative integers; offsets are non-negative integers whose
 * span is exactly the shape's byte size; the tensors tile the data region (start at 0, no gap, no overlap, nothing
 * after the last); sizes stay within CHECKPOINT_LIMITS. Data is copied into fresh, aligned arrays.
 */
export function decodeSafetensors(bytes: Uint8Array): { tensors: Map<string, TensorEntry>; metadata: Record<string, string> } {
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for a safetensors file`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlenBig = dv.getBigUint64(0, true);
  if (hlenBig > BigInt(bytes.length - 8)) fail(`header length ${hlenBig} exceeds file size ${bytes.length}`);
  if (hlenBig > BigInt(CHECKPOINT_LIMITS.maxHeaderBytes)) fail(`header length ${hlenBig} exceeds the limit of ${CHECKPOINT_LIMITS.maxHeaderBytes} bytes`);
  const hlen = Number(hlenBig);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + hlen)));
  } catch (e) {
    fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(header)) fail('header is not a JSON object');
  const h = header as Record<string, unknown>;
  const base = 8 + hlen;
  const dataBytes = bytes.length - base;
  if (dataBytes > CHECKPOINT_LIMITS.maxDataBytes) fail(`${dataBytes} bytes of tensor data exceed the limit of ${CHECKPOINT_LIMITS.maxDataBytes}`);
  const metadata: Record<string, string> = {};
  if (h.__metadata__ !== undefined) {
    if (!isPlainObject(h.__metadata__)) fail('__metadata__ is not an object of strings');
    for (const [k, v] of Object.entries(h.__metadata__ as Record<string, unknown>)) {
      if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
      metadata[k] = v as string;
    }
  }
  const names = Object.keys(h).filter((k) => k !== '__metadata__');
  if (names.length > CHECKPOINT_LIMITS.maxTensors) fail(`${names.length} tensors exceed the limit of ${CHECKPOINT_LIMITS.maxTensors}`);
  const spans: { name: string; dtype: DType; shape: number[]; a: number; b: number }[] = [];
  for (const name of names) {
    if (name === '') fail('a tensor has an empty name');
    const e = h[name];
    if (!isPlainObject(e)) fail(`tensor ${name}: entry is not an object`);
    const { dtype, shape, data_offsets, ...extra } = e as Record<string, unknown>;
    if (Object.keys(extra).length > 0) fail(`tensor ${name}: unexpected field(s) ${Object.keys(extra).join(', ')}`);
    if (dtype !== 'F32' && dtype !== 'I32' && dtype !== 'U8') fail(`tensor ${name} has unsupported dtype ${JSON.stringify(dtype)} (F32, I32, U8)`);
    if (!Array.isArray(shape) || shape.length > CHECKPOINT_LIMITS.maxRank || !shape.every(isCount)) {
      fail(`tensor ${name}: shape ${JSON.stringify(shape)} is not a list of at most ${CHECKPOINT_LIMITS.maxRank} non-negative integers`);
    }
    if (!Array.isArray(data_offsets) || data_offsets.length !== 2 || !data_offsets.every(isCount)) {
      fail(`tensor ${name}: data_offsets ${JSON.stringify(data_offsets)} are not two non-negative integers`);
    }
    const [a, b] = data_offsets as [number, number];
    if (a > b) fail(`tensor ${name}: data_offsets [${a}, ${b}] end before they start`);
    if (b > dataBytes) fail(`tensor ${name}: data_offsets [${a}, ${b}] lie outside the ${dataBytes} bytes of tensor data`);
    let n = 1;
    for (const d of shape as number[]) {
      n *= d;
      if (n * BYTES[dtype as DType] > dataBytes) fail(`tensor ${name}: shape [${shape as number[]}] needs more bytes than the file holds`);
    }
    if (b - a !== n * BYTES[dtype as DType]) {
      fail(`tensor ${name}: data_offsets [${a}, ${b}] hold ${b - a} bytes, shape [${shape as number[]}] of ${dtype} needs ${n * BYTES[dtype as DType]}`);
    }
    spans.push({ name, dtype: dtype as DType, shape: shape as number[], a, b });
  }
  // The tensors must tile the data region: an overlap would alias two tensors, a gap or tail hides bytes.
  const ordered = [...spans].sort((x, y) => x.a - y.a || x.b - y.b);
  let at = 0;
  for (const t of ordered) {
    if (t.a < at) fail(`tensor ${t.name}: data_offsets [${t.a}, ${t.b}] overlap the previous tensor (which ends at ${at})`);
    if (t.a > at) fail(`tensor ${t.name}: data_offsets [${t.a}, ${t.b}] leave a gap after offset ${at}`);
    at = t.b;
  }
  if (at !== dataBytes) fail(`${dataBytes - at} bytes after the last tensor (offset ${at}) belong to no tensor`);
  const tensors = new Map<string, TensorEntry>();
  for (const { name, dtype, shape, a, b } of spans) {
    const raw = new Uint8Array(bytes.subarray(base + a, base + b)); // copy: Buffer.slice would be a view of the whole file
    const data = dtype === 'F32' ? new Float32Array(raw.buffer) : dtype === 'I32' ? new Int32Array(raw.buffer) : raw;
    tensors.set(name, { dtype, shape, data });
  }
  return { tensors, metadata };
}

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
      ...(ts.extra ? { extra: ts.extra } : {}),
    });
  }
  return encodeSafetensors(tensors, metadata);
}

function parseJsonField(metadata: Record<string, string>, key: string): unknown {
  try {
    return JSON.parse(metadata[key]);
  } catch (e) {
    return fail(`__metadata__.${key} is not valid JSON: ${(e as Error).message}`);
  }
}

const sameShape = (x: number[], y: number[]) => x.length === y.length && x.every((d, i) => d === y[i]);

export function loadCheckpoint(bytes: Uint8Array): Checkpoint {
  const { tensors, metadata } = decodeSafetensors(bytes);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    fail(`__metadata__.format is ${JSON.stringify(metadata.format)}, expected ${CHECKPOINT_FORMAT}`);
  }
  const meta = metadata.meta === undefined ? {} : parseJsonField(metadata, 'meta');
  if (!isPlainObject(meta)) fail('__metadata__.meta is not a JSON object');
  const weights = new Map<string, TensorEntry>();
  for (const [name, t] of tensors) if (!name.startsWith(OPT_PREFIX) && !name.startsWith(CORRECT_PREFIX)) weights.set(name, t);
  for (const [name, t] of weights) if (t.dtype !== 'F32') fail(`weight ${name} has dtype ${t.dtype}, expected F32`);
  let trainState: TrainState | undefined;
  const listedOptimizer = new Set<string>();
  let correctEpochs = 0;
  if (metadata.trainState) {
    const ts = parseJsonField(metadata, 'trainState');
    if (!isPlainObject(ts)) fail('__metadata__.trainState is not a JSON object');
    const { epochsDone, rng, history, optimizer: optNames, perExampleCorrectEpochs, extra } = ts as Record<string, unknown>;
    if (!isCount(epochsDone)) fail(`trainState.epochsDone ${JSON.stringify(epochsDone)} is not a non-negative integer`);
    if (!Array.isArray(rng) || !rng.every((v) => typeof v === 'number' && Number.isFinite(v))) fail('trainState.rng is not a list of numbers');
    if (!Array.isArray(history) || !history.every(isPlainObject)) fail('trainState.history is not a list of objects');
    if (!Array.isArray(optNames) || !optNames.every((v) => typeof v === 'string')) fail('trainState.optimizer is not a list of names');
    if (perExampleCorrectEpochs !== null && !(isCount(perExampleCorrectEpochs) && perExampleCorrectEpochs <= CHECKPOINT_LIMITS.maxEpochs)) {
      fail(`trainState.perExampleCorrectEpochs ${JSON.stringify(perExampleCorrectEpochs)} is not null or an integer in [0, ${CHECKPOINT_LIMITS.maxEpochs}]`);
    }
    if (extra !== undefined && !isPlainObject(extra)) fail('trainState.extra is not a JSON object');
    const optimizer = new Map<string, HostTensor>();
    for (const name of optNames as string[]) {
      const t = tensors.get(OPT_PREFIX + name);
      if (!t) fail(`optimizer state for ${name} is listed but missing`);
      // optimizer state is one float tensor per parameter, of the parameter's shape
      if (t!.dtype !== 'F32') fail(`optimizer state for ${name} has dtype ${t!.dtype}, expected F32`);
      const w = weights.get(name);
      if (!w) fail(`optimizer state for ${name} names no weight of the checkpoint`);
      if (!sameShape(t!.shape, w!.shape)) fail(`optimizer state for ${name} has shape [${t!.shape}], its weight [${w!.shape}]`);
      optimizer.set(name, { shape: t!.shape, data: t!.data as Float32Array });
      listedOptimizer.add(OPT_PREFIX + name);
    }
    let perExampleCorrect: Uint8Array[] | undefined;
    if (perExampleCorrectEpochs !== null) {
      perExampleCorrect = [];
      correctEpochs = perExampleCorrectEpochs as number;
      for (let i = 0; i < correctEpochs; i++) {
        const t = tensors.get(`${CORRECT_PREFIX}${i}`);
        if (!t) fail(`per-example correctness of epoch ${i} is missing`);
        if (t!.dtype !== 'U8' || t!.shape.length !== 1) fail(`per-example correctness of epoch ${i} is ${t!.dtype} [${t!.shape}], expected a U8 vector`);
        if (i > 0 && t!.shape[0] !== perExampleCorrect[0].length) fail(`per-example correctness of epoch ${i} has ${t!.shape[0]} entries, epoch 0 has ${perExampleCorrect[0].length}`);
        perExampleCorrect.push(t!.data as Uint8Array);
      }
    }
    trainState = { epochsDone: epochsDone as number, rng: rng as number[], history: history as unknown as EpochStats[], optimizer, perExampleCorrect, ...(extra ? { extra: extra as Record<string, unknown> } : {}) };
  }
  for (const name of tensors.keys()) {
    if (name.startsWith(OPT_PREFIX) && !listedOptimizer.has(name)) fail(`tensor ${name} is optimizer state that trainState does not list`);
    if (name.startsWith(CORRECT_PREFIX) && !(Number(name.slice(CORRECT_PREFIX.length)) < correctEpochs && `${CORRECT_PREFIX}${Number(name.slice(CORRECT_PREFIX.length))}` === name)) {
      fail(`tensor ${name} is per-example correctness that trainState does not list`);
    }
  }
  return { weights, trainState, meta: meta as Record<string, unknown> };
}

/** Sets every parameter and buffer of the model from the checkpoint (all must be present, shapes equal). */
export function applyCheckpoint(model: Model, ckpt: Checkpoint): void {
  const w = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const { name, variable } of [...model.params(), ...model.buffers()]) {
    const t = ckpt.weights.get(name);
    if (!t) throw new Error(`applyCheckpoint: checkpoint has no ${name}`);
    if (t.dtype !== 'F32') throw new Error(`applyCheckpoint: ${name} has dtype ${t.dtype}, expected F32`);
    const want = variable.shape;
    if (!sameShape(t.shape, want)) throw new Error(`applyCheckpoint: ${name} has shape [${t.shape}], the model expects [${want}]`);
    w.set(name, { shape: t.shape, data: t.data as Float32Array });
  }
  tf.tidy(() => model.setWeights(w));
}

/**
 * A lower bound of the parameter count of the model a spec describes (its largest weight matrices only). A checkpoint
 * must hold every parameter, so a spec whose bound exceeds the checkpoint's values is refused before anything is
 * allocated: the model a checkpoint makes is never larger than the checkpoint.
 */
export function minParams(spec: ModelSpec, inputShape: number[], numClasses: number): number {
  const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);
  const [h, w] = inputShape.length === 3 ? inputShape : [0, 0];
  switch (spec.arch) {
    case 'mlp': {
      const dims = [prod(inputShape), ...spec.hidden, numClasses];
      let n = 0;
      for (let i = 1; i < dims.length; i++) n += dims[i - 1] * dims[i];
      return n;
    }
    case 'cnn': {
      const ch = spec.channels ?? [16, 32];
      const dense = spec.dense ?? 64;
      let n = dense * numClasses;
      for (let i = 1; i < ch.length; i++) n += 9 * ch[i - 1] * ch[i];
      const pooled = Math.floor(h / 2 ** ch.length) * Math.floor(w / 2 ** ch.length);
      return n + pooled * (ch[ch.length - 1] ?? 0) * dense;
    }
    case 'resnet':
      return spec.blocksPerStage.reduce((n, blocks, s) => n + blocks * 9 * (spec.width * 2 ** s) ** 2, 0);
    case 'vit': {
      const tokens = Math.floor(h / spec.patch) * Math.floor(w / spec.patch);
      return spec.depth * 2 * spec.dim * spec.mlpDim + tokens * spec.dim;
    }
    default:
      return 0;
  }
}

/** Numbers in a model spec (widths, depths, patch sizes) must be positive integers; lists short. */
function checkSpecNumbers(v: unknown, path: string): void {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 1) fail(`meta.${path} is ${v}, expected a positive integer`);
  } else if (Array.isArray(v)) {
    if (v.length > 256) fail(`meta.${path} has ${v.length} entries (at most 256)`);
    v.forEach((x, i) => checkSpecNumbers(x, `${path}[${i}]`));
  } else if (isPlainObject(v)) {
    for (const [k, x] of Object.entries(v)) checkSpecNumbers(x, `${path}.${k}`);
  } else if (typeof v !== 'string') {
    fail(`meta.${path} has an unexpected value ${JSON.stringify(v)}`);
  }
}

/** Builds the model recorded in the checkpoint's meta and applies the weights. */
export function modelFromCheckpoint(ckpt: Checkpoint): Model {
  const { modelSpec, inputShape, numClasses, seed } = ckpt.meta as { modelSpec?: ModelSpec; inputShape?: number[]; numClasses?: number; seed?: number };
  if (!modelSpec || !inputShape || !numClasses) throw new Error('modelFromCheckpoint: meta lacks modelSpec/inputShape/numClasses');
  if (!isPlainObject(modelSpec)) fail('meta.modelSpec is not an object');
  checkSpecNumbers(modelSpec, 'modelSpec');
  if (!Array.isArray(inputShape) || inputShape.length > CHECKPOINT_LIMITS.maxRank || !inputShape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    fail(`meta.inputShape ${JSON.stringify(inputShape)} is not a list of positive integers`);
  }
  if (!Number.isSafeInteger(numClasses) || numClasses < 2) fail(`meta.numClasses ${JSON.stringify(numClasses)} is not an integer >= 2`);
  let values = 0;
  for (const t of ckpt.weights.values()) values += t.data.length;
  const need = minParams(modelSpec, inputShape, numClasses);
  if (!(need <= values)) fail(`meta describes a model of at least ${need} parameters but the checkpoint holds ${values} weight values`);
  const model = buildModel(modelSpec, inputShape, numClasses, seed ?? 0);
  applyCheckpoint(model, ckpt);
  return model;
}
