// Types shared by the stage activities and the SweepWorkflow (which imports them with `import type` only).
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

export interface RunStageInput {
  sweepId: string;
  stage: StageSpec;
  /** role → kind of the input stage (the key is stage.inputs[role]) */
  inputKinds: Record<string, string>;
}

export interface PrepareSweepInput {
  sweepId: string;
  config: SweepConfig;
}

export interface PrepareSweepResult {
  /** positions (in plan order) of stages whose output already exists and verifies */
  complete: number[];
  stages: number;
  trials: number;
}

export interface StageMark {
  key: string;
  kind: string;
  status: 'failed' | 'skipped' | 'cancelled';
  error?: string;
  /** for record stages: the stage, so the trial row can be written as failed with its error */
  stage?: StageSpec;
}

export interface SweepActivities {
  prepareSweep(input: PrepareSweepInput): Promise<PrepareSweepResult>;
  runStage(input: RunStageInput): Promise<StageOutcome>;
  markStages(input: { sweepId: string; marks: StageMark[] }): Promise<void>;
  finishSweep(input: { sweepId: string; status: string; summary: Record<string, unknown> }): Promise<void>;
}
