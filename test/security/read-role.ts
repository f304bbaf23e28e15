// Test helper: the read-only role (UNLEARN_QUERY_DATABASE_URL, which `npm test` exports) pointed at a test's own
// database, with SELECT granted there by the database's owner.
import pg from 'pg';
import { grantReadAccess, QUERY_URL_VAR } from '../../db/roles.js';

/** The read-only role's URL for the database of ownerUrl (same search_path options), after granting it access. */
export async function readOnlyUrlFor(ownerUrl: string): Promise<string> {
  const base = process.env[QUERY_URL_VAR];
  if (!base) throw new Error(`${QUERY_URL_VAR} is not set: run the tests with \`npm test\` (the stack creates the read-only role)`);
  const owner = new URL(ownerUrl);
  const u = new URL(base);
  u.pathname = owner.pathname;
  u.search = owner.search;
  const c = new pg.Client({ connectionString: ownerUrl, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    await grantReadAccess(c, decodeURIComponent(u.username));
  } finally {
    await c.end();
  }
  return u.toString();
}
