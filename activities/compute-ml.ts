// The real compute: stage kinds mapped onto the ml/ library (tfjs). Pure adapters: bytes in, bytes out.
import { initBackend } from '../ml/backend.js';
import { adapterLine } from '../ml/webgpu.js';
import { loadDataset, subsetByIds, complementIds, type Dataset, type DatasetSpec } from '../ml/data/index.js';
import { buildModel, type ModelSpec } from '../ml/models.js';
import { unlearn } from '../ml/unlearn/index.js';
import { getAlgorithm } from '../ml/unlearn/registry.js';
import { train, type TrainConfig, type TrainState } from '../ml/train.js';
import { saveCheckpoint, loadCheckpoint, applyCheckpoint, modelFromCheckpoint, type Checkpoint } from '../ml/checkpoint.js';
import { memorizationFromLearningSpeed, selectForgetSet, type ForgetSetSpec } from '../ml/unlearn/forget-sets.js';
import { localize, STRATEGIES, type Strategy } from '../ml/unlearn/localize.js';
import { measureModel } from '../ml/unlearn/metrics.js';
import { logitScaledConfidence } from '../ml/unlearn/neurips.js';
import { predictLogits } from '../ml/eval.js';
import { protocolScore } from './protocol.js';
import type { Mask } from '../ml/unlearn/select.js';
import { Driver } from '../ml/driver.js';
import type { DatasetRef, ModelRef, RecipeRef, StageSpec, TrainParams } from '../sweep/stages.js';
import type { MlConfig } from '../config/index.js';
import { bytesJson, jsonBytes, InvalidConfigError, type Compute, type EvaluationOutput, type StageContext, type StageOutput } from './compute.js';


const datasets = new Map<string, Promise<Dataset>>();
/** Where a worker keeps data (config/index.ts MlConfig): never sweep fields. */
export interface DataPlaces { dataDir: string; svhnDir?: string }

/** Datasets are loaded once per worker process (they are deterministic given the spec). */
export function datasetFor(p: DatasetRef, places: DataPlaces): Promise<Dataset> {
  // params first: the checked fields win; places on disk are worker settings, never sweep fields
  const { path: _path, cacheDir: _cacheDir, ...params } = p.params;
  const spec = { ...params, name: p.id, perClass: p.subset?.perClass, testPerClass: p.subset?.testPerClass, seed: p.subset?.seed ?? 0 } as DatasetSpec;
  spec.cacheDir = places.dataDir;
  if (p.id === 'svhn') (spec as { path?: string }).path = places.svhnDir;
  const k = JSON.stringify(spec);
  let d = datasets.get(k);
  if (!d) {
    d = loadDataset(spec);
    d.catch(() => datasets.delete(k));
    datasets.set(k, d);
  }
  return d;
}

const modelSpec = (m: ModelRef) => ({ ...m.params, arch: m.id }) as ModelSpec;

function trainConfig(r: RecipeRef, seed: number): TrainConfig {
  if (r.optimizer !== 'sgd') throw new InvalidConfigError(`recipe ${r.name}: optimizer "${r.optimizer}" is not supported by ml/train (sgd only)`);
  return { epochs: r.epochs, batchSize: r.batchSize, lr: r.lr, momentum: r.momentum, weightDecay: r.weightDecay, minLrFactor: r.schedule === 'constant' ? 1 : 0.01, seed };
}

function forgetIds(bytes: Uint8Array): Int32Array {
  return Int32Array.from(bytesJson<{ ids: number[] }>(bytes).ids);
}

export function maskToBytes(mask: Mask): Uint8Array {
  const obj: Record<string, string> = {};
  for (const [name, m] of mask) obj[name] = Buffer.from(m.buffer, m.byteOffset, m.byteLength).toString('base64');
  return jsonBytes({ format: 'unlearn-mask/1', mask: obj });
}
export function maskFromBytes(bytes: Uint8Array): Mask {
  const { mask } = bytesJson<{ mask: Record<string, string> }>(bytes);
  return new Map(Object.entries(mask).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]));
}

/** Every loop of a stage runs under one driver: yields for the heartbeat ticker, the activity's cancellation
 *  signal, progress into the heartbeat details. */
function driverFor(ctx: StageContext): Driver {
  return new Driver({ signal: ctx.signal, onProgress: (p) => ctx.progress(p) });
}

/** The epoch checkpoint a retried attempt continues from (heartbeat details, else the newest saved epoch). */
async function resumeCheckpoint(ctx: StageContext): Promise<(Checkpoint & { trainState: TrainState }) | undefined> {
  const saved = await ctx.resume();
  if (!saved) return undefined;
  const ckpt = loadCheckpoint(saved.bytes);
  if (!ckpt.trainState) return undefined;
  ctx.log(`resuming from epoch ${ckpt.trainState.epochsDone} (${saved.point.checkpointKey})`);
  return ckpt as Checkpoint & { trainState: TrainState };
}

/** Trains with an epoch checkpoint + heartbeat after each epoch; resumes from the last saved epoch. */
async function trainStage(ctx: StageContext, split: Dataset['train'], ds: Dataset, p: TrainParams, keepHistory = false): Promise<StageOutput> {
  const model = buildModel(modelSpec(p.model), ds.inputShape, ds.numClasses, p.seed);
  try {
    const cfg = trainConfig(p.recipe, p.seed);
    const ckpt = await resumeCheckpoint(ctx);
    if (ckpt) applyCheckpoint(model, ckpt);
    const resume = ckpt?.trainState;
    const resumedFromEpoch = resume?.epochsDone ?? 0;
    const t0 = Date.now();
    const result = await train(model, split, cfg, {
      resume,
      driver: driverFor(ctx),
      // the original's per-example correctness per epoch: the learning-speed memorization proxy
      recordPerExampleCorrect: keepHistory,
      onEpoch: async ({ state, loss, accuracy, seconds }) => {
        await ctx.curve([
          { epoch: state.epochsDone, name: 'train_loss', value: loss },
          { epoch: state.epochsDone, name: 'train_accuracy', value: accuracy },
          { epoch: state.epochsDone, name: 'epoch_seconds', value: seconds },
        ]);
        if (state.epochsDone < cfg.epochs) await ctx.saveEpoch(state.epochsDone, await saveCheckpoint(model, { trainState: state }));
        ctx.heartbeat();
      },
    });
    const trainSeconds = (Date.now() - t0) / 1000;
    const meta = { stage: ctx.stage.key, kind: ctx.stage.kind, recipe: p.recipe.name, seed: p.seed, examples: split.count };
    // the history without the momentum buffers (nobody resumes a finished stage; they would double the artifact)
    const bytes = await saveCheckpoint(model, keepHistory ? { meta, trainState: { ...result.state, optimizer: new Map() } } : { meta });
    return { bytes, meta: { epochs: cfg.epochs, trainSeconds, examples: split.count, finalLoss: result.history.at(-1)?.loss ?? null }, resumedFromEpoch };
  } finally {
    model.dispose();
  }
}

async function run(ctx: StageContext, opts: MlConfig): Promise<StageOutput> {
  const s = ctx.stage;
  if (s.kind === 'record') throw new InvalidConfigError(`stage kind record runs in the activity, not in a compute (${s.key})`);
  if (s.kind === 'protocol.score') return protocolScore(ctx, s); // reads only its inputs' JSON, no data set
  const ds = await datasetFor(s.params.dataset, opts);
  switch (s.kind) {
    case 'forgetset.select': {
      const p = s.params;
      const spec = { ...p.params, kind: p.kind, seed: p.seed, ...(p.fraction !== null ? { fraction: p.fraction } : {}), ...(p.count !== null ? { count: p.count } : {}), ...(p.classes ? { classes: p.classes } : {}) } as ForgetSetSpec;
      let memorization: Float32Array | undefined;
      if (p.kind === 'memorization') {
        // learning-speed proxy from the original model's training history (1 − mean correctness over epochs)
        const history = loadCheckpoint(await ctx.input('original')).trainState?.perExampleCorrect;
        if (!history?.length) throw new InvalidConfigError('forget set (memorization): the original checkpoint carries no per-example training history');
        memorization = memorizationFromLearningSpeed(history);
      }
      // a spec the data cannot supply throws the library's InvalidInputError (non-retryable)
      const fs = selectForgetSet(spec, { labels: ds.train.y, ids: ds.train.ids, memorization });
      return { bytes: jsonBytes({ ids: Array.from(fs.ids), params: fs.params, trainCount: ds.train.count }), meta: { count: fs.ids.length, trainCount: ds.train.count } };
    }
    case 'train.original':
      return trainStage(ctx, ds.train, ds, s.params, true);
    case 'train.oracle': {
      const ids = forgetIds(await ctx.input('forgetSet'));
      const retain = subsetByIds(ds.train, complementIds(ds.train, ids));
      return trainStage(ctx, retain, ds, s.params);
    }
    case 'localize': {
      const p = s.params;
      if (!STRATEGIES.includes(p.strategy as Strategy)) throw new InvalidConfigError(`unknown localization strategy "${p.strategy}" (known: ${STRATEGIES.join(', ')})`);
      const model = modelFromCheckpoint(loadCheckpoint(await ctx.input('original')));
      try {
        const forget = subsetByIds(ds.train, forgetIds(await ctx.input('forgetSet')));
        const r = await localize({ model, forget, train: ds.train }, { strategy: p.strategy as Strategy, alpha: p.alpha, seed: p.seed, channelAggregate: p.channelAggregate, driver: driverFor(ctx) });
        return { bytes: maskToBytes(r.mask), meta: { selected: r.selected, total: r.total, seconds: r.seconds, channelAggregate: r.params.channelAggregate ?? null } };
      } finally {
        model.dispose();
      }
    }
    case 'unlearn': {
      const model = modelFromCheckpoint(loadCheckpoint(await ctx.input('original')));
      const ids = forgetIds(await ctx.input('forgetSet'));
      const p = s.params;
      const mask = s.inputs.mask ? maskFromBytes(await ctx.input('mask')) : undefined;
      const algo = getAlgorithm(p.algorithm); // UnknownAlgorithmError: non-retryable
      const localization = mask
        ? { ...(algo.defaultLocalization ?? { reset: false, headTrainable: true }), strategy: p.maskStrategy ?? algo.defaultLocalization?.strategy ?? 'wg-channel', alpha: p.maskAlpha ?? 0, mask }
        : undefined;
      let r;
      try {
        // Like training stages: a checkpoint after every epoch but the last; a retried attempt continues from it.
        const resume = await resumeCheckpoint(ctx);
        r = await unlearn({
          model, data: { train: ds.train, test: ds.test }, forgetIds: ids, algorithm: p.algorithm, hparams: p.hparams, seed: p.seed,
          localization: localization as any, evaluate: false, driver: driverFor(ctx), resume,
          onEpoch: async (e) => {
            await ctx.curve([{ epoch: e.epoch, name: 'unlearn_loss', value: e.loss }]);
            if (e.state.epochsDone < e.epochs) await ctx.saveEpoch(e.state.epochsDone, await saveCheckpoint(e.model, { trainState: e.state }));
            ctx.heartbeat();
          },
        });
      } finally {
        model.dispose();
      }
      try {
        const bytes = await saveCheckpoint(r.model, { meta: { stage: s.key, algorithm: p.algorithm, hparams: r.hparams, seed: p.seed, localization: r.localization ?? null } });
        return { bytes, meta: { epochs: r.cost.epochs, paramsChangedFraction: r.cost.fractionChanged, unlearnSeconds: r.cost.seconds, localizeSeconds: r.cost.localizeSeconds }, resumedFromEpoch: r.resumedFromEpoch };
      } finally {
        r.model.dispose();
      }
    }
    case 'evaluate': {
      const model = modelFromCheckpoint(loadCheckpoint(await ctx.input('model')));
      try {
        const ids = forgetIds(await ctx.input('forgetSet'));
        const forget = subsetByIds(ds.train, ids);
        const retain = subsetByIds(ds.train, complementIds(ds.train, ids));
        const p = s.params;
        const driver = driverFor(ctx);
        const ev = await measureModel(model, { forget, retain, test: ds.test }, { batchSize: p.evaluation.batchSize, driver });
        const m = ev.metrics;
        const out: EvaluationOutput = {
          metrics: [
            { split: 'forget', name: 'accuracy', value: m.forgetAcc },
            { split: 'retain', name: 'accuracy', value: m.retainAcc },
            { split: 'test', name: 'accuracy', value: m.testAcc },
            { split: 'forget', name: 'loss', value: m.forgetLoss },
            { split: 'test', name: 'loss', value: m.testLoss },
            { split: 'forget', name: 'mia_efficacy', value: m.mia },
          ],
          counts: { train: ds.train.count, forget: forget.count, retain: retain.count, test: ds.test.count },
        };
        if (p.evaluation.perExample !== false || p.evaluation.logitConfidence) {
          const pe = ev.forget.perExample;
          out.forget = { ids: Array.from(pe.ids), trueProb: Array.from(pe.trueProb), loss: Array.from(pe.loss), correct: Array.from(pe.pred, (v, i) => v === forget.y[i]) };
          // the protocol's attacks need log p − log(1 − p) from the logits (a float32 probability saturates at 1)
          if (p.evaluation.logitConfidence) out.forget.logitConf = Array.from(logitScaledConfidence(await predictLogits(model, forget, { batchSize: p.evaluation.batchSize, driver, phase: 'evaluate.logits' }), forget.y, ds.numClasses));
        }
        return { bytes: jsonBytes(out), meta: { forgetAcc: m.forgetAcc, testAcc: m.testAcc } };
      } finally {
        model.dispose();
      }
    }
    default:
      throw new InvalidConfigError(`no compute for stage kind ${(s as StageSpec).kind}`);
  }
}

/** The tfjs compute, with the worker's ML options (backend, kernels, data places) passed to the library. */
export function createMlCompute(opts: MlConfig): Compute {
  return {
    name: 'ml',
    async backend() {
      const b = await initBackend({ force: opts.backend, intraopThreads: opts.intraopThreads, wasmKernels: opts.wasmKernels });
      // webgpu names its adapter and driver, so a stage's row says which GPU (or software rasteriser) ran it
      const device = b.adapter ? `${b.adapter.software ? 'software gpu' : 'gpu'} ${adapterLine(b.adapter)}` : b.name === 'node-gpu' ? 'gpu' : 'cpu';
      return { name: b.name, device, version: b.version };
    },
    run: (ctx) => run(ctx, opts),
  };
}
