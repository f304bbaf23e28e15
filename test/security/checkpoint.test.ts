// The checkpoint reader takes bytes from S3, which anyone with access to the bucket can write: crafted files
// (overlapping, negative, gapped or out-of-range offsets, shapes that do not match their bytes, odd dtypes, optimizer
// state of the wrong dtype or shape, a meta that asks for a huge model) are refused with a clear error.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../ml/backend.js';
import { buildModel, type Model, type ModelSpec } from '../../ml/models.js';
import { CHECKPOINT_FORMAT, decodeSafetensors, encodeSafetensors, loadCheckpoint, minParams, modelFromCheckpoint, saveCheckpoint, type TensorEntry } from '../../ml/checkpoint.js';

/** A safetensors file with this header (JSON as given) and dataLen bytes of data. */
function craft(header: Record<string, unknown>, dataLen: number, hlenOverride?: bigint): Uint8Array {
  const hb = new TextEncoder().encode(JSON.stringify({ __metadata__: { format: CHECKPOINT_FORMAT, meta: '{}' }, ...header }));
  const out = new Uint8Array(8 + hb.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, hlenOverride ?? BigInt(hb.length), true);
  out.set(hb, 8);
  return out;
}
const f32 = (shape: number[], a: number, b: number) => ({ dtype: 'F32', shape, data_offsets: [a, b] });

const CRAFTED: [string, Uint8Array, RegExp][] = [
  ['overlapping offsets', craft({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, 12), /tensor b: data_offsets \[4, 12\] overlap the previous tensor/],
  ['the same bytes twice', craft({ a: f32([2], 0, 8), b: f32([2], 0, 8) }, 8), /overlap the previous tensor/],
  ['negative offsets', craft({ a: f32([2], -8, 0) }, 8), /tensor a: data_offsets \[-8,0\] are not two non-negative integers/],
  ['fractional offsets', craft({ a: f32([1], 0.5, 4.5) }, 5), /are not two non-negative integers/],
  ['a gap between tensors', craft({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, 12), /tensor b: .* leave a gap after offset 4/],
  ['bytes after the last tensor', craft({ a: f32([1], 0, 4) }, 8), /4 bytes after the last tensor \(offset 4\) belong to no tensor/],
  ['offsets past the end', craft({ a: f32([4], 0, 16) }, 8), /lie outside the 8 bytes of tensor data/],
  ['end before start', craft({ a: f32([0], 8, 4) }, 8), /end before they start/],
  ['shape larger than its bytes', craft({ a: f32([3], 0, 8), b: f32([1], 8, 12) }, 12), /hold 8 bytes, shape \[3\] of F32 needs 12/],
  ['negative shape', craft({ a: f32([-2], 0, 8) }, 8), /shape \[-2\] is not a list/],
  ['huge shape', craft({ a: f32([2 ** 40, 2 ** 40], 0, 8) }, 8), /needs more bytes than the file holds/],
  ['unsupported dtype', craft({ a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, 8), /unsupported dtype "F64"/],
  ['an extra field', craft({ a: { ...f32([1], 0, 4), evil: 1 } }, 4), /unexpected field\(s\) evil/],
  ['header length past the file', craft({ a: f32([1], 0, 4) }, 4, 1n << 60n), /header length .* exceeds file size/],
  ['metadata that is not strings', (() => {
    const hb = new TextEncoder().encode(JSON.stringify({ __metadata__: { format: 1 } }));
    const out = new Uint8Array(8 + hb.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
    out.set(hb, 8);
    return out;
  })(), /__metadata__.format is not a string/],
  ['a header that is a list', (() => {
    const hb = new TextEncoder().encode('[1,2]');
    const out = new Uint8Array(8 + hb.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
    out.set(hb, 8);
    return out;
  })(), /header is not a JSON object/],
];

let model: Model;
let state: Map<string, TensorEntry>;
before(async () => {
  await initBackend({ prefer: 'cpu' });
  model = buildModel({ arch: 'mlp', hidden: [4] }, [3], 2, 1);
  state = decodeSafetensors(await saveCheckpoint(model)).tensors;
});

/** A checkpoint of `model` whose train state lists optimizer tensors `opt` (name → entry). */
function withOptimizer(opt: Map<string, TensorEntry>, extra = new Map<string, TensorEntry>()): Uint8Array {
  const tensors = new Map(state);
  for (const [k, v] of opt) tensors.set(`optimizer/${k}`, v);
  for (const [k, v] of extra) tensors.set(k, v);
  const meta = { modelSpec: model.spec, inputShape: model.inputShape, numClasses: model.numClasses, seed: 1 };
  const trainState = { epochsDone: 1, rng: [1, 2], history: [], optimizer: [...opt.keys()], perExampleCorrectEpochs: null };
  return encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT, meta: JSON.stringify(meta), trainState: JSON.stringify(trainState) });
}

void describe('checkpoint reader', () => {
  void test('crafted offsets, shapes and dtypes are refused with a clear error', () => {
    for (const [what, bytes, why] of CRAFTED) assert.throws(() => decodeSafetensors(bytes), why, what);
  });

  void test('a checkpoint the writer made still loads, and a model comes back from it', async () => {
    const bytes = await saveCheckpoint(model, { meta: { note: 'x' } });
    const again = modelFromCheckpoint(loadCheckpoint(bytes));
    assert.deepEqual(again.params().map((p) => p.name), model.params().map((p) => p.name));
    const w = model.params()[0];
    const name = w.name;
    const shape = [...w.variable.shape];
    const okOpt = withOptimizer(new Map([[name, { dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }]]));
    assert.equal(loadCheckpoint(okOpt).trainState?.optimizer.size, 1);
  });

  void test('optimizer tensors must be F32 tensors of their parameter\'s shape, and listed', () => {
    const w = model.params()[0];
    const shape = [...w.variable.shape];
    const n = shape.reduce((a, b) => a * b, 1);
    assert.throws(() => loadCheckpoint(withOptimizer(new Map([[w.name, { dtype: 'I32', shape, data: new Int32Array(n) }]]))), new RegExp(`optimizer state for ${w.name} has dtype I32, expected F32`));
    assert.throws(() => loadCheckpoint(withOptimizer(new Map([[w.name, { dtype: 'F32', shape: [n], data: new Float32Array(n) }]]))), /optimizer state for .* has shape \[\d+\], its weight \[\d+,\d+\]/);
    assert.throws(() => loadCheckpoint(withOptimizer(new Map([['nope', { dtype: 'F32', shape: [1], data: new Float32Array(1) }]]))), /optimizer state for nope names no weight/);
    assert.throws(() => loadCheckpoint(withOptimizer(new Map(), new Map([['optimizer/stray', { dtype: 'F32', shape: [1], data: new Float32Array(1) }]]))), /optimizer\/stray is optimizer state that trainState does not list/);
    assert.throws(() => loadCheckpoint(withOptimizer(new Map(), new Map([['w_int', { dtype: 'I32', shape: [1], data: new Int32Array(1) }]]))), /weight w_int has dtype I32, expected F32/);
  });

  void test('a meta that describes a model larger than the checkpoint is refused before anything is built', () => {
    const tensors = new Map(state);
    const huge = { modelSpec: { arch: 'mlp', hidden: [1_000_000, 1_000_000] }, inputShape: [3], numClasses: 2, seed: 1 };
    const bytes = encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT, meta: JSON.stringify(huge) });
    assert.throws(() => modelFromCheckpoint(loadCheckpoint(bytes)), /meta describes a model of at least 1000005000000 parameters but the checkpoint holds \d+ weight values/);
    const bad = encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT, meta: JSON.stringify({ ...huge, modelSpec: { arch: 'mlp', hidden: [-4] } }) });
    assert.throws(() => modelFromCheckpoint(loadCheckpoint(bad)), /meta.modelSpec.hidden\[0\] is -4, expected a positive integer/);
    const garbled = encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT, meta: '{not json' });
    assert.throws(() => loadCheckpoint(garbled), /__metadata__.meta is not valid JSON/);
  });

  void test('the size bound never refuses a real model: minParams is below the actual parameter count', () => {
    const cases: [ModelSpec, number[]][] = [
      [{ arch: 'mlp', hidden: [8, 4] }, [5]],
      [{ arch: 'cnn' }, [12, 12, 3]],
      [{ arch: 'cnn', channels: [4, 8, 8], dense: 16 }, [16, 16, 1]],
      [{ arch: 'resnet', width: 4, blocksPerStage: [1, 1] }, [8, 8, 3]],
      [{ arch: 'vit', patch: 4, dim: 8, depth: 2, heads: 2, mlpDim: 16 }, [8, 8, 3]],
    ];
    for (const [spec, inputShape] of cases) {
      const m = buildModel(spec, inputShape, 3, 0);
      const actual = [...m.params(), ...m.buffers()].reduce((n, p) => n + p.variable.size, 0);
      const bound = minParams(spec, inputShape, 3);
      assert.ok(bound > 0 && bound <= actual, `${spec.arch}: bound ${bound}, actual ${actual}`);
      m.dispose();
    }
  });
});
