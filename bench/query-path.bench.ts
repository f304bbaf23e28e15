// `npm run bench -- query-path`: the cost of the read-only query path (db/query.ts) as the read-only role
// (UNLEARN_QUERY_DATABASE_URL, e.g. from `eval "$(npm run -s stack -- env --profile test)"`): a trivial query end to
// end (own connection, role check, cursor, close) and a 1,000,000-row query stopped by the row bound, with the
// process's peak memory. Prints JSON and writes bench/results/query-path-<timestamp>.json.
import { openDb } from '../db/client.js';
import { runReadOnlyQuery } from '../db/query.js';
import { QUERY_URL_VAR } from '../db/roles.js';
import { machineInfo, writeBenchResult } from './result-file.js';

const url = process.env[QUERY_URL_VAR];
if (!url) {
  console.error(`${QUERY_URL_VAR} is not set: eval "$(npm run -s stack -- env --profile test)" first`);
  process.exit(2);
}
const runs = Number(process.env.QUERY_BENCH_RUNS) || 40;
const h = openDb(url);
const times: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  await runReadOnlyQuery(h.pool, 'SELECT 1');
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const t0 = performance.now();
const big = await runReadOnlyQuery(h.pool, 'SELECT g FROM generate_series(1, 1000000) g', { maxRows: 10_000 });
const bigMs = performance.now() - t0;
await h.close();
const result = {
  bench: 'query-path',
  machine: machineInfo(),
  selectOne: { runs, medianMs: +times[Math.floor(runs / 2)].toFixed(1), p95Ms: +times[Math.floor(runs * 0.95)].toFixed(1) },
  millionRows: { rows: big.rows.length, truncated: big.truncated, bytes: big.bytes, ms: +bigMs.toFixed(0) },
  peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
};
console.log(JSON.stringify(result, null, 2));
console.error(`wrote ${writeBenchResult('query-path', result)}`);
