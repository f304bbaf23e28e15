-- 0001_core: the core tables of the platform (foundation).
-- Migrations are applied in lexical order by db/migrate.ts, each file once, inside one transaction
-- holding a PostgreSQL advisory lock. Never edit a migration after it has shipped: add a new file.

CREATE TABLE IF NOT EXISTS sweeps (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  config      jsonb NOT NULL DEFAULT '{}'::jsonb,
  status      text NOT NULL DEFAULT 'pending',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS stages (
  key           text PRIMARY KEY,
  kind          text NOT NULL,
  params        jsonb NOT NULL DEFAULT '{}'::jsonb,
  input_keys    text[] NOT NULL DEFAULT '{}'::text[],
  status        text NOT NULL DEFAULT 'pending',
  attempts      integer NOT NULL DEFAULT 0,
  wall_seconds  double precision,
  worker        text,
  backend       text,
  error         text,
  started_at    timestamptz,
  finished_at   timestamptz
);
CREATE INDEX IF NOT EXISTS stages_kind_status_idx ON stages (kind, status);

CREATE TABLE IF NOT EXISTS artifacts (
  key         text PRIMARY KEY,
  kind        text NOT NULL,
  uri         text NOT NULL,
  sha256      text NOT NULL,
  bytes       bigint NOT NULL,
  metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS artifacts_kind_idx ON artifacts (kind);
