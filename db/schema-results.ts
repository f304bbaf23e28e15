// Drizzle definitions of the results tables created by db/migrations/0002_results.sql and changed by 0004.
// The SQL migration is the source of truth (it also holds triggers, functions and views that drizzle does
// not model); keep these definitions in step with it. db/schema.ts re-exports them.
import { sql } from 'drizzle-orm';
import {
  boolean, doublePrecision, integer, jsonb, pgTable, primaryKey, real, text, timestamp,
} from 'drizzle-orm/pg-core';

export const trialStatuses = ['pending', 'running', 'completed', 'failed'] as const;
export const trialRoles = ['original', 'oracle', 'method'] as const;
export type TrialRole = (typeof trialRoles)[number];
export type TrialStatus = (typeof trialStatuses)[number];

export const trials = pgTable('trials', {
  id: text('id').primaryKey(),
  sweepId: text('sweep_id').notNull(),
  dataset: text('dataset').notNull(),
  model: text('model').notNull(),
  recipeKey: text('recipe_key').notNull(),
  forgetSetKey: text('forget_set_key').notNull(),
  forgetKind: text('forget_kind').notNull(),
  forgetFraction: doublePrecision('forget_fraction').notNull(),
  /** 'original' | 'oracle' | 'method', from the planner (never derived from a label) */
  role: text('role').$type<TrialRole>().notNull(),
  /** registry name; null for the original */
  algorithm: text('algorithm'),
  /** display label */
  label: text('label').notNull(),
  /** comparable setting and method (sweep/keys.ts); group_key = setting_key:method_key */
  settingKey: text('setting_key').notNull(),
  methodKey: text('method_key').notNull(),
  groupKey: text('group_key').generatedAlwaysAs(sql`setting_key || ':' || method_key`),
  localization: text('localization'),
  alpha: doublePrecision('alpha'),
  hparams: jsonb('hparams').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
  seed: integer('seed').notNull(),
  isOracle: boolean('is_oracle').generatedAlwaysAs(sql`role = 'oracle'`),
  stageKeys: jsonb('stage_keys').$type<Record<string, string>>().notNull().default(sql`'{}'::jsonb`),
  status: text('status').$type<TrialStatus>().notNull(),
  error: text('error'),
  wallSeconds: doublePrecision('wall_seconds'),
  epochs: doublePrecision('epochs'),
  paramsChangedFraction: doublePrecision('params_changed_fraction'),
  /** how the numbers were made: code (package version, git commit, stage versions), backend, device, worker */
  provenance: jsonb('provenance').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
  codeVersion: text('code_version'),
  backend: text('backend'),
  workerHost: text('worker_host'),
  // Maintained by triggers from `metrics`; read-only for clients.
  forgetAcc: doublePrecision('forget_acc'),
  retainAcc: doublePrecision('retain_acc'),
  testAcc: doublePrecision('test_acc'),
  miaEfficacy: doublePrecision('mia_efficacy'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** What a setting key and a method key stand for (db/migrations/0004_comparable_settings.sql). */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  spec: jsonb('spec').$type<Record<string, unknown>>().notNull(),
  summary: text('summary').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});
export const methods = pgTable('methods', {
  key: text('key').primaryKey(),
  spec: jsonb('spec').$type<Record<string, unknown>>().notNull(),
  summary: text('summary').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const metrics = pgTable('metrics', {
  trialId: text('trial_id').notNull().references(() => trials.id, { onDelete: 'cascade' }),
  split: text('split').notNull(),
  name: text('name').notNull(),
  value: doublePrecision('value').notNull(),
  recordedAt: timestamp('recorded_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.trialId, t.split, t.name] })]);

export const curves = pgTable('curves', {
  stageKey: text('stage_key').notNull(),
  epoch: integer('epoch').notNull(),
  name: text('name').notNull(),
  value: doublePrecision('value').notNull(),
}, (t) => [primaryKey({ columns: [t.stageKey, t.epoch, t.name] })]);

export const forgetOutputs = pgTable('forget_outputs', {
  trialId: text('trial_id').primaryKey().references(() => trials.id, { onDelete: 'cascade' }),
  n: integer('n').notNull(),
  ids: integer('ids').array().notNull(),
  trueProb: real('true_prob').array().notNull(),
  loss: real('loss').array().notNull(),
  correct: boolean('correct').array().notNull(),
  recordedAt: timestamp('recorded_at', { withTimezone: true }).notNull().defaultNow(),
});
