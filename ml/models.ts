// Models as plain functional code over named tf.Variables: stable readable parameter names, explicit BN
// running statistics, deterministic JS-side initialization (identical on every backend), fast gradients.
import { tf } from './tf.js';
import { Rng } from './rng.js';
import { batchNormTrain, batchNormInfer, biasAct, dense as denseOp, layerNorm, gelu, relu } from './ops.js';
import { denseKernelsAvailable } from './kernels/dense.js';
import { InvalidInputError } from './errors.js';

export type ModelSpec =
  | { arch: 'mlp'; hidden: number[] }
  /** conv3x3(same)+ReLU+maxpool2 per entry of channels (default [16, 32]), then dense (default 64)+ReLU, head. */
  | { arch: 'cnn'; channels?: number[]; dense?: number }
  /** CIFAR ResNet: conv3x3/1 stem + BN + ReLU (no max-pool), BasicBlocks, stage widths width·2^s, stride 2 from stage 2. */
  | { arch: 'resnet'; width: number; blocksPerStage: number[] }
  /** Pre-LN ViT with a class token and learned position embeddings; head on the class token. */
  | { arch: 'vit'; patch: number; dim: number; depth: number; heads: number; mlpDim: number };

export const RESNET18: ModelSpec = { arch: 'resnet', width: 64, blocksPerStage: [2, 2, 2, 2] };

export interface NamedVariable {
  name: string;
  variable: tf.Variable;
}

export interface Model {
  spec: ModelSpec;
  inputShape: number[];
  numClasses: number;
  seed: number;
  /** Trainable parameters, forward order, stable names. */
  params(): NamedVariable[];
  /** Non-trainable state: BN running statistics ('<bn>/moving_mean', '<bn>/moving_variance'). */
  buffers(): NamedVariable[];
  headParamNames: string[];
  /**
   * Forward pass. training=true: BN normalises with batch statistics and (unless updateStats=false) updates
   * its running statistics; training=false: running statistics, no state change.
   */
  logits(x: tf.Tensor, training: boolean, opts?: { updateStats?: boolean }): tf.Tensor2D;
  /** A fresh initialization of every trainable parameter with its layer's default initializer. Caller disposes. */
  freshInit(seed: number): Map<string, tf.Tensor>;
  /** Copies of all parameters and buffers. Caller disposes. */
  getWeights(): Map<string, tf.Tensor>;
  /** Assigns the given entries (a subset is allowed); unknown names or shape mismatches throw. */
  setWeights(w: Map<string, tf.Tensor | { shape: number[]; data: Float32Array }>): void;
  /** Number of trainable scalars. */
  numParams(): number;
  dispose(): void;
}

type Init = (rng: Rng, shape: number[]) => Float32Array;

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** PyTorch's default for Conv/Linear weights and biases: U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
const uniformFanIn =
  (fanIn: number): Init =>
  (rng, shape) => {
    const b = 1 / Math.sqrt(fanIn);
    const out = new Float32Array(size(shape));
    for (let i = 0; i < out.length; i++) out[i] = (rng.next() * 2 - 1) * b;
    return out;
  };
/** Kaiming normal, fan_out, ReLU gain (torchvision ResNet convs). */
const heNormalFanOut =
  (fanOut: number): Init =>
  (rng, shape) => {
    const std = Math.sqrt(2 / fanOut);
    const out = new Float32Array(size(shape));
    for (let i = 0; i < out.length; i++) out[i] = rng.normal() * std;
    return out;
  };
/** Truncated normal (±2σ), ViT default σ = 0.02. */
const truncNormal =
  (std: number): Init =>
  (rng, shape) => {
    const out = new Float32Array(size(shape));
    for (let i = 0; i < out.length; i++) {
      let v: number;
      do v = rng.normal();
      while (v < -2 || v > 2);
      out[i] = v * std;
    }
    return out;
  };
const constant =
  (c: number): Init =>
  (_rng, shape) =>
    new Float32Array(size(shape)).fill(c);

interface ParamDef {
  name: string;
  shape: number[];
  init: Init;
  trainable: boolean;
  variable: tf.Variable;
}

let variableCounter = 0;

class ParamStore {
  readonly defs: ParamDef[] = [];
  private readonly byName = new Map<string, ParamDef>();
  constructor(private readonly seed: number) {}

  add(name: string, shape: number[], init: Init, trainable = true): tf.Variable {
    if (this.byName.has(name)) throw new Error(`duplicate parameter name ${name}`);
    const data = init(new Rng(this.seed).fork(name), shape);
    const initial = tf.tensor(data, shape, 'float32');
    const variable = tf.variable(initial, trainable, `${name}#${variableCounter++}`);
    initial.dispose();
    const def = { name, shape, init, trainable, variable };
    this.defs.push(def);
    this.byName.set(name, def);
    return variable;
  }

  get(name: string): ParamDef | undefined {
    return this.byName.get(name);
  }
}

interface Dense {
  kernel: tf.Variable;
  bias?: tf.Variable;
}
function dense(ps: ParamStore, name: string, inDim: number, outDim: number, kind: 'torch' | 'vit' = 'torch', bias = true): Dense {
  const kInit = kind === 'vit' ? truncNormal(0.02) : uniformFanIn(inDim);
  const bInit = kind === 'vit' ? constant(0) : uniformFanIn(inDim);
  return {
    kernel: ps.add(`${name}/kernel`, [inDim, outDim], kInit),
    bias: bias ? ps.add(`${name}/bias`, [outDim], bInit) : undefined,
  };
}
function applyDense(d: Dense, x: tf.Tensor2D, activation?: 'relu'): tf.Tensor2D {
  // wasm: one kernel (our GEMM + bias/activation) and one tape node (tfjs unfuses its fused op under gradient recording)
  if (d.bias && denseKernelsAvailable()) return denseOp(x, d.kernel as tf.Tensor2D, d.bias as tf.Tensor1D, activation ?? 'linear');
  return tf.fused.matMul({ a: x, b: d.kernel as tf.Tensor2D, bias: d.bias, activation: activation ?? 'linear' }) as tf.Tensor2D;
}

interface Conv {
  kernel: tf.Variable;
  bias?: tf.Variable;
  stride: number;
  pad: 'same' | 'valid';
}
function conv(
  ps: ParamStore,
  name: string,
  k: number,
  cin: number,
  cout: number,
  stride: number,
  opts: { bias: boolean; init: 'torch' | 'he-fan-out' | 'vit'; pad?: 'same' | 'valid' },
): Conv {
  const fanIn = k * k * cin;
  const kInit = opts.init === 'torch' ? uniformFanIn(fanIn) : opts.init === 'vit' ? truncNormal(0.02) : heNormalFanOut(k * k * cout);
  return {
    kernel: ps.add(`${name}/kernel`, [k, k, cin, cout], kInit),
    bias: opts.bias ? ps.add(`${name}/bias`, [cout], opts.init === 'vit' ? constant(0) : uniformFanIn(fanIn)) : undefined,
    stride,
    pad: opts.pad ?? 'same',
  };
}
function applyConv(c: Conv, x: tf.Tensor4D, activation?: 'relu'): tf.Tensor4D {
  // Plain conv2d when there is nothing to fuse: its gradient computes only what is needed (the fused op's
  // custom gradient always computes the input gradient too, wasted on the stem, whose input is data).
  if (!c.bias && !activation) return tf.conv2d(x, c.kernel as tf.Tensor4D, c.stride, c.pad);
  if (c.bias && denseKernelsAvailable()) return biasAct(tf.conv2d(x, c.kernel as tf.Tensor4D, c.stride, c.pad), c.bias, activation ?? 'linear');
  return tf.fused.conv2d({
    x,
    filter: c.kernel as tf.Tensor4D,
    strides: c.stride,
    pad: c.pad,
    bias: c.bias,
    activation: activation ?? 'linear',
  });
}

interface BN {
  gamma: tf.Variable;
  beta: tf.Variable;
  mean: tf.Variable;
  variance: tf.Variable;
}
function bn(ps: ParamStore, name: string, c: number): BN {
  return {
    gamma: ps.add(`${name}/gamma`, [c], constant(1)),
    beta: ps.add(`${name}/beta`, [c], constant(0)),
    mean: ps.add(`${name}/moving_mean`, [c], constant(0), false),
    variance: ps.add(`${name}/moving_variance`, [c], constant(1), false),
  };
}
const BN_MOMENTUM = 0.1;
const BN_EPS = 1e-5;
function applyBn(b: BN, x: tf.Tensor4D, training: boolean, updateStats: boolean, withRelu = false): tf.Tensor4D {
  if (!training) {
    const y = batchNormInfer(x, b.mean, b.variance, b.gamma, b.beta, BN_EPS);
    return withRelu ? tf.relu(y) : y;
  }
  const running = updateStats ? { mean: b.mean, variance: b.variance, momentum: BN_MOMENTUM } : undefined;
  return batchNormTrain(x, b.gamma, b.beta, BN_EPS, running, { relu: withRelu });
}

interface LN {
  gamma: tf.Variable;
  beta: tf.Variable;
}
function ln(ps: ParamStore, name: string, c: number): LN {
  return { gamma: ps.add(`${name}/gamma`, [c], constant(1)), beta: ps.add(`${name}/beta`, [c], constant(0)) };
}

type Forward = (x: tf.Tensor, training: boolean, updateStats: boolean) => tf.Tensor2D;

function buildMlp(ps: ParamStore, spec: Extract<ModelSpec, { arch: 'mlp' }>, inputShape: number[], numClasses: number): Forward {
  const layers: Dense[] = [];
  let d = size(inputShape);
  spec.hidden.forEach((h, i) => {
    layers.push(dense(ps, `dense${i + 1}`, d, h));
    d = h;
  });
  const head = dense(ps, 'head', d, numClasses);
  return (x) => {
    let h = x.reshape([x.shape[0], -1]) as tf.Tensor2D;
    for (const l of layers) h = applyDense(l, h, 'relu');
    return applyDense(head, h);
  };
}

function buildCnn(ps: ParamStore, spec: Extract<ModelSpec, { arch: 'cnn' }>, inputShape: number[], numClasses: number): Forward {
  if (inputShape.length !== 3) throw new Error(`cnn needs an [H, W, C] input shape, got [${inputShape}]`);
  const channels = spec.channels ?? [16, 32];
  const convs: Conv[] = [];
  let [h, w, c] = inputShape;
  channels.forEach((co, i) => {
    convs.push(conv(ps, `conv${i + 1}`, 3, c, co, 1, { bias: true, init: 'torch' }));
    c = co;
    h = Math.floor(h / 2);
    w = Math.floor(w / 2);
  });
  if (h < 1 || w < 1) throw new Error(`cnn: ${channels.length} pooling stages shrink [${inputShape}] below 1x1`);
  const fc = dense(ps, 'dense1', h * w * c, spec.dense ?? 64);
  const head = dense(ps, 'head', spec.dense ?? 64, numClasses);
  return (x) => {
    let t = x as tf.Tensor4D;
    for (const cv of convs) t = tf.maxPool(applyConv(cv, t, 'relu'), 2, 2, 'valid');
    const f = applyDense(fc, t.reshape([t.shape[0], -1]) as tf.Tensor2D, 'relu');
    return applyDense(head, f);
  };
}

function buildResnet(ps: ParamStore, spec: Extract<ModelSpec, { arch: 'resnet' }>, inputShape: number[], numClasses: number): Forward {
  if (inputShape.length !== 3) throw new Error(`resnet needs an [H, W, C] input shape, got [${inputShape}]`);
  const init = { bias: false, init: 'he-fan-out' as const };
  const stem = conv(ps, 'conv1', 3, inputShape[2], spec.width, 1, init);
  const stemBn = bn(ps, 'bn1', spec.width);
  interface Block {
    c1: Conv;
    b1: BN;
    c2: Conv;
    b2: BN;
    sc?: { c: Conv; b: BN };
  }
  const blocks: Block[] = [];
  let cin = spec.width;
  spec.blocksPerStage.forEach((n, s) => {
    const cout = spec.width * 2 ** s;
    for (let b = 0; b < n; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      const p = `layer${s + 1}.${b}`;
      const blk: Block = {
        c1: conv(ps, `${p}.conv1`, 3, cin, cout, stride, init),
        b1: bn(ps, `${p}.bn1`, cout),
        c2: conv(ps, `${p}.conv2`, 3, cout, cout, 1, init),
        b2: bn(ps, `${p}.bn2`, cout),
      };
      if (stride !== 1 || cin !== cout) {
        blk.sc = { c: conv(ps, `${p}.shortcut.conv`, 1, cin, cout, stride, init), b: bn(ps, `${p}.shortcut.bn`, cout) };
      }
      blocks.push(blk);
      cin = cout;
    }
  });
  const head = dense(ps, 'head', cin, numClasses);
  return (x, training, upd) => {
    let t: tf.Tensor4D = applyBn(stemBn, applyConv(stem, x as tf.Tensor4D), training, upd, true);
    for (const blk of blocks) {
      const o = applyBn(blk.b1, applyConv(blk.c1, t), training, upd, true);
      const o2 = applyBn(blk.b2, applyConv(blk.c2, o), training, upd);
      const sc = blk.sc ? applyBn(blk.sc.b, applyConv(blk.sc.c, t), training, upd) : t;
      t = relu(tf.add(o2, sc)) as tf.Tensor4D;
    }
    const pooled = tf.mean(t, [1, 2]) as tf.Tensor2D;
    return applyDense(head, pooled);
  };
}

function buildVit(ps: ParamStore, spec: Extract<ModelSpec, { arch: 'vit' }>, inputShape: number[], numClasses: number): Forward {
  if (inputShape.length !== 3) throw new Error(`vit needs an [H, W, C] input shape, got [${inputShape}]`);
  const [H, W, C] = inputShape;
  const { patch, dim, depth, heads, mlpDim } = spec;
  if (H % patch !== 0 || W % patch !== 0) throw new Error(`vit: input ${H}x${W} not divisible by patch ${patch}`);
  if (dim % heads !== 0) throw new Error(`vit: dim ${dim} not divisible by heads ${heads}`);
  const tokens = (H / patch) * (W / patch) + 1;
  const dh = dim / heads;
  const embed = conv(ps, 'patch_embed', patch, C, dim, patch, { bias: true, init: 'vit', pad: 'valid' });
  const cls = ps.add('cls_token', [1, 1, dim], constant(0));
  const pos = ps.add('pos_embed', [1, tokens, dim], truncNormal(0.02));
  const blocks = Array.from({ length: depth }, (_, i) => ({
    ln1: ln(ps, `blocks.${i}.ln1`, dim),
    qkv: dense(ps, `blocks.${i}.attn.qkv`, dim, 3 * dim, 'vit'),
    proj: dense(ps, `blocks.${i}.attn.proj`, dim, dim, 'vit'),
    ln2: ln(ps, `blocks.${i}.ln2`, dim),
    fc1: dense(ps, `blocks.${i}.mlp.fc1`, dim, mlpDim, 'vit'),
    fc2: dense(ps, `blocks.${i}.mlp.fc2`, mlpDim, dim, 'vit'),
  }));
  const norm = ln(ps, 'ln', dim);
  const head = dense(ps, 'head', dim, numClasses, 'vit');
  const scale = 1 / Math.sqrt(dh);
  return (x) => {
    const n = x.shape[0];
    const e = applyConv(embed, x as tf.Tensor4D).reshape([n, tokens - 1, dim]);
    let t = tf.add(tf.concat([tf.tile(cls, [n, 1, 1]), e], 1), pos) as tf.Tensor3D;
    const flat = (z: tf.Tensor): tf.Tensor2D => z.reshape([n * tokens, -1]) as tf.Tensor2D;
    for (const b of blocks) {
      const h = layerNorm(t, b.ln1.gamma, b.ln1.beta, 1e-6);
      const qkv = applyDense(b.qkv, flat(h)).reshape([n, tokens, 3, heads, dh]).transpose([2, 0, 3, 1, 4]);
      const [q, k, v] = tf.unstack(qkv, 0) as tf.Tensor4D[]; // [n, heads, tokens, dh]
      const att = tf.softmax(tf.mul(tf.matMul(q, k, false, true), scale));
      const o = tf.matMul(att, v).transpose([0, 2, 1, 3]);
      t = tf.add(t, applyDense(b.proj, flat(o)).reshape([n, tokens, dim]));
      const h2 = layerNorm(t, b.ln2.gamma, b.ln2.beta, 1e-6);
      const m = applyDense(b.fc2, gelu(applyDense(b.fc1, flat(h2))));
      t = tf.add(t, m.reshape([n, tokens, dim]));
    }
    const clsOut = tf.slice(layerNorm(t, norm.gamma, norm.beta, 1e-6), [0, 0, 0], [n, 1, dim]).reshape([n, dim]) as tf.Tensor2D;
    return applyDense(head, clsOut);
  };
}

function validate(spec: ModelSpec, inputShape: number[], numClasses: number, seed: number): void {
  if (!Array.isArray(inputShape) || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new Error(`buildModel: bad inputShape [${inputShape}]`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 2) throw new Error(`buildModel: numClasses must be an integer >= 2, got ${numClasses}`);
  if (!Number.isFinite(seed)) throw new Error(`buildModel: seed must be a finite number, got ${seed}`);
  if (spec.arch === 'resnet' && (!(spec.width >= 1) || spec.blocksPerStage.length === 0)) {
    throw new Error(`buildModel: resnet needs width >= 1 and at least one stage, got ${JSON.stringify(spec)}`);
  }
}

export function buildModel(spec: ModelSpec, inputShape: number[], numClasses: number, seed: number): Model {
  validate(spec, inputShape, numClasses, seed);
  const ps = new ParamStore(seed);
  let forward: Forward;
  switch (spec.arch) {
    case 'mlp':
      forward = buildMlp(ps, spec, inputShape, numClasses);
      break;
    case 'cnn':
      forward = buildCnn(ps, spec, inputShape, numClasses);
      break;
    case 'resnet':
      forward = buildResnet(ps, spec, inputShape, numClasses);
      break;
    case 'vit':
      forward = buildVit(ps, spec, inputShape, numClasses);
      break;
    default:
      throw new InvalidInputError(`buildModel: unknown arch ${JSON.stringify((spec as { arch: unknown }).arch)}`);
  }
  const trainable = ps.defs.filter((d) => d.trainable).map((d) => ({ name: d.name, variable: d.variable }));
  const buffers = ps.defs.filter((d) => !d.trainable).map((d) => ({ name: d.name, variable: d.variable }));
  let disposed = false;
  return {
    spec: structuredClone(spec),
    inputShape: [...inputShape],
    numClasses,
    seed,
    params: () => trainable,
    buffers: () => buffers,
    headParamNames: ps.defs.filter((d) => d.name.startsWith('head/')).map((d) => d.name),
    logits(x, training, opts = {}) {
      if (disposed) throw new Error('model was disposed');
      const expected = [x.shape[0], ...inputShape];
      if (x.shape.length !== expected.length || x.shape.some((d, i) => d !== expected[i])) {
        throw new Error(`logits: input shape [${x.shape}] does not match [batch, ${inputShape}]`);
      }
      return tf.tidy(() => forward(x, training, opts.updateStats ?? training));
    },
    freshInit(s) {
      const out = new Map<string, tf.Tensor>();
      for (const d of ps.defs) {
        if (!d.trainable) continue;
        out.set(d.name, tf.tensor(d.init(new Rng(s).fork(d.name), d.shape), d.shape, 'float32'));
      }
      return out;
    },
    getWeights() {
      const out = new Map<string, tf.Tensor>();
      for (const d of ps.defs) out.set(d.name, tf.clone(d.variable));
      return out;
    },
    setWeights(w) {
      for (const [name, v] of w) {
        const d = ps.get(name);
        if (!d) throw new Error(`setWeights: model has no parameter ${name}`);
        const shape = v instanceof tf.Tensor ? v.shape : v.shape;
        if (shape.length !== d.shape.length || shape.some((s, i) => s !== d.shape[i])) {
          throw new Error(`setWeights: ${name} has shape [${shape}], model expects [${d.shape}]`);
        }
        if (v instanceof tf.Tensor) d.variable.assign(v.dtype === 'float32' ? v : tf.cast(v, 'float32'));
        else {
          if (v.data.length !== size(d.shape)) throw new Error(`setWeights: ${name} has ${v.data.length} values, expected ${size(d.shape)}`);
          const t = tf.tensor(v.data, d.shape, 'float32');
          d.variable.assign(t);
          t.dispose();
        }
      }
    },
    numParams: () => trainable.reduce((a, p) => a + p.variable.size, 0),
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const d of ps.defs) d.variable.dispose();
    },
  };
}
