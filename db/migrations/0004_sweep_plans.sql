-- 0004_sweep_plans: a sweep's stage graph, expanded once by an activity and read by the workflow in pages.
-- The workflow never expands or hashes the whole plan itself (a 100,000-trial plan is ~300,000 stages): it
-- schedules stage positions (idx) and the activities resolve them here. One plan per sweep id at a time (the
-- latest config started under that id); plan_stages rows go with their plan.

CREATE TABLE IF NOT EXISTS sweep_plans (
  id          text PRIMARY KEY,            -- sha256 of (sweep id, config without execution settings, stage versions)
  sweep_id    text NOT NULL,
  stages      integer NOT NULL,
  trials      integer NOT NULL,
  kinds       jsonb NOT NULL,              -- stage count by kind
  complete    boolean NOT NULL DEFAULT false, -- every plan_stages row is written
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sweep_plans_sweep_idx ON sweep_plans (sweep_id);

CREATE TABLE IF NOT EXISTS plan_stages (
  plan_id    text NOT NULL REFERENCES sweep_plans (id) ON DELETE CASCADE,
  idx        integer NOT NULL,             -- position in the plan's topological order
  key        text NOT NULL,                -- stages.key (params live there)
  kind       text NOT NULL,
  label      text NOT NULL,
  input_roles text[] NOT NULL,            -- role of each input ('original', 'forgetSet', ...)
  input_idx  integer[] NOT NULL,           -- position of each input, aligned with input_roles
  PRIMARY KEY (plan_id, idx)
);
