export type DatasetName = 'synthetic' | 'mnist' | 'fashion-mnist' | 'cifar10' | 'svhn';

/** One split of a data set. `x` is count × prod(exampleShape) float32, NHWC per example. */
export interface Split {
  x: Float32Array;
  y: Int32Array;
  /** Stable example ids: index in the full original split (kept through subsampling). */
  ids: Int32Array;
  count: number;
  exampleShape: number[];
}

export interface Dataset {
  name: DatasetName;
  numClasses: number;
  inputShape: number[];
  train: Split;
  test: Split;
  meta: Record<string, unknown>;
}

export interface DatasetSpec {
  name: DatasetName;
  /** Seeded class-stratified subsample of train: n examples per class. Absent = all. */
  perClass?: number;
  /** Same for test. */
  testPerClass?: number;
  /** Subsampling / split / synthetic seed (default 0). */
  seed?: number;
  /** svhn: directory holding train_32x32.mat and test_32x32.mat. */
  path?: string;
  /** Cache for fetched packages. Default: env UNLEARN_DATA_DIR, else ~/.cache/unlearn-data. */
  cacheDir?: string;
  /** synthetic: number of classes (default 4). */
  numClasses?: number;
  /** synthetic: example shape (default [8, 8, 1]). */
  shape?: number[];
  /** synthetic: std of the gaussian noise around class prototypes (default 0.5). */
  noise?: number;
  /** synthetic: train examples per class given a wrong label (default 3). */
  memorizedPerClass?: number;
}
