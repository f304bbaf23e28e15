// The bad sweep inputs a user can write and what each must get: refused before anything starts, the message
// naming the file, the path and the problem. Shared by the pure validation test and the test through the CLI
// against the real stack (nothing stored changes).

export const FILE = 'sweeps/bad.yaml';
export const BASE = `
name: v
seeds: [0]
grid:
  datasets: [{ id: mnist, subset: { perClass: 20, testPerClass: 10 } }]
  models: [{ id: cnn, params: { channels: [8], dense: 16 } }]
  recipes: [{ name: r, epochs: 1, batchSize: 32, lr: 0.05 }]
  forgetSets:
    - { kind: iid, fraction: 0.1 }
    - { kind: classes, classes: [2, 5], fraction: 0.1 }
  algorithms:
    - { name: finetune, hparams: { lr: 0.02, epochs: 1 } }
`;

/** Each bad input, the path it must name and the problem. Listed in docs/results.md and the closing note. */
export const BAD_INPUTS: [string, string, string, RegExp][] = [
  ['class out of range (MNIST has 10)', 'classes: [2, 5]', 'classes: [2, 11]', /grid\.forgetSets\[1\]\.classes: class 11 outside 0\.\.9 \(grid\.datasets\[0\]: mnist, 20 per class has 10 classes\)/],
  ['forget count larger than the subset', '{ kind: iid, fraction: 0.1 }', '{ kind: iid, count: 5000 }', /grid\.forgetSets\[0\]\.count: 5000 examples asked, the training split has 200/],
  ['forget fraction the classes cannot hold', 'classes: [2, 5], fraction: 0.1', 'classes: [2, 5], fraction: 0.5', /grid\.forgetSets\[1\]\.fraction: 100 examples asked, classes 2, 5 hold 40 training examples/],
  ['forget fraction too small to select one example', '{ kind: iid, fraction: 0.1 }', '{ kind: iid, fraction: 0.001 }', /grid\.forgetSets\[0\]\.fraction: the forget set would be empty/],
  ['recipe epochs 10^9', 'epochs: 1, batchSize: 32', 'epochs: 1000000000, batchSize: 32', /grid\.recipes\[0\]\.epochs: Too big/i],
  ['hparams epochs 10^9', '{ lr: 0.02, epochs: 1 }', '{ lr: 0.02, epochs: 1000000000 }', /grid\.algorithms\[0\]\.hparams\.epochs: Too big/i],
  ['dataset params override the id', 'testPerClass: 10 } }', 'testPerClass: 10 }, params: { name: cifar10 } }', /grid\.datasets\[0\]\.params\.name: unknown key "name"/],
  ['model params override the architecture', 'params: { channels: [8], dense: 16 }', 'params: { arch: vit, channels: [8] }', /grid\.models\[0\]\.params\.arch: unknown key "arch"/],
  ['forget params override the kind', '{ kind: iid, fraction: 0.1 }', '{ kind: iid, fraction: 0.1, params: { kind: classes } }', /grid\.forgetSets\[0\]\.params\.kind: unknown key "kind"/],
  ['a width of 10^9', 'params: { channels: [8], dense: 16 }', 'params: { channels: [1000000000] }', /grid\.models\[0\]\.params\.channels\[0\]: Too big/i],
  ['a model over the parameter cap', 'params: { channels: [8], dense: 16 }', 'params: { channels: [64], dense: 16384 }', /grid\.models\[0\]\.params: 205,\d{3},\d{3} parameters on mnist exceed the cap of 50,000,000/],
  ['a cnn deeper than the input allows', 'params: { channels: [8], dense: 16 }', 'params: { channels: [8, 8, 8, 8, 8, 8] }', /grid\.models\[0\]\.params\.channels: 6 pooling stages shrink the 28×28 input below 1×1/],
  ['a vit patch that does not divide the input', '{ id: cnn, params: { channels: [8], dense: 16 } }', '{ id: vit, params: { patch: 5, dim: 32, depth: 1, heads: 2, mlpDim: 32 } }', /grid\.models\[0\]\.params\.patch: the 28×28 input is not divisible into 5×5 patches/],
  ['a cache directory in the sweep', 'testPerClass: 10 } }', 'testPerClass: 10 }, params: { cacheDir: /tmp/x } }', /grid\.datasets\[0\]\.params\.cacheDir: the data cache is a worker setting/],
  ['a data path in the sweep', 'testPerClass: 10 } }', 'testPerClass: 10 }, params: { path: /data } }', /grid\.datasets\[0\]\.params\.path: a data directory is a worker setting/],
  ['a subset larger than the data set', 'perClass: 20,', 'perClass: 6000,', /grid\.datasets\[0\]\.subset\.perClass: 6000 per class is more than mnist has \(its smallest class holds 5421/],
  ['a label reserved for the oracle', '{ name: finetune, hparams', '{ name: finetune, label: retrain, hparams', /grid\.algorithms\[0\]\.label: label "retrain" is reserved/],
  ['a label reserved for the original', '{ name: finetune, hparams', '{ name: finetune, label: Original, hparams', /grid\.algorithms\[0\]\.label: label "Original" is reserved/],
  ['two entries with one label', '{ name: finetune, hparams: { lr: 0.02, epochs: 1 } }', '{ name: finetune, label: ft, hparams: { lr: 0.02, epochs: 1 } }\n    - { name: neggrad-plus, label: ft, hparams: { lr: 0.02, epochs: 1 } }', /grid\.algorithms\[1\]\.label: label "ft" is already used by grid\.algorithms\[0\]/],
  ['two unlabelled entries of one algorithm', '{ name: finetune, hparams: { lr: 0.02, epochs: 1 } }', '{ name: finetune, hparams: { lr: 0.02, epochs: 1 } }\n    - { name: finetune, hparams: { lr: 0.05, epochs: 1 } }', /grid\.algorithms\[1\]\.name: label "finetune" is already used by grid\.algorithms\[0\]/],
  ['one method twice under two labels', '{ name: finetune, hparams: { lr: 0.02, epochs: 1 } }', '{ name: finetune, label: a, hparams: { lr: [0.01, 0.02], epochs: 1 } }\n    - { name: finetune, label: b, hparams: { lr: 0.02, epochs: 1 } }', /grid\.algorithms\[1\]: runs a method grid\.algorithms\[0\] already runs/],
  ['the oracle listed as an algorithm', '{ name: finetune, hparams', '{ name: retrain, hparams', /grid\.algorithms\[0\]\.name: "retrain" is reserved/],
  ['an unknown algorithm', '{ name: finetune, hparams', '{ name: x, hparams', /grid\.algorithms\[0\]\.name: unknown algorithm "x" \(known: /],
  ['an unknown dataset', '{ id: mnist,', '{ id: imagenet,', /grid\.datasets\[0\]\.id: unknown dataset "imagenet"/],
  ['a repeated seed', 'seeds: [0]', 'seeds: [0, 1, 0]', /seeds\[2\]: repeats seed seeds\[0\]/],
  ['a memorization band with lo > hi', '{ kind: iid, fraction: 0.1 }', '{ kind: memorization, fraction: 0.1, params: { mode: band, band: [0.8, 0.2] } }', /grid\.forgetSets\[0\]\.params\.band: expected lo < hi/],
  ['classes on an iid forget set', '{ kind: iid, fraction: 0.1 }', '{ kind: iid, fraction: 0.1, classes: [1] }', /grid\.forgetSets\[0\]\.classes: only a classes forget set takes classes/],
  ['an unknown key in the sweep', 'name: v', 'name: v\nworkDir: /tmp', /\(root\): Unrecognized key: "workDir"/],
];

