// The loop driver: every loop of the library that can run longer than a second (training, the unlearning
// algorithms' epochs, localization and scoring passes, evaluation, SSD's Fisher pass, CritMem, the MIA's SVM)
// reports each unit of work (a batch, a block of SMO iterations) to one Driver with `await driver.step()`.
//
// Why: tfjs runs on the main thread, so a loop that never awaits starves the event loop; nothing else runs
// until it ends, neither a heartbeat timer nor the delivery of a cancellation. The driver
// - yields to the event loop once `yieldEveryMs` of compute have passed (time-based, so the cost does not depend
//   on how long a step takes: one setImmediate per ~100 ms, a few microseconds each);
// - throws CancelledError at the next step once its AbortSignal is aborted (so a cancelled stage stops within
//   one step plus one yield interval);
// - reports progress (phase, epoch, step, ETA) to a callback at most every `progressEveryMs` and whenever a
//   phase or epoch begins.
// No Temporal here: the caller (activities/compute-ml.ts) turns progress into heartbeat details.

import { CancelledError } from './errors.js';

export interface LoopProgress {
  /** What runs: 'train', 'unlearn', 'localize', 'evaluate', 'fisher', 'critmem', 'svm', … (caller-chosen). */
  phase: string;
  /** Epoch in progress (0-based), for epoch loops. */
  epoch?: number;
  epochs?: number;
  /** Units done in this phase (in this epoch, for epoch loops). */
  step: number;
  /** Units in this phase (epoch), when known. */
  steps?: number;
  /** Seconds since the driver was created. */
  elapsedSeconds: number;
  /** Estimated seconds left in this phase (every remaining epoch included), when it can be estimated. */
  etaSeconds?: number;
}

export interface DriverOptions {
  /** Aborting it makes the next step throw CancelledError. */
  signal?: AbortSignal;
  /** Called at phase/epoch starts and at most every progressEveryMs during a phase. */
  onProgress?: (p: LoopProgress) => void;
  /** Yield to the event loop after this many ms of uninterrupted compute (default 100; 0 = every step). */
  yieldEveryMs?: number;
  /** Minimum ms between two progress reports inside a phase (default 1000). */
  progressEveryMs?: number;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Phase {
  name: string;
  epoch?: number;
  epochs?: number;
  steps?: number;
  step: number;
  /** For the ETA: units and compute time of this phase over all its epochs so far. */
  unitsTotal: number;
  startedAt: number;
}

export class Driver {
  readonly signal?: AbortSignal;
  private readonly onProgress?: (p: LoopProgress) => void;
  private readonly yieldEveryMs: number;
  private readonly progressEveryMs: number;
  private readonly createdAt = performance.now();
  private lastYield = performance.now();
  private lastReport = -Infinity;
  private current: Phase = { name: 'idle', step: 0, unitsTotal: 0, startedAt: performance.now() };
  /** Yields so far (tests and benchmarks read it). */
  yields = 0;

  constructor(opts: DriverOptions = {}) {
    this.signal = opts.signal;
    this.onProgress = opts.onProgress;
    this.yieldEveryMs = opts.yieldEveryMs ?? 100;
    this.progressEveryMs = opts.progressEveryMs ?? 1000;
    if (!(this.yieldEveryMs >= 0)) throw new Error(`Driver: yieldEveryMs must be >= 0 (got ${opts.yieldEveryMs})`);
  }

  get cancelled(): boolean {
    return this.signal?.aborted ?? false;
  }

  throwIfCancelled(): void {
    if (this.signal?.aborted) throw new CancelledError(this.signal.reason);
  }

  /**
   * Starts a phase, or the next epoch of the same phase (same name and a larger epoch: the ETA keeps learning
   * from earlier epochs). Checks cancellation and reports progress.
   */
  begin(phase: string, info: { steps?: number; epoch?: number; epochs?: number } = {}): void {
    this.throwIfCancelled();
    const now = performance.now();
    const sameLoop = this.current.name === phase && info.epoch !== undefined && this.current.epoch !== undefined && info.epoch > this.current.epoch;
    this.current = {
      name: phase,
      epoch: info.epoch,
      epochs: info.epochs,
      steps: info.steps,
      step: 0,
      unitsTotal: sameLoop ? this.current.unitsTotal : 0,
      startedAt: sameLoop ? this.current.startedAt : now,
    };
    this.report(now);
  }

  /** Sets the unit count of the current phase/epoch once it is known (e.g. an SVM's iteration cap). */
  expect(steps: number): void {
    this.current.steps = steps;
  }

  /**
   * One unit of work done: throws CancelledError when aborted, yields to the event loop once yieldEveryMs of
   * compute have passed, reports progress at most every progressEveryMs.
   */
  async step(units = 1): Promise<void> {
    this.current.step += units;
    this.current.unitsTotal += units;
    this.throwIfCancelled();
    const now = performance.now();
    if (now - this.lastReport >= this.progressEveryMs) this.report(now);
    if (now - this.lastYield >= this.yieldEveryMs) {
      await yieldToEventLoop();
      this.yields++;
      this.lastYield = performance.now();
      this.throwIfCancelled(); // the yield is where a cancellation gets delivered
    }
  }

  /** Lets the event loop run now (e.g. after a long synchronous call that is not a loop of ours). */
  async pause(): Promise<void> {
    await yieldToEventLoop();
    this.yields++;
    this.lastYield = performance.now();
    this.throwIfCancelled();
  }

  progress(now = performance.now()): LoopProgress {
    const c = this.current;
    const p: LoopProgress = { phase: c.name, step: c.step, elapsedSeconds: (now - this.createdAt) / 1000 };
    if (c.epoch !== undefined) p.epoch = c.epoch;
    if (c.epochs !== undefined) p.epochs = c.epochs;
    if (c.steps !== undefined) p.steps = c.steps;
    if (c.steps !== undefined && c.unitsTotal > 0) {
      const perUnit = (now - c.startedAt) / 1000 / c.unitsTotal;
      const laterEpochs = c.epoch !== undefined && c.epochs !== undefined ? Math.max(0, c.epochs - c.epoch - 1) : 0;
      p.etaSeconds = perUnit * (Math.max(0, c.steps - c.step) + laterEpochs * c.steps);
    }
    return p;
  }

  private report(now: number): void {
    this.lastReport = now;
    this.onProgress?.(this.progress(now));
  }
}

/** The driver a function uses when its caller passed none: yields, never cancelled, reports nowhere. */
export function driverOrDefault(d: Driver | undefined): Driver {
  return d ?? new Driver();
}
