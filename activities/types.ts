// Types shared by the stage activities and the SweepWorkflow (which imports them with `import type` only).
// The workflow addresses stages by their position in the plan (`index`); the plan itself lives in the database
// (db/plan-store.ts), written once by `planSweep`, so no workflow task expands, hashes or carries the whole plan.
import type { StageSpec } from '../sweep/plan.js';
import type { SweepConfig } from '../sweep/schema.js';

export interface StageOutcome {
  key: string;
  /** ran: computed now; cached: a complete, verified artifact already existed */
  status: 'ran' | 'cached';
  /** wall seconds of this attempt (0 for cached) */
  seconds: number;
  /** epoch a retried attempt resumed from (training stages), 0 when it started fresh */
  resumedFromEpoch?: number;
  attempt: number;
}

/** A stage by its position in a stored plan (what the workflow sends), or given in full (tests, tools). */
export type RunStageInput =
  | { sweepId: string; planId: string; index: number }
  | {
      sweepId: string;
      stage: StageSpec;
      /** role → kind of the input stage (the key is stage.inputs[role]) */
      inputKinds: Record<string, string>;
    };

/** Plan positions run one after the other by one activity (each input of a later one is an earlier one or done). */
export interface RunChainInput {
  sweepId: string;
  planId: string;
  indices: number[];
}

/** What a failed chain tells the workflow (the failure's details[0]): the outcomes of the stages before the
 *  failed one, in order; the failed stage is indices[done.length]. */
export interface ChainFailureDetails {
  done: StageOutcome[];
}

export interface PlanSweepInput {
  sweepId: string;
  config: SweepConfig;
}

/** What the workflow knows of the whole plan: its id and sizes, never its stages. */
export interface PlanInfo {
  planId: string;
  stages: number;
  trials: number;
  /** stage count by kind */
  kinds: Record<string, number>;
}

export interface PlanPageInput {
  planId: string;
  /** first position of the page */
  from: number;
  count: number;
}

/** Positions [from, from + kinds.length) of a plan, as parallel arrays (compact in the workflow's history). */
export interface PlanPage {
  from: number;
  kinds: string[];
  keys: string[];
  labels: string[];
  /** positions of each stage's inputs (always smaller than the stage's own) */
  inputs: number[][];
  /** offsets into the page of the stages whose output already exists and verifies (memoized) */
  complete: number[];
}

export interface StageMark {
  index: number;
  status: 'failed' | 'skipped' | 'cancelled';
  error?: string;
}

export interface MarkStagesInput {
  sweepId: string;
  planId: string;
  marks: StageMark[];
  /** every position in these half-open ranges [from, to) gets `status` and `error` (cancellation of the rest of a plan) */
  ranges?: { ranges: [number, number][]; status: 'cancelled'; error: string };
}

export interface MarkStagesResult {
  /** stages marked through `ranges`, by kind */
  rangesByKind: Record<string, number>;
}

export interface SweepActivities {
  planSweep(input: PlanSweepInput): Promise<PlanInfo>;
  planPage(input: PlanPageInput): Promise<PlanPage>;
  runStage(input: RunStageInput): Promise<StageOutcome>;
  runChain(input: RunChainInput): Promise<StageOutcome[]>;
  markStages(input: MarkStagesInput): Promise<MarkStagesResult>;
  finishSweep(input: { sweepId: string; status: string; summary: Record<string, unknown> }): Promise<void>;
}
