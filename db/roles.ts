// The read-only role behind `unlearn query` and the dashboard (least privilege by default).
// Exports:
//   QUERY_URL_VAR: 'UNLEARN_QUERY_DATABASE_URL', the URL of the read-only role (printed by `stack env`).
//   readRoleName(owner): the read-only role that goes with an owner role (`unlearn` → `unlearn_read`).
//   READ_ROLE_SETTINGS: the role's own settings (read-only by default, statement/lock/idle timeouts).
//   grantReadAccess(client, readRole): run as the owner of the tables: CONNECT, schema USAGE and SELECT on every
//       results table and view of the current schema (not schema_migrations), also for tables added later.
//   checkQueryRole(client, { allowWriter?, source? }): refuses a superuser, a role that is (or may become) a member of
//       pg_read_server_files, pg_write_server_files, pg_execute_server_program or pg_signal_backend, a CREATEROLE
//       role (it can grant itself those), and, unless allowWriter, a role that may write a results table.
// What is enforced where is in docs/results.md ("Security of the read paths").
import type pg from 'pg';

export const QUERY_URL_VAR = 'UNLEARN_QUERY_DATABASE_URL';

export const readRoleName = (owner: string): string => `${owner}_read`;

/** Per-role settings: the role's sessions start read-only and cannot hold locks or a transaction for long. */
export const READ_ROLE_SETTINGS: Record<string, string> = {
  default_transaction_read_only: 'on',
  statement_timeout: '60s',
  lock_timeout: '5s',
  idle_in_transaction_session_timeout: '60s',
};

/** Roles whose members can read or write server files, run programs on the server or signal other sessions. */
export const DANGEROUS_ROLES = ['pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program', 'pg_signal_backend'] as const;

export class QueryRoleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryRoleError';
  }
}

const ident = (s: string): string => {
  if (!/^[a-z_][a-z0-9_]*$/.test(s)) throw new Error(`bad SQL identifier ${JSON.stringify(s)}`);
  return `"${s}"`;
};

type Queryable = Pick<pg.ClientBase, 'query'> | Pick<pg.Pool, 'query'>;

/** Grants the read role what reading needs in the current database and schema; run it as the tables' owner. */
export async function grantReadAccess(client: Queryable, readRole: string): Promise<void> {
  const r = ident(readRole);
  const { rows } = await client.query<{ db: string; schema: string }>('SELECT current_database() AS db, current_schema() AS schema');
  const db = rows[0].db;
  const schema = rows[0].schema;
  await client.query(`GRANT CONNECT ON DATABASE "${db.replace(/"/g, '""')}" TO ${r}`);
  await client.query(`GRANT USAGE ON SCHEMA "${schema.replace(/"/g, '""')}" TO ${r}`);
  await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA "${schema.replace(/"/g, '""')}" TO ${r}`);
  await client.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA "${schema.replace(/"/g, '""')}" GRANT SELECT ON TABLES TO ${r}`);
  // the migrator's bookkeeping is not a result
  await client.query(`DO $$ BEGIN IF to_regclass('schema_migrations') IS NOT NULL THEN REVOKE ALL ON schema_migrations FROM ${r}; END IF; END $$`);
}

interface RoleFacts {
  user: string;
  rolsuper: boolean;
  rolcreaterole: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
  dangerous: string[];
  writable: string[];
}

/** What the connected role may do beyond reading (see checkQueryRole). */
export async function roleFacts(client: Queryable): Promise<RoleFacts> {
  const { rows } = await client.query<RoleFacts>(
    `SELECT current_user AS user, r.rolsuper, r.rolcreaterole, r.rolreplication, r.rolbypassrls,
       ARRAY(SELECT d FROM unnest($1::text[]) d WHERE pg_has_role(current_user, d, 'MEMBER')) AS dangerous,
       ARRAY(SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
               AND c.relkind IN ('r', 'p', 'v', 'm')
               AND (pg_has_role(current_user, c.relowner, 'MEMBER')
                    OR has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'))
             ORDER BY 1 LIMIT 5) AS writable
     FROM pg_roles r WHERE r.rolname = current_user`,
    [DANGEROUS_ROLES],
  );
  return rows[0];
}

/**
 * Refuses a role that could do more than read results. `source` names where the URL came from (for the message).
 * A role that may write results tables (e.g. DATABASE_URL's owner role) passes only with allowWriter; the
 * read-only transaction still applies then, but nothing stops it from locking or signalling what it owns.
 */
export async function checkQueryRole(client: Queryable, opts: { allowWriter?: boolean; source?: string } = {}): Promise<RoleFacts> {
  const f = await roleFacts(client);
  const source = opts.source ?? 'the database URL';
  const why: string[] = [];
  if (f.rolsuper) why.push('it is a superuser (it can read server files and run programs even in a read-only transaction)');
  if (f.rolcreaterole) why.push('it has CREATEROLE (it can grant itself server-file privileges)');
  if (f.rolreplication) why.push('it has REPLICATION');
  if (f.rolbypassrls) why.push('it has BYPASSRLS');
  if (f.dangerous.length > 0) why.push(`it is a member of ${f.dangerous.join(', ')}`);
  if (why.length > 0) {
    throw new QueryRoleError(
      `refusing to run as role "${f.user}" from ${source}: ${why.join('; ')}. ` +
        `Use the read-only role that \`npm run stack -- up\` creates (${QUERY_URL_VAR}, printed by \`npm run stack -- env\`), ` +
        'or a role with only SELECT grants.',
    );
  }
  if (!opts.allowWriter && f.writable.length > 0) {
    throw new QueryRoleError(
      `refusing to run as role "${f.user}" from ${source}: it can write or owns results tables (${f.writable.join(', ')}${f.writable.length === 5 ? ', …' : ''}). ` +
        `Set ${QUERY_URL_VAR} to the read-only role (\`npm run stack -- env\` prints it), or pass --allow-writer-role to accept this role ` +
        '(queries still run in a read-only transaction).',
    );
  }
  return f;
}
