export { tf } from './tf.js';
export * from './backend.js';
export * from './rng.js';
export * from './data/index.js';
export * from './models.js';
export * from './train.js';
export * from './eval.js';
export * from './checkpoint.js';
export * from './errors.js';
