import type { Dataset, DatasetSpec } from './types.js';

export async function loadDataset(spec: DatasetSpec): Promise<Dataset> {
  throw new Error(`loadDataset(${spec.name}): not implemented yet`);
}
