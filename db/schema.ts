// Drizzle schema of the PostgreSQL database (shared file).
// Exports: sweeps, stages, artifacts (core tables, foundation; SQL in db/migrations/0001_core.sql).
// The results tables live in db/schema-results.ts (results helper) and are re-exported at the end.
// Types: Sweep/NewSweep, Stage/NewStage, Artifact/NewArtifact.
// The SQL migrations are the source of truth; keep this file in step with them.
import { bigint, doublePrecision, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export const sweeps = pgTable('sweeps', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  config: jsonb('config').$type<Record<string, unknown>>().notNull().default({}),
  status: text('status').notNull().default('pending'),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

export const stages = pgTable(
  'stages',
  {
    key: text('key').primaryKey(),
    kind: text('kind').notNull(),
    params: jsonb('params').$type<Record<string, unknown>>().notNull().default({}),
    inputKeys: text('input_keys').array().notNull().default([]),
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    wallSeconds: doublePrecision('wall_seconds'),
    worker: text('worker'),
    backend: text('backend'),
    error: text('error'),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('stages_kind_status_idx').on(t.kind, t.status)],
);

export const artifacts = pgTable(
  'artifacts',
  {
    key: text('key').primaryKey(),
    kind: text('kind').notNull(),
    uri: text('uri').notNull(),
    sha256: text('sha256').notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [index('artifacts_kind_idx').on(t.kind)],
);

export type Sweep = typeof sweeps.$inferSelect;
export type NewSweep = typeof sweeps.$inferInsert;
export type Stage = typeof stages.$inferSelect;
export type NewStage = typeof stages.$inferInsert;
export type Artifact = typeof artifacts.$inferSelect;
export type NewArtifact = typeof artifacts.$inferInsert;

// --- results tables (results helper): add `export * from './schema-results.js';` below ---
export * from './schema-results.js';
