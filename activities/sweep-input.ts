// A sweep config that arrives in a workflow input is checked again on the worker, with the same schema and
// registries as the CLI (sweep/registries.ts): anyone who can start a workflow on the namespace can send one, and a
// worker runs only what a sweep file could have asked for.
import { ApplicationFailure } from '@temporalio/activity';
import { parseSweepText } from '../sweep/registries.js';
import { SweepFileError, type SweepConfig } from '../sweep/schema.js';
import { FailureType } from '../sweep/stages.js';

/** Larger than any sweep file we ship by far; a workflow input is capped by Temporal's payload limit anyway. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** The config, re-validated; a non-retryable InvalidConfig failure naming each problem's field otherwise. */
export function revalidateSweepConfig(config: unknown, sweepId: string): SweepConfig {
  const where = `workflow input of sweep ${JSON.stringify(sweepId).slice(0, 200)}`;
  const refuse = (problems: string) => ApplicationFailure.nonRetryable(`invalid sweep config: ${problems}`, FailureType.InvalidConfig);
  let text: string | undefined;
  try {
    text = JSON.stringify(config);
  } catch (e) {
    throw refuse(`${where}: not serialisable (${(e as Error).message})`);
  }
  if (text === undefined || typeof config !== 'object' || config === null || Array.isArray(config)) throw refuse(`${where}: (root): expected an object`);
  if (text.length > MAX_CONFIG_BYTES) throw refuse(`${where}: ${text.length} bytes, at most ${MAX_CONFIG_BYTES}`);
  try {
    return parseSweepText(text, where);
  } catch (e) {
    if (e instanceof SweepFileError) throw refuse(e.message);
    throw e;
  }
}
