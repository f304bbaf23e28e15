// The protocol.score stage: the NeurIPS 2023 challenge's forget quality and final score, and a LiRA attack
// against the retrained models, for one method on one setting, from the per-example logit-scaled confidences
// that the N retrained and N unlearned models' evaluate stages stored (inputs `retrain.<k>`, `unlearn.<k>`).
// Pure computation over small JSON artifacts; the math is ml/unlearn/neurips.ts and ml/unlearn/lira.ts.
import { liraAttack } from '../ml/unlearn/lira.js';
import { neuripsScore } from '../ml/unlearn/neurips.js';
import type { StageSpec } from '../sweep/stages.js';
import { bytesJson, jsonBytes, InvalidConfigError, type EvaluationOutput, type StageContext, type StageOutput } from './compute.js';

/** What a protocol.score artifact holds; the record stage copies `metrics` into the method's first-seed trial. */
export interface ProtocolOutput {
  kind: string;
  models: number;
  metrics: { split: 'protocol'; name: string; value: number }[];
  perExample: { ids: number[]; epsilon: number[]; liraAuc: number[] };
}

const accuracy = (ev: EvaluationOutput, split: string): number => {
  const m = ev.metrics.find((x) => x.split === split && x.name === 'accuracy');
  if (!m) throw new InvalidConfigError(`protocol: an evaluate artifact has no ${split} accuracy`);
  return m.value;
};

export async function protocolScore(ctx: StageContext, s: StageSpec<'protocol.score'>): Promise<StageOutput> {
  const n = s.params.models;
  const read = async (role: string): Promise<EvaluationOutput> => {
    const ev = bytesJson<EvaluationOutput>(await ctx.input(role));
    if (!ev.forget?.logitConf) throw new InvalidConfigError(`protocol: input ${role} has no per-example logit confidences (evaluate stage without the protocol)`);
    return ev;
  };
  const retrained: EvaluationOutput[] = [], unlearned: EvaluationOutput[] = [];
  for (let k = 0; k < n; k++) {
    retrained.push(await read(`retrain.${k}`));
    unlearned.push(await read(`unlearn.${k}`));
    if (k % 16 === 15) ctx.heartbeat();
  }
  // every model must score the same forget examples in the same order
  const ids = retrained[0].forget!.ids;
  for (const [what, set] of [['retrain', retrained], ['unlearn', unlearned]] as const) {
    set.forEach((ev, k) => {
      const other = ev.forget!.ids;
      if (other.length !== ids.length || other.some((v, i) => v !== ids[i])) throw new InvalidConfigError(`protocol: ${what}.${k} scored other forget examples than retrain.0`);
    });
  }
  const conf = (ev: EvaluationOutput) => ev.forget!.logitConf!;
  const ns = neuripsScore({
    unlearnedConfs: unlearned.map(conf), retrainedConfs: retrained.map(conf),
    unlearnedRetainAcc: unlearned.map((e) => accuracy(e, 'retain')), retrainedRetainAcc: retrained.map((e) => accuracy(e, 'retain')),
    unlearnedTestAcc: unlearned.map((e) => accuracy(e, 'test')), retrainedTestAcc: retrained.map((e) => accuracy(e, 'test')),
  });
  const lira = liraAttack(unlearned.map(conf), retrained.map(conf));
  const out: ProtocolOutput = {
    kind: s.params.kind,
    models: n,
    metrics: [
      { split: 'protocol', name: 'neurips23_score', value: ns.score },
      { split: 'protocol', name: 'neurips23_forget_quality', value: ns.forgetQuality },
      { split: 'protocol', name: 'lira_auc', value: lira.auc },
      { split: 'protocol', name: 'lira_tpr_at_1fpr', value: lira.tprAt1Fpr },
      { split: 'protocol', name: 'lira_tpr_at_5fpr', value: lira.tprAt5Fpr },
    ],
    perExample: { ids, epsilon: Array.from(ns.epsilons), liraAuc: Array.from(lira.perExampleAuc) },
  };
  return { bytes: jsonBytes(out), meta: { models: n, score: ns.score, forgetQuality: ns.forgetQuality, liraAuc: lira.auc } };
}
