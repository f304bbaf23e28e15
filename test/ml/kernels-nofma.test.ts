// The plain-SIMD build of our kernels (UNLEARN_WASM_FMA=0: no fused multiply-add, the fallback where the engine
// rejects relaxed SIMD) passes the same kernel tests against the CPU backend, in a process of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

void test('kernel tests pass on the plain SIMD build (UNLEARN_WASM_FMA=0)', () => {
  const file = fileURLToPath(new URL('./kernels.test.ts', import.meta.url));
  // a fresh test run (NODE_TEST_CONTEXT would make the child report to this runner instead of printing TAP)
  const env: NodeJS.ProcessEnv = { ...process.env, UNLEARN_WASM_FMA: '0' };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', file], { encoding: 'utf8', env });
  assert.equal(r.status, 0, `kernels.test.ts with UNLEARN_WASM_FMA=0 failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
  assert.match(r.stdout, /# pass [1-9]/);
  assert.match(r.stdout, /# fail 0/);
});
