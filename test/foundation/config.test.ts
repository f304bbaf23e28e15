// Configuration (config/): one declaration of every variable, the README generated from it, values validated
// with errors that name the variable, Temporal settings through the SDK's own loader. Pure: no services.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKEND_NAMES, ConfigError, mlConfig, queueNames, temporalConfig, workerConfig } from '../../config/index.js';
import { BACKEND_ORDER } from '../../ml/backend.js';
import { VAR_NAMES } from '../../config/vars.js';
import { README, readmeWithConfig } from '../../config/docs.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

void test('the README\'s configuration tables are the ones config/vars.ts generates (npm run config:docs)', () => {
  const readme = readFileSync(README, 'utf8');
  assert.equal(readme, readmeWithConfig(readme), 'README.md is stale: run `npm run config:docs`');
});

/** Source files of the project (not node_modules, not generated output). */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || e.name === 'node_modules' || e.name === 'dashboard' || e.name === 'assembly') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (/\.(ts|mjs)$/.test(e.name)) out.push(p);
  }
  return out;
}

// Variables of the platform, not of this project.
const PLATFORM = new Set(['PATH', 'HOME', 'NODE_TEST_CONTEXT', 'npm_package_version', 'CI', 'USER', 'SHELL', 'TMPDIR']);

void test('every environment variable the code reads is declared in config/vars.ts', () => {
  const undeclared: string[] = [];
  for (const file of sources(root).filter((f) => !f.endsWith('config.test.ts'))) {
    const text = readFileSync(file, 'utf8');
    // env.NAME, env['NAME'], env?.NAME, and the names passed to the config helpers (intVar(env, 'NAME', ...))
    const re = /\benv(?:\?\.|\.|\[')([A-Za-z_][A-Za-z0-9_]*)|(?:intVar|listVar|flagVar)\([^,]+,\s*'([A-Z0-9_]+)'/g;
    for (const m of text.matchAll(re)) {
      const name = m[1] ?? m[2];
      if (!/^[A-Z][A-Z0-9_]+$/.test(name) && name !== 'npm_package_version') continue;
      if (!VAR_NAMES.has(name) && !PLATFORM.has(name)) undeclared.push(`${relative(root, file)}: ${name}`);
    }
  }
  assert.deepEqual(undeclared, [], 'declare these in config/vars.ts (and run npm run config:docs)');
});

void test('the ML library reads no environment variable', () => {
  const offenders = sources(join(root, 'ml')).filter((f) => /process\.env/.test(readFileSync(f, 'utf8')));
  assert.deepEqual(offenders.map((f) => relative(root, f)), []);
});

void test('Temporal settings: the SDK\'s standard variables, the older TLS names, and errors naming the variable', () => {
  const none = { HOME: mkdtempSync(join(tmpdir(), 'cfg-home-')) }; // no CLI config file there
  assert.deepEqual(temporalConfig(none), { address: '127.0.0.1:7233', namespace: 'default', tls: false });
  const cloud = temporalConfig({ ...none, TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'k' });
  assert.deepEqual([cloud.address, cloud.namespace, cloud.tls, cloud.apiKey], ['ns.acct.tmprl.cloud:7233', 'ns.acct', true, 'k']);
  const dir = mkdtempSync(join(tmpdir(), 'cfg-tls-'));
  writeFileSync(join(dir, 'c.pem'), 'CERT');
  writeFileSync(join(dir, 'k.pem'), 'KEY');
  for (const env of [
    { TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'c.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'k.pem') },
    { TEMPORAL_TLS_CERT: join(dir, 'c.pem'), TEMPORAL_TLS_KEY: join(dir, 'k.pem') },
  ]) {
    const tls = temporalConfig({ ...none, TEMPORAL_ADDRESS: 'h:7233', ...env }).tls as { clientCertPair?: { crt: Buffer; key: Buffer } };
    assert.equal(tls.clientCertPair?.crt.toString(), 'CERT');
    assert.equal(tls.clientCertPair?.key.toString(), 'KEY');
  }
  // the Temporal CLI's config file, with a profile; variables override it
  writeFileSync(join(dir, 'temporal.toml'), '[profile.research]\naddress = "t.internal:7233"\nnamespace = "research"\n');
  const fromFile = temporalConfig({ ...none, TEMPORAL_CONFIG_FILE: join(dir, 'temporal.toml'), TEMPORAL_PROFILE: 'research' });
  assert.deepEqual([fromFile.address, fromFile.namespace], ['t.internal:7233', 'research']);
  assert.equal(temporalConfig({ ...none, TEMPORAL_CONFIG_FILE: join(dir, 'temporal.toml'), TEMPORAL_PROFILE: 'research', TEMPORAL_NAMESPACE: 'x' }).namespace, 'x');
  assert.throws(() => temporalConfig({ ...none, TEMPORAL_ADDRESS: 'http://h:7233' }), /TEMPORAL_ADDRESS is malformed/);
  assert.throws(() => temporalConfig({ ...none, TEMPORAL_TLS_CERT: join(dir, 'c.pem') }), /TEMPORAL_TLS_KEY is missing/);
  assert.throws(() => temporalConfig({ ...none, TEMPORAL_CONFIG_FILE: join(dir, 'nope.toml') }), /TEMPORAL_CONFIG_FILE names .*nope\.toml, which does not exist/);
});

void test('ML and worker settings are validated and name the variable', () => {
  const d = mlConfig({ HOME: '/h' });
  assert.deepEqual(d, { wasmKernels: { fma: true, native: true, off: [] }, dataDir: '/h/.cache/unlearn-data' });
  const m = mlConfig({ HOME: '/h', UNLEARN_BACKEND: 'wasm', UNLEARN_WASM_FMA: '0', UNLEARN_NATIVE_KERNELS: '0', UNLEARN_WASM_KERNELS_OFF: 'asm, norm', UNLEARN_DATA_DIR: '/d', TF_NUM_INTRAOP_THREADS: '4' });
  assert.deepEqual(m, { backend: 'wasm', intraopThreads: 4, wasmKernels: { fma: false, native: false, off: ['asm', 'norm'] }, dataDir: '/d' });
  assert.throws(() => mlConfig({ UNLEARN_BACKEND: 'tpu' }), (e: Error) => e instanceof ConfigError && /UNLEARN_BACKEND is "tpu", not one of node-gpu, webgpu, node, wasm, cpu/.test(e.message));
  // UNLEARN_BACKEND offers exactly the backends the library can load
  assert.deepEqual([...BACKEND_NAMES].sort(), [...BACKEND_ORDER].sort());
  assert.throws(() => mlConfig({ UNLEARN_WASM_FMA: 'maybe' }), /UNLEARN_WASM_FMA is "maybe"/);
  assert.throws(() => mlConfig({ TF_NUM_INTRAOP_THREADS: '-2' }), /TF_NUM_INTRAOP_THREADS is "-2", expected a positive integer/);
  assert.deepEqual(queueNames({ UNLEARN_QUEUE_PREFIX: 'lab-' }), { gpu: 'lab-gpu', io: 'lab-io' });
  assert.throws(() => workerConfig({ TEMPORAL_ADDRESS: 'h:1', S3_ENDPOINT: 'http://s:1', S3_ACCESS_KEY_ID: 'a', S3_SECRET_ACCESS_KEY: 's', S3_BUCKET: 'b' }), /DATABASE_URL is not set/);
});
