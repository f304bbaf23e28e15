// The stage contract: what the planner (sweep/plan.ts) puts in each stage and what the activities
// (activities/compute-ml.ts, activities/stages.ts) read back, one type per stage kind. A StageSpec is a union
// discriminated by `kind`, so `switch (stage.kind)` narrows `stage.params` and `stage.inputs` with no casts.
// The params are hashed into the stage key (sweep/plan.ts stageKey): changing a field's name or meaning changes
// every key of that kind, so bump STAGE_VERSIONS there when the output of a kind would change.
//
// Also here: the failure types a stage raises that no retry can fix (one list, read by the workflow's retry
// policy and by the activity that classifies errors).
import type { SweepConfig } from './schema.js';
import type { Scalar } from './grid.js';
import type { TrialRole } from './keys.js';

type Grid = SweepConfig['grid'];

/** A data set as the ml/ loader takes it: id, optional class-stratified subsample, loader parameters. */
export interface DatasetRef {
  id: string;
  subset: NonNullable<Grid['datasets'][number]['subset']> | null;
  params: Record<string, unknown>;
}
/** A model architecture and its ml/models.ts parameters. */
export interface ModelRef {
  id: string;
  params: Record<string, unknown>;
}
/** A training recipe as validated by the sweep schema (defaults filled). */
export type RecipeRef = Grid['recipes'][number];

/** Present in every stage's params: which compute runs it, and the sweep's cache namespace if any. */
export interface StageCommon {
  compute: SweepConfig['compute'];
  cacheNamespace?: string;
}

export interface ForgetSetParams extends StageCommon {
  dataset: DatasetRef;
  kind: string;
  fraction: number | null;
  count: number | null;
  classes: number[] | null;
  /** kind-specific fields (memorization: mode, band, proxy) */
  params: Record<string, unknown>;
  seed: number;
}

export interface TrainParams extends StageCommon {
  dataset: DatasetRef;
  model: ModelRef;
  recipe: RecipeRef;
  seed: number;
}

export interface LocalizeParams extends StageCommon {
  dataset: DatasetRef;
  model: ModelRef;
  strategy: string;
  alpha: number;
  seed: number;
  /** row aggregation of channel strategies; absent: by architecture */
  channelAggregate?: 'topk' | 'mean';
}

export interface UnlearnParams extends StageCommon {
  dataset: DatasetRef;
  model: ModelRef;
  recipe: RecipeRef;
  algorithm: string;
  /** one combination of the sweep's hyperparameter grid */
  hparams: Record<string, Scalar>;
  seed: number;
  /** set when a mask input is given: the strategy and α that made it */
  maskStrategy?: string;
  maskAlpha?: number;
}

export interface EvaluateParams extends StageCommon {
  dataset: DatasetRef;
  model: ModelRef;
  /** the sweep's evaluation settings without the protocol; logitConfidence: store log p − log(1 − p) per forget
   *  example (set for protocol sweeps) */
  evaluation: Omit<SweepConfig['evaluation'], 'protocol'> & { logitConfidence?: boolean };
}

/** Scores a method on one setting from the per-example outputs of N retrained and N unlearned models. */
export interface ProtocolParams extends StageCommon {
  dataset: DatasetRef;
  model: ModelRef;
  kind: 'neurips23';
  /** N: retrained and unlearned models each */
  models: number;
}

/** The identity of one result row (a trial), as the record stage writes it. */
export interface TrialDescriptor {
  /** content id: hash of the trial's descriptor (without the sweep id) */
  id: string;
  /** what the trial is: the original model, the oracle (retrained without the forget set) or an unlearning method */
  role: TrialRole;
  /** comparable setting (sweep/keys.ts): equal keys = same data, model, recipe, forget set, evaluation, code */
  settingKey: string;
  /** method (sweep/keys.ts): role, algorithm, localization, hparams */
  methodKey: string;
  /** display label of the row: the entry's label (default its name); `original` / `retrain` for the references */
  label: string;
  dataset: string;
  model: string;
  recipe: string;
  /** (dataset, model, recipe) identity: trials with equal recipeKey, forget set and seed share an oracle */
  recipeKey: string;
  forgetSet: string;
  forgetKind: string;
  /** configured forget fraction (null when the forget set is given by count) */
  forgetFraction: number | null;
  /** algorithm name (registry name); null for the original, `retrain` for the oracle */
  algorithm: string | null;
  localization: string | null;
  alpha: number | null;
  hparams: Record<string, unknown>;
  seed: number;
}

export interface RecordParams extends StageCommon {
  sweepId: string;
  trial: TrialDescriptor;
  /** key of the evaluated model's stage */
  model: string;
  /** stage keys by kind (train.original, forgetset.select, evaluate, and localize / unlearn / train.oracle when present) */
  stageKeys: Record<string, string>;
}

/** Params by stage kind. */
export interface StageParamsByKind {
  'forgetset.select': ForgetSetParams;
  'train.original': TrainParams;
  'train.oracle': TrainParams;
  localize: LocalizeParams;
  unlearn: UnlearnParams;
  evaluate: EvaluateParams;
  'protocol.score': ProtocolParams;
  record: RecordParams;
}

/** Input roles (role → key of the input stage) by stage kind. */
export interface StageInputsByKind {
  /** memorization forget sets rank by the original's training history */
  'forgetset.select': { original?: string };
  'train.original': Record<never, string>;
  'train.oracle': { forgetSet: string };
  localize: { original: string; forgetSet: string };
  unlearn: { original: string; forgetSet: string; mask?: string };
  evaluate: { model: string; forgetSet: string };
  /** `retrain.<k>` and `unlearn.<k>` (k = 0 … N−1): the evaluate stages of the k-th retrained and unlearned model */
  'protocol.score': Record<string, string>;
  /** protocol: the method's protocol.score stage (first seed only) */
  record: { evaluate: string; oracleEvaluate?: string; protocol?: string };
}

export type StageKind = keyof StageParamsByKind;
export type StageParams<K extends StageKind = StageKind> = StageParamsByKind[K];
export type StageInputs<K extends StageKind = StageKind> = StageInputsByKind[K];
export type Queue = 'gpu' | 'io';

interface StageSpecOf<K extends StageKind> {
  key: string;
  kind: K;
  queue: Queue;
  version: number;
  params: StageParamsByKind[K];
  inputs: StageInputsByKind[K];
  /** short human-readable description */
  label: string;
}

/** One stage of a plan: a union over the kinds, discriminated by `kind`. */
export type StageSpec<K extends StageKind = StageKind> = K extends StageKind ? StageSpecOf<K> : never;

export const STAGE_KINDS = ['forgetset.select', 'train.original', 'train.oracle', 'localize', 'unlearn', 'evaluate', 'protocol.score', 'record'] as const satisfies readonly StageKind[];

/** The input keys of a stage, whatever its kind. */
export function inputKeys(stage: StageSpec): string[] {
  return Object.values(stage.inputs as Record<string, string | undefined>).filter((k): k is string => typeof k === 'string');
}

/** The input key of `role`, or undefined when the stage has none. */
export function inputKey(stage: StageSpec, role: string): string | undefined {
  return (stage.inputs as Record<string, string | undefined>)[role];
}

/**
 * Failure types no retry can fix. The activity raises a stage's error as a non-retryable ApplicationFailure of
 * one of these types (activities/stages.ts classifies by error class), and the workflow's retry policy lists
 * them (workflows/sweep.ts), so the two can never disagree.
 *   InvalidConfig: the stage's params name something the worker cannot run (unknown algorithm, bad hyperparameter,
 *     an unsupported optimizer, a forget set the data cannot supply).
 *   Diverged: training produced a non-finite loss; the same seed and hyperparameters diverge again.
 */
export const FailureType = { InvalidConfig: 'InvalidConfig', Diverged: 'Diverged' } as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];
export const NON_RETRYABLE_FAILURE_TYPES: readonly FailureType[] = Object.values(FailureType);
