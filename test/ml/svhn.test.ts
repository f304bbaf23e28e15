// The SVHN loader's MAT-v5 reader on generated files (plain and zlib-compressed elements), since the
// official files cannot be downloaded here: layout (column-major → NHWC), label 10 → 0, normalization.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { loadDataset } from '../../ml/data/index.js';

function element(type: number, data: Uint8Array, pad = true): Uint8Array {
  if (pad && data.length <= 4 && data.length > 0 && type !== 14) {
    // small data element format
    const out = new Uint8Array(8);
    new DataView(out.buffer).setUint32(0, (data.length << 16) | type, true);
    out.set(data, 4);
    return out;
  }
  const len = pad ? Math.ceil(data.length / 8) * 8 : data.length;
  const out = new Uint8Array(8 + len);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, data.length, true);
  out.set(data, 8);
  return out;
}
const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
function matrix(name: string, cls: number, dims: number[], dataType: number, data: Uint8Array): Uint8Array {
  const flags = new Uint8Array(8);
  new DataView(flags.buffer).setUint32(0, cls, true);
  const body = concat([
    element(6, flags),
    element(5, new Uint8Array(Int32Array.from(dims).buffer)),
    element(1, new TextEncoder().encode(name)),
    element(dataType, data),
  ]);
  return element(14, body, false);
}
function matFile(n: number, labels: number[], compress: boolean): { bytes: Uint8Array; X: Uint8Array } {
  const header = new Uint8Array(128).fill(32);
  header.set(new TextEncoder().encode('MATLAB 5.0 MAT-file, generated for a test'), 0);
  header[124] = 0;
  header[125] = 1;
  header[126] = 'I'.charCodeAt(0);
  header[127] = 'M'.charCodeAt(0);
  const X = new Uint8Array(32 * 32 * 3 * n);
  for (let i = 0; i < X.length; i++) X[i] = (i * 7) % 251;
  const x = matrix('X', 9, [32, 32, 3, n], 2, X);
  const y = matrix('y', 6, [n, 1], 9, new Uint8Array(Float64Array.from(labels).buffer));
  const wrap = (m: Uint8Array): Uint8Array => (compress ? element(15, deflateSync(m), false) : m);
  return { bytes: concat([header, wrap(x), wrap(y)]), X };
}

void test('SVHN .mat files load as NHWC with labels 10 → 0 (plain and compressed elements)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'svhn-test-'));
  try {
    const train = matFile(3, [10, 3, 7], true);
    const testF = matFile(2, [1, 10], false);
    writeFileSync(path.join(dir, 'train_32x32.mat'), train.bytes);
    writeFileSync(path.join(dir, 'test_32x32.mat'), testF.bytes);
    const ds = await loadDataset({ name: 'svhn', path: dir });
    assert.equal(ds.train.count, 3);
    assert.equal(ds.test.count, 2);
    assert.deepEqual(Array.from(ds.train.y), [0, 3, 7]);
    assert.deepEqual(Array.from(ds.test.y), [1, 0]);
    assert.deepEqual(ds.inputShape, [32, 32, 3]);
    const mean = ds.meta.mean as number[];
    const std = ds.meta.std as number[];
    for (const [n, h, w, c] of [
      [0, 0, 0, 0],
      [1, 5, 17, 2],
      [2, 31, 30, 1],
    ]) {
      const u8 = train.X[h + 32 * w + 1024 * c + 3072 * n];
      const got = ds.train.x[n * 3072 + (h * 32 + w) * 3 + c];
      assert.ok(Math.abs(got - (u8 / 255 - mean[c]) / std[c]) < 1e-6, `pixel ${[n, h, w, c]}`);
    }
    await assert.rejects(loadDataset({ name: 'svhn', path: path.join(dir, 'missing') }), /train_32x32\.mat not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
