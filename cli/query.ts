// `unlearn query "SQL" [--format table|json|csv] [--max-rows N] [--timeout-ms MS]`: read-only SQL.
// Uses UNLEARN_QUERY_DATABASE_URL when set (e.g. a SELECT-only role), else DATABASE_URL.
import { Command, Option } from 'commander';
import Table from 'cli-table3';
import { openDb } from '../db/client.js';
import { runReadOnlyQuery, type QueryResultSet } from '../db/query.js';

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

export function register(program: Command): void {
  program.command('query')
    .description('run one read-only SQL statement against the results database (writes are refused)')
    .argument('<sql>', 'one SQL statement, e.g. "SELECT * FROM leaderboard"')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'csv']).default('table'))
    .option('--max-rows <n>', 'print at most n rows', (v) => Number.parseInt(v, 10), 10000)
    .option('--timeout-ms <ms>', 'statement timeout', (v) => Number.parseInt(v, 10), 60000)
    .action(async (text: string, o: { format: 'table' | 'json' | 'csv'; maxRows: number; timeoutMs: number }) => {
      const url = process.env.UNLEARN_QUERY_DATABASE_URL || process.env.DATABASE_URL;
      const h = openDb(url);
      try {
        const r = await runReadOnlyQuery(h.pool, text, { timeoutMs: o.timeoutMs, maxRows: o.maxRows });
        process.stdout.write(formatResultSet(r, o.format));
      } finally {
        await h.close();
      }
    });
}
