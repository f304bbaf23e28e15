// The native kernels' loader refuses a binary it must not run and says why: missing, no stamp, built from another
// version of the source (a checkout updated without npm ci). Works on copies of the built files in a scratch folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNativeKernels } from '../../ml/kernels/native.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

void test('native kernel loader: loads a matching build, refuses a missing, unstamped or stale one with the reason', { skip: process.arch !== 'x64' ? 'x86-64 only' : false }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'native-loader-'));
  try {
    const files = { source: path.join(dir, 'kernels.cc'), binary: path.join(dir, 'unlearn_kernels.node'), stamp: path.join(dir, 'unlearn_kernels.json') };
    copyFileSync(here('../../ml/kernels/native/kernels.cc'), files.source);
    assert.match(loadNativeKernels(files).why ?? '', /not built/);
    copyFileSync(here('../../ml/kernels/native/build/unlearn_kernels.node'), files.binary);
    assert.match(loadNativeKernels(files).why ?? '', /stamp missing/);
    copyFileSync(here('../../ml/kernels/native/build/unlearn_kernels.json'), files.stamp);
    const ok = loadNativeKernels(files);
    assert.equal(ok.loaded, true, ok.why);
    assert.equal(typeof ok.addon?.batchMatMul, 'function');
    writeFileSync(files.source, '// edited\n', { flag: 'a' });
    const stale = loadNativeKernels(files);
    assert.equal(stale.loaded, false);
    assert.match(stale.why ?? '', /another version of kernels.cc/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
