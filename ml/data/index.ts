export * from './types.js';
export * from './split.js';
export { loadDataset } from './load.js';
