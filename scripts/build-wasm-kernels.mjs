#!/usr/bin/env node
// Compiles our AssemblyScript kernels (ml/kernels/assembly/*.ts) into ml/kernels/assembly/build/:
//   <name>-relaxed.wasm  SIMD128 + relaxed SIMD (fused multiply-add), used when the engine validates it
//   <name>-simd.wasm     SIMD128 only (fallback)
// The .wasm files are committed so running the library needs no compiler; test/ml/wasm-kernels-build.test.ts
// recompiles and checks the bytes are identical. `--check` compares instead of writing (exit 1 on a difference).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = path.join(root, 'ml/kernels/assembly');
const outDir = path.join(srcDir, 'build');
const check = process.argv.includes('--check');
const require = createRequire(import.meta.url);
const asc = path.join(path.dirname(require.resolve('assemblyscript/package.json')), 'bin/asc.js');

const variants = { relaxed: ['--enable', 'simd', '--enable', 'relaxed-simd'], simd: ['--enable', 'simd'] };
const sources = readdirSync(srcDir).filter((f) => f.endsWith('.ts'));
const tmp = mkdtempSync(path.join(tmpdir(), 'wasm-kernels-'));
let differ = 0;
try {
  mkdirSync(outDir, { recursive: true });
  for (const src of sources) {
    for (const [variant, flags] of Object.entries(variants)) {
      const name = `${path.basename(src, '.ts')}-${variant}.wasm`;
      const out = path.join(tmp, name);
      // --runtime stub: no GC, no allocator; --importMemory: the kernels work on the tfjs backend's heap.
      execFileSync(process.execPath, [asc, path.join(srcDir, src), '-O3', '--noAssert', '--runtime', 'stub', '--importMemory', ...flags, '-o', out], {
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      const bytes = readFileSync(out);
      // A data segment would be written into the imported (tfjs) heap at instantiation: refuse it.
      if (hasDataSection(bytes)) throw new Error(`${name}: has a data section; kernels must not carry static data`);
      const dest = path.join(outDir, name);
      if (check) {
        let old;
        try {
          old = readFileSync(dest);
        } catch {
          old = undefined;
        }
        if (!old || !old.equals(bytes)) {
          differ++;
          console.error(`${path.relative(root, dest)} differs from a fresh build of ${path.relative(root, path.join(srcDir, src))}`);
        }
      } else {
        writeFileSync(dest, bytes);
        console.log(`${path.relative(root, dest)}: ${bytes.length} bytes`);
      }
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (differ) {
  console.error('run `npm run build:wasm-kernels` and commit ml/kernels/assembly/build/');
  process.exit(1);
}

function hasDataSection(bytes) {
  let i = 8;
  while (i < bytes.length) {
    const id = bytes[i++];
    let size = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[i++];
      size |= (b & 0x7f) << shift;
      shift += 7;
      if (!(b & 0x80)) break;
    }
    if (id === 11) return true;
    i += size;
  }
  return false;
}
