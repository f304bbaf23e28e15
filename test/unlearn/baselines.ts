// The baselines test/unlearn/unlearn.test.ts runs on its 600-example synthetic set, with hyperparameters sized
// for it (the schemas' defaults follow docs/method.md at CIFAR scale). `strict`: forget accuracy must drop by more
// than 0.2; otherwise it must not rise. Every registered algorithm needs an entry here or a reason in
// test/unlearn/registry-tables.test.ts (docs/extending.md).
export interface BaselineCase { algorithm: string; hparams: Record<string, unknown>; strict: boolean }

export const BASELINE_CASES: BaselineCase[] = [
  { algorithm: 'finetune', hparams: { epochs: 5, lr: 0.05, batchSize: 32 }, strict: false },
  { algorithm: 'l1-sparse', hparams: { epochs: 5, lr: 0.05, batchSize: 32, gamma0: 1e-4 }, strict: false },
  { algorithm: 'gradient-ascent', hparams: { epochs: 3, lr: 0.01, batchSize: 8 }, strict: true },
  { algorithm: 'neggrad-plus', hparams: { epochs: 3, lr: 0.01, batchSize: 32, beta: 0.9 }, strict: true },
  { algorithm: 'random-label', hparams: { epochs: 5, lr: 0.05, batchSize: 32 }, strict: true },
  { algorithm: 'salun', hparams: { epochs: 5, lr: 0.05, batchSize: 32 }, strict: true },
  { algorithm: 'scrub', hparams: { epochs: 4, lr: 0.02, batchSize: 32, maxSteps: 3, forgetBatchSize: 8 }, strict: true },
  { algorithm: 'ssd', hparams: { alpha: 10, lambda: 1 }, strict: true },
];
