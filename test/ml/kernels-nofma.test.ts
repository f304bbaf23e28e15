// The WebAssembly builds of our kernels pass the same kernel tests against the CPU backend, each in a process of its
// own: the relaxed-SIMD build with the native GEMM kernels off (UNLEARN_NATIVE_KERNELS=0: where they are not built),
// and the plain-SIMD build (UNLEARN_WASM_FMA=0: no fused multiply-add, the fallback where the engine rejects relaxed
// SIMD).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

for (const vars of [{ UNLEARN_NATIVE_KERNELS: '0' }, { UNLEARN_NATIVE_KERNELS: '0', UNLEARN_WASM_FMA: '0' }]) {
  const name = Object.entries(vars).map(([k, v]) => `${k}=${v}`).join(' ');
  void test(`kernel tests pass on the WebAssembly kernels (${name})`, () => {
    const file = fileURLToPath(new URL('./kernels.test.ts', import.meta.url));
    // a fresh test run (NODE_TEST_CONTEXT would make the child report to this runner instead of printing TAP)
    const env: NodeJS.ProcessEnv = { ...process.env, ...vars };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', file], { encoding: 'utf8', env });
    assert.equal(r.status, 0, `kernels.test.ts with ${name} failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
    assert.match(r.stdout, /# pass [1-9]/);
    assert.match(r.stdout, /# fail 0/);
  });
}
