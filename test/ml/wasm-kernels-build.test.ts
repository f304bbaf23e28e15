// The committed WebAssembly kernels (ml/kernels/assembly/build/*.wasm) are exactly what their AssemblyScript
// source compiles to, and carry no data section (one would overwrite the tfjs heap they are instantiated on).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

void test('committed wasm kernels match a fresh build of their AssemblyScript source', () => {
  const script = fileURLToPath(new URL('../../scripts/build-wasm-kernels.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `build check failed:\n${r.stdout}\n${r.stderr}`);
});
