// Hyperparameters of each unlearning algorithm at the `unlearn` bench's scale (MNIST subset, small CNN); the
// schemas' defaults follow docs/method.md at CIFAR scale. Same for both forget-set kinds except where
// docs/method.md distinguishes IID / non-IID (NegGrad+ β, SSD a). Every registered algorithm but the oracle needs
// an entry: test/unlearn/registry-tables.test.ts fails otherwise (docs/extending.md).
export const BENCH_HPARAMS: Record<string, (kind: string) => Record<string, unknown>> = {
  del: () => ({ epochs: 3, lr: 0.05, batchSize: 32 }),
  finetune: () => ({ epochs: 3, lr: 0.05, batchSize: 64 }),
  'gradient-ascent': () => ({ epochs: 2, lr: 0.01, batchSize: 64 }),
  'neggrad-plus': (k) => ({ epochs: 3, lr: 0.02, batchSize: 64, beta: k === 'iid' ? 0.95 : 0.99 }),
  'l1-sparse': () => ({ epochs: 3, lr: 0.05, batchSize: 64, gamma0: 7e-5 }),
  'random-label': () => ({ epochs: 3, lr: 0.05, batchSize: 64 }),
  salun: () => ({ epochs: 3, lr: 0.05, batchSize: 64 }),
  ssd: (k) => ({ lambda: 1, alpha: k === 'iid' ? 1 : 16 }),
  scrub: () => ({ epochs: 3, lr: 0.02, batchSize: 64, maxSteps: 1, forgetBatchSize: 32 }),
};
