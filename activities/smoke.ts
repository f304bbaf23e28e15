// Smoke activity (foundation): proves the three services together. Writes one object to S3 (sha256 in its
// metadata) and upserts its `artifacts` row in PostgreSQL.
// Exports: createSmokeActivities({ store, db }) → { smokeWrite(input) }; types SmokeInput, SmokeResult, SmokeActivities.
import { Context } from '@temporalio/activity';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { artifacts } from '../db/schema.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface SmokeInput {
  /** Object key (also the artifacts row's key). */
  key: string;
  /** Text written as the object's body. */
  text: string;
}

export interface SmokeResult {
  key: string;
  uri: string;
  sha256: string;
  bytes: number;
  workflowId: string;
  attempt: number;
}

export function createSmokeActivities(deps: { store: ObjectStore; db: Db }) {
  return {
    async smokeWrite(input: SmokeInput): Promise<SmokeResult> {
      const info = Context.current().info;
      const put = await deps.store.putBytes(input.key, Buffer.from(input.text, 'utf8'), { contentType: 'text/plain' });
      const metadata = { workflowId: (info.workflowExecution?.workflowId ?? ''), activityId: info.activityId, attempt: info.attempt };
      await deps.db
        .insert(artifacts)
        .values({ key: input.key, kind: 'smoke', uri: put.uri, sha256: put.sha256, bytes: put.bytes, metadata })
        .onConflictDoUpdate({
          target: artifacts.key,
          set: { uri: put.uri, sha256: put.sha256, bytes: put.bytes, metadata, createdAt: sql`now()` },
        });
      return { ...put, workflowId: (info.workflowExecution?.workflowId ?? ''), attempt: info.attempt };
    },
  };
}

export type SmokeActivities = ReturnType<typeof createSmokeActivities>;
