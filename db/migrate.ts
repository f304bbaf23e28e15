// SQL migrator (our own, ~100 lines; see docs/foundation.md for why not drizzle-kit's journal).
// Exports:
//   migrate(url?: string, opts?): Promise<MigrateResult> — applies db/migrations/*.sql not yet applied, in lexical
//       order, inside ONE transaction holding a PostgreSQL advisory lock (concurrent callers wait, then see the
//       work done). Applied files are recorded in schema_migrations(name, sha256, applied_at). A file whose
//       content changed after it was applied raises MigrationChangedError (never edit a shipped migration).
//   listMigrations(dir?): the migration files, sorted.
//   MIGRATIONS_DIR, MigrationChangedError.
// CLI: `npm run db:migrate` (uses DATABASE_URL).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { parseDatabaseUrl, redactDatabaseUrl } from './client.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
/** Arbitrary constant key of the advisory lock ("unlearn" migrate). */
const LOCK_KEY = 7_345_112_001;

export class MigrationChangedError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = 'MigrationChangedError';
  }
}

export interface Migration {
  name: string;
  sql: string;
  sha256: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name), 'utf8');
      return { name, sql, sha256: createHash('sha256').update(sql).digest('hex') };
    });
}

export async function migrate(
  url: string | undefined = process.env.DATABASE_URL,
  opts: { dir?: string; log?: (line: string) => void } = {},
): Promise<MigrateResult> {
  parseDatabaseUrl(url, url === process.env.DATABASE_URL ? 'DATABASE_URL' : 'database URL');
  const log = opts.log ?? (() => {});
  const migrations = listMigrations(opts.dir);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`migrate: cannot connect to PostgreSQL at ${redactDatabaseUrl(url as string)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const result: MigrateResult = { applied: [], alreadyApplied: [] };
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY, sha256 text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ name: string; sha256: string }>('SELECT name, sha256 FROM schema_migrations');
    const done = new Map(rows.map((r) => [r.name, r.sha256]));
    for (const m of migrations) {
      const prior = done.get(m.name);
      if (prior !== undefined) {
        if (prior !== m.sha256) {
          throw new MigrationChangedError(
            m.name,
            `migration ${m.name} changed after it was applied to ${redactDatabaseUrl(url as string)} ` +
              `(recorded sha256 ${prior.slice(0, 12)}…, file ${m.sha256.slice(0, 12)}…). ` +
              'Shipped migrations are immutable: add a new migration file instead; for a scratch database, drop and recreate it.',
          );
        }
        result.alreadyApplied.push(m.name);
        continue;
      }
      try {
        await client.query(m.sql);
      } catch (err) {
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
      await client.query('INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)', [m.name, m.sha256]);
      result.applied.push(m.name);
      log(`applied ${m.name}`);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await client.end();
  }
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  migrate(process.env.DATABASE_URL, { log: (l) => console.log(l) })
    .then((r) => {
      console.log(`migrations: ${r.applied.length} applied, ${r.alreadyApplied.length} already applied`);
    })
    .catch((err: unknown) => {
      console.error(`db:migrate failed: ${(err as Error).message}`);
      process.exit(1);
    });
}
