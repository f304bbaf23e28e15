// Node-side hashing of plans, shared by the planning activity and the CLI (no Temporal import: the CLI loads it).
//   nodeSha256Hex(text): SHA-256 through node:crypto; the same digests as the pure sweep/hash.ts sha256Hex
//       (tested in plan.test.ts), several times faster: expandSweep takes it as its `sha256` option.
//   planIdOf(sweepId, config): the id of the plan a config gives (db/plan-store.ts findPlan looks it up).
import { createHash } from 'node:crypto';
import { STAGE_VERSIONS } from '../sweep/plan.js';
import { canonicalJson } from '../sweep/hash.js';
import type { SweepConfig } from '../sweep/schema.js';

export const nodeSha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * A plan's id: the sweep id, the config without its execution settings (window, retries and timeouts do not
 * change the graph) and the stage versions. Equal ids mean equal stored plans.
 */
export function planIdOf(sweepId: string, config: SweepConfig): string {
  const { execution: _execution, ...graph } = config;
  return nodeSha256Hex(canonicalJson({ sweepId, graph, versions: STAGE_VERSIONS }));
}
