// PostgreSQL client.
// Exports:
//   openDb(url?: string): DbHandle  — { db (drizzle over a pg Pool, with the schema), pool, url, close() }.
//       url defaults to process.env.DATABASE_URL; a missing or malformed URL throws DatabaseUrlError naming DATABASE_URL.
//       The pool is lazy: the first query connects (connect timeout 5 s, the error names host:port/database).
//   parseDatabaseUrl(url, source?): { host, port, database, user } — validates a postgres:// URL (throws DatabaseUrlError).
//   redactDatabaseUrl(url): the URL with its password replaced by '***' (safe to log).
//   pingDb(handle, timeoutMs?): resolves when `SELECT 1` answers, else throws naming the server.
//   type Db = the drizzle database type; DatabaseUrlError.
// int8 (bigint, count(*)) is parsed to a JS number for every pg query in this process (values above 2^53 lose
// precision; we store byte counts and counts, far below that). numeric stays a string: cast in SQL if needed.
import pg from 'pg';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import * as schema from './schema.js';

const INT8_OID = 20;
pg.types.setTypeParser(INT8_OID, (v: string) => Number(v));

export type Db = NodePgDatabase<typeof schema>;

export interface DbHandle {
  db: Db;
  pool: pg.Pool;
  /** The URL with its password redacted. */
  url: string;
  close(): Promise<void>;
}

export class DatabaseUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUrlError';
  }
}

export interface ParsedDatabaseUrl {
  host: string;
  port: number;
  database: string;
  user: string;
}

const EXAMPLE = 'postgres://USER:PASSWORD@HOST:5432/DATABASE';

/** Validates a PostgreSQL connection URL; `source` names where it came from in error messages. */
export function parseDatabaseUrl(url: string | undefined, source = 'DATABASE_URL'): ParsedDatabaseUrl {
  if (url === undefined || url.trim() === '') {
    throw new DatabaseUrlError(
      `${source} is not set: expected a PostgreSQL URL like ${EXAMPLE} (run \`npm run stack -- up\` to start a local database and print it).`,
    );
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DatabaseUrlError(`${source} is malformed (not a URL): expected ${EXAMPLE}, got "${redactDatabaseUrl(url)}".`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new DatabaseUrlError(
      `${source} is malformed: scheme must be postgres:// or postgresql://, got "${u.protocol}//" (expected ${EXAMPLE}).`,
    );
  }
  const host = u.hostname || (u.searchParams.get('host') ?? '');
  if (host === '') {
    throw new DatabaseUrlError(`${source} is malformed: no host (expected ${EXAMPLE}, got "${redactDatabaseUrl(url)}").`);
  }
  let port = 5432;
  if (u.port !== '') {
    port = Number(u.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new DatabaseUrlError(`${source} is malformed: bad port "${u.port}".`);
    }
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) {
    throw new DatabaseUrlError(
      `${source} is malformed: no database name in the path (expected ${EXAMPLE}, got "${redactDatabaseUrl(url)}").`,
    );
  }
  return { host, port, database, user: decodeURIComponent(u.username) };
}

/** The URL with any password replaced by ***; never throws. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    // Not a URL: hide anything between ':' and '@' that looks like a password.
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

export function openDb(url: string | undefined = process.env.DATABASE_URL): DbHandle {
  const parsed = parseDatabaseUrl(url, url === process.env.DATABASE_URL ? 'DATABASE_URL' : 'database URL');
  const connectionString = url as string;
  const pool = new pg.Pool({ connectionString, connectionTimeoutMillis: 5000, max: 10 });
  const where = `${parsed.host}:${parsed.port}/${parsed.database}`;
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', (err) => {
    console.error(`[db] idle PostgreSQL connection to ${where} failed: ${err.message}`);
  });
  const db = drizzle(pool, { schema });
  let closed = false;
  return {
    db,
    pool,
    url: redactDatabaseUrl(connectionString),
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/** Checks that the database answers; the error names the server (never the password). */
export async function pingDb(handle: DbHandle, timeoutMs = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      handle.pool.query('SELECT 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    throw new Error(`PostgreSQL at ${handle.url} is unreachable: ${(err as Error).message}`, { cause: err });
  } finally {
    if (timer) clearTimeout(timer);
  }
}
