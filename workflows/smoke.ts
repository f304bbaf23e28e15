// Smoke workflow (foundation): one activity that writes an object to S3 and a row to PostgreSQL.
// Exports: smokeWorkflow(input: SmokeInput): Promise<SmokeResult>.
import { proxyActivities } from '@temporalio/workflow';
import type { SmokeActivities, SmokeInput, SmokeResult } from '../activities/smoke.js';

const { smokeWrite } = proxyActivities<SmokeActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, initialInterval: '1 second' },
});

export async function smokeWorkflow(input: SmokeInput): Promise<SmokeResult> {
  return smokeWrite(input);
}
