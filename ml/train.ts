// Training: SGD with momentum and weight decay (PyTorch semantics), per-epoch cosine schedule, optional
// per-parameter gradient mask, per-epoch callback, exact resume, divergence detection.
import { tf } from './tf.js';
import { Rng } from './rng.js';
import type { Model, NamedVariable } from './models.js';
import type { Split } from './data/types.js';
import { batchPositions, gatherBatch } from './data/split.js';
import { crossEntropy } from './ops.js';
import { SGD_STEP, denseKernelsAvailable, sgdStepVelocityInPlace } from './kernels/dense.js';
import { DivergenceError } from './errors.js';
import { Driver } from './driver.js';

export { crossEntropy, perExampleCrossEntropy } from './ops.js';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Final lr factor of the per-epoch cosine schedule (default 0.01). */
  minLrFactor?: number;
  seed: number;
}

/** 1 = may change, 0 = must stay bit-identical. With a mask, params absent from the map are frozen. */
export type ParamMask = Map<string, Float32Array>;

export interface EpochStats {
  epoch: number;
  /** Mean training loss over the epoch's batches (weighted by batch size). */
  loss: number;
  /** Training accuracy of the epoch's forward passes (training mode). */
  accuracy: number;
  lr: number;
  seconds: number;
  samples: number;
}

export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export interface TrainState {
  /** Epochs completed; resuming runs epochs epochsDone..config.epochs-1. */
  epochsDone: number;
  /** Shuffling RNG state at the start of epoch `epochsDone`. */
  rng: number[];
  /** Momentum buffers by parameter name. */
  optimizer: Map<string, HostTensor>;
  history: EpochStats[];
  /** Per completed epoch, by split position (only when recordPerExampleCorrect). */
  perExampleCorrect?: Uint8Array[];
  /** Loop state of an unlearning algorithm beyond the above (e.g. NegGrad+'s forget-batch queue); JSON. */
  extra?: Record<string, unknown>;
}

export interface BatchInfo {
  positions: Int32Array;
  ids: Int32Array;
}

export type LossFn = (logits: tf.Tensor2D, labels: tf.Tensor1D, batch: BatchInfo) => tf.Scalar;

export interface EpochInfo {
  epoch: number;
  loss: number;
  accuracy: number;
  seconds: number;
  state: TrainState;
}

export interface TrainOptions {
  mask?: ParamMask;
  loss?: LossFn;
  onEpoch?: (info: EpochInfo) => void | Promise<void>;
  resume?: TrainState;
  recordPerExampleCorrect?: boolean;
  /** BN normalises with batch statistics but does not update its running estimates. */
  freezeBnStats?: boolean;
  /** Yields, cancellation (CancelledError) and progress of the loop (ml/driver.ts); phase name 'train'. */
  driver?: Driver;
  /** Shorthands for a driver of their own when `driver` is not given. */
  signal?: AbortSignal;
  yieldEveryMs?: number;
  /** Progress phase name (default 'train'). */
  phase?: string;
}

export interface TrainResult {
  history: EpochStats[];
  perExampleCorrect?: Uint8Array[];
  state: TrainState;
}

export { DivergenceError };

/** Per-epoch cosine schedule: minLr + (lr − minLr)·(1 + cos(π·epoch/epochs))/2, minLr = minLrFactor·lr. */
export function lrAt(config: Pick<TrainConfig, 'lr' | 'epochs' | 'minLrFactor'>, epoch: number): number {
  const minLr = (config.minLrFactor ?? 0.01) * config.lr;
  return minLr + ((config.lr - minLr) * (1 + Math.cos((Math.PI * epoch) / config.epochs))) / 2;
}

function validateConfig(c: TrainConfig): void {
  const bad = (what: string): never => {
    throw new Error(`TrainConfig.${what} (got ${JSON.stringify(c)})`);
  };
  if (!Number.isInteger(c.epochs) || c.epochs < 0) bad('epochs must be an integer >= 0');
  if (!Number.isInteger(c.batchSize) || c.batchSize < 1) bad('batchSize must be an integer >= 1');
  if (!Number.isFinite(c.lr) || c.lr < 0) bad('lr must be a finite number >= 0');
  if (!Number.isFinite(c.momentum) || c.momentum < 0 || c.momentum >= 1) bad('momentum must be in [0, 1)');
  if (!Number.isFinite(c.weightDecay) || c.weightDecay < 0) bad('weightDecay must be >= 0');
  if (c.minLrFactor !== undefined && !(c.minLrFactor >= 0 && c.minLrFactor <= 1)) bad('minLrFactor must be in [0, 1]');
  if (!Number.isFinite(c.seed)) bad('seed must be a finite number');
}

/**
 * SGD with momentum and weight decay, PyTorch semantics: g = ∇ + wd·θ; v = μ·v + g; θ ← θ − lr·v.
 * With a mask m: g ← g·m and θ ← θ − lr·(v·m), so entries with m = 0 never change (bit-identical).
 */
export class Sgd {
  private readonly velocity = new Map<string, tf.Tensor>();
  private readonly maskTensors = new Map<string, tf.Tensor>();

  constructor(readonly opts: { momentum: number; weightDecay: number; mask?: ParamMask }) {}

  /** Parameters that may change under the mask (absent or all-zero entries excluded); all without a mask. */
  trainable(model: Model): NamedVariable[] {
    const mask = this.opts.mask;
    if (!mask) return model.params();
    const known = new Set(model.params().map((p) => p.name));
    for (const name of mask.keys()) {
      if (!known.has(name)) throw new Error(`mask names ${name}, which is not a trainable parameter of this model`);
    }
    return model.params().filter((p) => {
      const m = mask.get(p.name);
      if (!m) return false;
      if (m.length !== p.variable.size) {
        throw new Error(`mask for ${p.name} has ${m.length} entries, the parameter has ${p.variable.size}`);
      }
      return m.some((v) => v !== 0);
    });
  }

  private maskFor(name: string, shape: number[]): tf.Tensor | undefined {
    const m = this.opts.mask?.get(name);
    if (!m) return undefined;
    let t = this.maskTensors.get(name);
    if (!t) {
      t = tf.keep(tf.tensor(m, shape, 'float32')); // outlives the caller's tidy
      this.maskTensors.set(name, t);
    }
    return t;
  }

  /** One update of `vars` with gradients keyed by parameter name. Gradients are not disposed. */
  step(vars: NamedVariable[], grads: Record<string, tf.Tensor> | Map<string, tf.Tensor>, lr: number): void {
    const get = (n: string): tf.Tensor | undefined => (grads instanceof Map ? grads.get(n) : grads[n]);
    const { momentum, weightDecay } = this.opts;
    for (const { name, variable } of vars) {
      const grad = get(name);
      if (!grad) throw new Error(`Sgd.step: no gradient for ${name}`);
      if (this.opts.mask && !this.opts.mask.has(name)) throw new Error(`Sgd.step: ${name} is frozen by the mask`);
      const m = this.maskFor(name, variable.shape);
      const old = this.velocity.get(name);
      if (denseKernelsAvailable()) {
        // wasm: one kernel with the same arithmetic, in the same order, as the ops below (bit-identical); from the
        // second step on the momentum buffer is updated in place (θ always gets a new tensor: see the function)
        const inPlace = sgdStepVelocityInPlace(variable, grad, old, m, lr, momentum, weightDecay);
        const inputs = { theta: variable, grad, ...(old ? { velocity: old } : {}), ...(m ? { mask: m } : {}) };
        const [theta, v] = inPlace ? [inPlace] : (tf.engine().runKernel(SGD_STEP, inputs, { lr, momentum, weightDecay }) as tf.Tensor[]);
        variable.assign(theta);
        theta.dispose();
        if (v) {
          old?.dispose();
          this.velocity.set(name, tf.keep(v)); // outlives the caller's tidy
        }
        continue;
      }
      const next = tf.tidy(() => {
        let g: tf.Tensor = grad;
        if (weightDecay !== 0) g = tf.add(g, tf.mul(variable, weightDecay));
        if (m) g = tf.mul(g, m);
        const v = momentum !== 0 && old ? tf.add(tf.mul(old, momentum), g) : g;
        const upd = m ? tf.mul(v, m) : v;
        variable.assign(tf.sub(variable, tf.mul(upd, lr)));
        return momentum !== 0 ? tf.keep(v === grad ? tf.clone(v) : v) : undefined;
      });
      if (next) {
        old?.dispose();
        this.velocity.set(name, next);
      }
    }
  }

  async getState(): Promise<Map<string, HostTensor>> {
    const entries = [...this.velocity];
    const data = await Promise.all(entries.map(([, v]) => v.data()));
    const out = new Map<string, HostTensor>();
    entries.forEach(([name, v], i) => out.set(name, { shape: [...v.shape], data: Float32Array.from(data[i] as Float32Array) }));
    return out;
  }

  setState(s: Map<string, HostTensor>): void {
    for (const v of this.velocity.values()) v.dispose();
    this.velocity.clear();
    for (const [name, t] of s) this.velocity.set(name, tf.tensor(t.data, t.shape, 'float32'));
  }

  dispose(): void {
    for (const v of this.velocity.values()) v.dispose();
    for (const m of this.maskTensors.values()) m.dispose();
    this.velocity.clear();
    this.maskTensors.clear();
  }
}

/** Maps tf.variableGrads' internal variable names back to parameter names. */
function byParamName(vars: NamedVariable[], grads: tf.NamedTensorMap): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const { name, variable } of vars) {
    const g = grads[variable.name];
    if (g) out.set(name, g);
  }
  return out;
}

/**
 * Trains `model` in place on `split`. Deterministic given config.seed (shuffling) and the model's init.
 * Resuming from the TrainState of epoch k (weights restored separately, e.g. applyCheckpoint) equals the
 * uninterrupted run.
 */
export async function train(model: Model, split: Split, config: TrainConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  validateConfig(config);
  if (split.count === 0) throw new Error('train: the split is empty');
  const sgd = new Sgd({ momentum: config.momentum, weightDecay: config.weightDecay, mask: opts.mask });
  const vars = sgd.trainable(model);
  const resume = opts.resume;
  const rng = resume ? Rng.fromState(resume.rng) : new Rng(config.seed);
  if (resume) {
    if (resume.epochsDone > config.epochs) throw new Error(`resume: state has ${resume.epochsDone} epochs done, config has ${config.epochs}`);
    sgd.setState(resume.optimizer);
  }
  const history: EpochStats[] = resume ? [...resume.history] : [];
  const correctLog: Uint8Array[] | undefined = opts.recordPerExampleCorrect ? [...(resume?.perExampleCorrect ?? [])] : undefined;
  const lossFn = opts.loss ?? ((z: tf.Tensor2D, y: tf.Tensor1D) => crossEntropy(z, y));
  const driver = opts.driver ?? new Driver({ signal: opts.signal, yieldEveryMs: opts.yieldEveryMs });
  const phase = opts.phase ?? 'train';
  const updateStats = !opts.freezeBnStats;
  try {
    for (let epoch = resume?.epochsDone ?? 0; epoch < config.epochs; epoch++) {
      const t0 = performance.now();
      const lr = lrAt(config, epoch);
      const correct = correctLog ? new Uint8Array(split.count) : undefined;
      let lossSum = 0;
      let hits = 0;
      let seen = 0;
      const batches = batchPositions(split.count, config.batchSize, rng);
      driver.begin(phase, { epoch, epochs: config.epochs, steps: batches.length });
      for (let step = 0; step < batches.length; step++) {
        const positions = batches[step];
        const ids = new Int32Array(positions.length);
        for (let i = 0; i < positions.length; i++) ids[i] = split.ids[positions[i]];
        const { value, grads, predT } = tf.tidy(() => {
          const { x, y } = gatherBatch(split, positions);
          let argmax: tf.Tensor | undefined;
          const vg = tf.variableGrads(
            () => {
              const z = model.logits(x, true, { updateStats });
              argmax = tf.keep(tf.argMax(z, 1)); // variableGrads tidies its function: keep it past that
              return lossFn(z, y, { positions, ids });
            },
            vars.map((v) => v.variable),
          );
          return { value: vg.value, grads: vg.grads, predT: argmax! };
        });
        // Asynchronous reads: a GPU backend (webgpu) cannot read synchronously in Node; on wasm/cpu the data is
        // already on the host and this costs a resolved promise.
        let lossValue: number;
        let pred: Int32Array;
        try {
          const [lossData, predData] = await Promise.all([value.data(), predT.data()]);
          lossValue = lossData[0];
          pred = predData as Int32Array;
          if (Number.isFinite(lossValue)) tf.tidy(() => sgd.step(vars, byParamName(vars, grads), lr));
        } finally {
          tf.dispose([value, predT, grads]);
        }
        if (!Number.isFinite(lossValue)) throw new DivergenceError(epoch, step, lossValue);
        lossSum += lossValue * positions.length;
        seen += positions.length;
        for (let i = 0; i < positions.length; i++) {
          const ok = pred[i] === split.y[positions[i]];
          if (ok) hits++;
          if (correct && ok) correct[positions[i]] = 1;
        }
        await driver.step();
      }
      const stats: EpochStats = {
        epoch,
        loss: lossSum / seen,
        accuracy: hits / seen,
        lr,
        seconds: (performance.now() - t0) / 1000,
        samples: seen,
      };
      history.push(stats);
      if (correct) correctLog!.push(correct);
      if (opts.onEpoch) {
        const state: TrainState = {
          epochsDone: epoch + 1,
          rng: rng.getState(),
          optimizer: await sgd.getState(),
          history: [...history],
          perExampleCorrect: correctLog ? [...correctLog] : undefined,
        };
        await opts.onEpoch({ epoch, loss: stats.loss, accuracy: stats.accuracy, seconds: stats.seconds, state });
      }
    }
    const state: TrainState = {
      epochsDone: Math.max(config.epochs, resume?.epochsDone ?? 0),
      rng: rng.getState(),
      optimizer: await sgd.getState(),
      history,
      perExampleCorrect: correctLog,
    };
    return { history, perExampleCorrect: correctLog, state };
  } finally {
    sgd.dispose();
  }
}
