// Every workflow the workers register (bundled once per worker process from this file).
export { SweepWorkflow, progressQuery } from './sweep.js';
