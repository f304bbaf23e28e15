// `unlearn query "SQL" [--format table|json|csv] [--max-rows N] [--max-bytes N] [--timeout-ms MS] [--allow-writer-role]`:
// one read-only query. Connects as the read-only role (UNLEARN_QUERY_DATABASE_URL, set by `stack env`); without
// it, DATABASE_URL is used only if its role cannot write (or with --allow-writer-role). See db/query.ts.
import { Command, InvalidArgumentError, Option } from 'commander';
import Table from 'cli-table3';
import { DatabaseUrlError, openDb, redactDatabaseUrl } from '../db/client.js';
import { QUERY_LIMITS, ReadOnlyQueryError, runReadOnlyQuery, type QueryResultSet } from '../db/query.js';
import { QUERY_URL_VAR, QueryRoleError } from '../db/roles.js';

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString();
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function formatResultSet(r: QueryResultSet, format: 'table' | 'json' | 'csv'): string {
  if (format === 'json') return JSON.stringify(r.rows, null, 2) + '\n';
  if (format === 'csv') {
    const q = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    return [r.fields.map(q).join(','), ...r.rows.map((row) => r.fields.map((f) => q(cell(row[f]))).join(','))].join('\n') + '\n';
  }
  const t = new Table({ head: r.fields, style: { head: [], border: [] } });
  for (const row of r.rows) t.push(r.fields.map((f) => cell(row[f])));
  return t.toString() + `\n(${r.rows.length} row${r.rows.length === 1 ? '' : 's'})\n`;
}

/** The URL `query` and the dashboard read with, and where it came from (for messages). */
export function readerUrl(env: NodeJS.ProcessEnv = process.env): { url: string | undefined; source: string } {
  if (env[QUERY_URL_VAR]) return { url: env[QUERY_URL_VAR], source: QUERY_URL_VAR };
  return { url: env.DATABASE_URL, source: 'DATABASE_URL' };
}

const int = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${what} must be a whole number >= 0, got "${v}"`);
  return n;
};

export function register(program: Command): void {
  program.command('query')
    .description('run one read-only SQL query against the results database (as the read-only role; writes are refused)')
    .argument('<sql>', 'one query that returns rows, e.g. "SELECT * FROM leaderboard"')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'csv']).default('table'))
    .option('--max-rows <n>', 'fetch at most n rows', int('--max-rows'), QUERY_LIMITS.maxRows)
    .option('--max-bytes <n>', 'fetch at most n bytes of row data', int('--max-bytes'), QUERY_LIMITS.maxBytes)
    .option('--timeout-ms <ms>', `overall time limit (at most ${QUERY_LIMITS.maxTimeoutMs})`, int('--timeout-ms'), QUERY_LIMITS.timeoutMs)
    .option('--allow-writer-role', `accept a role that can write (when ${QUERY_URL_VAR} is not set); still a read-only transaction`, false)
    .action(async (text: string, o: { format: 'table' | 'json' | 'csv'; maxRows: number; maxBytes: number; timeoutMs: number; allowWriterRole: boolean }) => {
      const { url, source } = readerUrl();
      let h: ReturnType<typeof openDb>;
      try {
        h = openDb(url);
      } catch (e) {
        return fail(e);
      }
      try {
        const r = await runReadOnlyQuery(h.pool, text, { timeoutMs: o.timeoutMs, maxRows: o.maxRows, maxBytes: o.maxBytes, allowWriterRole: o.allowWriterRole, source });
        process.stdout.write(formatResultSet(r, o.format));
        if (r.truncated) {
          process.stderr.write(`query: stopped at ${r.rows.length} rows (${r.bytes} bytes): more rows exist; raise --${r.truncated === 'rows' ? 'max-rows' : 'max-bytes'} or narrow the query\n`);
        }
      } catch (e) {
        fail(e);
      } finally {
        await h.close();
      }
    });
}

/** A refusal or a failed query: its message (never a stack trace or a password) and exit status 1. */
export function fail(e: unknown): void {
  const known = e instanceof ReadOnlyQueryError || e instanceof DatabaseUrlError || e instanceof QueryRoleError;
  process.stderr.write(`error: ${known ? (e as Error).message : `query: ${redactDatabaseUrl((e as Error)?.message ?? String(e))}`}\n`);
  process.exitCode = 1;
}
