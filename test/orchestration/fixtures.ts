// The small sweep grid several orchestration tests share (synthetic data, an MLP, two forget sets, DEL and
// finetune, NegGrad+ when asked), as YAML text: tests still edit it with replace() and add their own header
// (name, seeds, compute) and tail (oracle, execution). Pure: no services.
export function smallGridYaml(opts: { negGradPlus?: boolean } = {}): string {
  return `grid:
  datasets: [{ id: synthetic }]
  models: [{ id: mlp, params: { hidden: [16] } }]
  recipes: [{ name: quick, epochs: 2, batchSize: 32, lr: 0.1 }]
  forgetSets:
    - { kind: iid, fraction: 0.1 }
    - { kind: classes, classes: [1], fraction: 0.1 }
  algorithms:
    - { name: del, localization: { strategy: wg-channel, alpha: 0.3 }, hparams: { lr: 0.05, epochs: 1 } }
    - { name: finetune, hparams: { lr: 0.05, epochs: 1 } }
${opts.negGradPlus ? '    - { name: neggrad-plus, hparams: { lr: 0.05, epochs: 1, beta: 0.95 } }\n' : ''}`;
}
