#!/usr/bin/env node
// `npm test [-- FILTER...]`: brings up the test stack (infra/stack.ts, profile test: services from the environment
// when configured, else started locally), exports TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DATABASE_URL and S3_*,
// runs every test/**/*.test.ts (or those whose path contains one of the FILTER arguments) with
// `node --import tsx --test --test-concurrency=1`, stops what it started, and exits with the tests' status.
// When it manages the local PostgreSQL it gives the run a fresh database (dropped at the end), so runs never
// see each other's rows. Plain JS on purpose: it is the entry point that must run before anything is compiled.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const t0 = Date.now();
const secs = (t) => ((Date.now() - t) / 1000).toFixed(1) + ' s';

/** test/**\/*.test.ts, sorted (Node 20's --test takes no globs). */
function findTests(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...findTests(p));
    else if (e.isFile() && e.name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

let files = findTests(join(root, 'test')).map((f) => relative(root, f));
if (filters.length) files = files.filter((f) => filters.some((flt) => f.includes(flt) || f.split(sep).join('/').includes(flt)));
if (files.length === 0) {
  console.error(`npm test: no test files match ${filters.length ? filters.join(', ') : 'test/**/*.test.ts'}`);
  process.exit(1);
}

const stackMod = await tsImport('../infra/stack.ts', import.meta.url);
const config = await tsImport('../config/index.ts', import.meta.url);
let stack;
let scratch;
let child;
let cleaning;
async function cleanup() {
  cleaning ??= (async () => {
    if (scratch) await scratch.drop().catch((e) => console.error(`[test] could not drop ${scratch.name}: ${e.message}`));
    if (stack) await stack.stop().catch((e) => console.error(`[test] stopping the stack: ${e.message}`));
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    console.error(`[test] ${sig}: stopping`);
    child?.kill(sig);
    void cleanup().then(() => process.exit(130));
  });
}

let code = 1;
try {
  const tStack = Date.now();
  stack = await stackMod.ensureStack({ profile: 'test', log: (l) => console.error(`[stack] ${l}`) });
  let databaseUrl = stack.databaseUrl;
  let queryDatabaseUrl = stack.queryDatabaseUrl;
  if (stack.sources.postgres !== 'env') {
    await dropStaleRunDatabases(stack.databaseUrl);
    scratch = await stackMod.createScratchDatabase(stack.databaseUrl, 'unlearn_test_run', { queryUrl: stack.queryDatabaseUrl, restrictPublic: true, superuser: stack.superuser });
    databaseUrl = scratch.url;
    queryDatabaseUrl = scratch.queryUrl;
  }
  const env = { ...process.env, ...stackMod.stackEnv({ ...stack, databaseUrl, queryDatabaseUrl }) };
  console.log(`[test] stack ready in ${secs(tStack)}; started now: ${stack.started.length ? stack.started.join(', ') : 'nothing'}`);
  for (const l of stackMod.describeStack({ ...stack, databaseUrl, queryDatabaseUrl })) console.log(`[test]   ${l}`);
  if (scratch) console.log(`[test]   (fresh database ${scratch.name} for this run)`);
  console.log(`[test] running ${files.length} file(s)`);
  const tTests = Date.now();
  code = await new Promise((resolveP) => {
    child = spawn(
      process.execPath,
      [
        '--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec',
        // A hung test file fails after TEST_TIMEOUT_MS (default 10 min) instead of hanging CI; a file that leaves a
        // handle open (pool, timer) still ends when its tests are done.
        `--test-timeout=${config.intVar(process.env, 'TEST_TIMEOUT_MS', 600_000)}`, '--test-force-exit',
        ...files,
      ],
      { cwd: root, env, stdio: 'inherit' },
    );
    child.on('exit', (c, s) => resolveP(c ?? (s ? 1 : 0)));
    child.on('error', (e) => {
      console.error(`[test] could not run node --test: ${e.message}`);
      resolveP(1);
    });
  });
  console.log(`[test] tests ${code === 0 ? 'passed' : 'FAILED'} in ${secs(tTests)} (total ${secs(t0)})`);
} catch (err) {
  console.error(`[test] ${err.message}`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);

/** Drops per-run databases left behind by killed runs (older than 6 hours). */
async function dropStaleRunDatabases(baseUrl) {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    const { rows } = await c.query("SELECT datname FROM pg_database WHERE datname LIKE 'unlearn_test_run_%'");
    for (const { datname } of rows) {
      const born = parseInt(datname.split('_')[3] ?? '', 36);
      if (Number.isFinite(born) && Date.now() - born > 6 * 3600_000) {
        await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => {});
      }
    }
  } finally {
    await c.end();
  }
}
