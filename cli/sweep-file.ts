// Reading sweep files: the one place a sweep file's text comes from disk. Validation itself is the pure sweep
// core (sweep/schema.ts against the ml/ registries in sweep/registries.ts).
import { readFileSync } from 'node:fs';
import { parseSweep, SweepFileError, type NameRegistries, type SweepConfig } from '../sweep/schema.js';
import { mlRegistries } from '../sweep/registries.js';

/** Reads and validates a sweep file against the given registries. Throws SweepFileError (file, path, problem). */
export function loadSweepFile(file: string, registries: NameRegistries = {}): SweepConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new SweepFileError(file, [`cannot read: ${(e as Error).message}`]);
  }
  return parseSweep(text, file, registries);
}

/** Reads and validates a sweep file against the ml/ registries (what the workers can run). */
export function loadSweep(file: string): SweepConfig {
  return loadSweepFile(file, mlRegistries());
}
