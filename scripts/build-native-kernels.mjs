#!/usr/bin/env node
// Compiles our native x86-64 kernels (ml/kernels/native/kernels.cc, AVX2 + FMA) into a Node-API addon,
// ml/kernels/native/build/unlearn_kernels.node, with a stamp beside it (the source's sha256, compiler, flags) so the
// loader refuses a binary built from another version of the source. Runs from `npm ci` / `npm install`
// (postinstall, with --if-possible: a machine without a C++ compiler or off x86-64 keeps the WebAssembly kernels and
// the install succeeds, with a line saying why) and by hand: `npm run build:native-kernels`.
// Needs: Linux or macOS on x86-64, a C++17 compiler (CXX, else g++, c++, clang++). Node-API's headers come from the
// node-api-headers package (no download, no node-gyp).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'ml/kernels/native/kernels.cc');
const outDir = path.join(root, 'ml/kernels/native/build');
const target = path.join(outDir, 'unlearn_kernels.node');
const stampPath = path.join(outDir, 'unlearn_kernels.json');
const ifPossible = process.argv.includes('--if-possible');
// -fvisibility=hidden: only the Node-API entry point is exported; target attributes in the source select AVX2/FMA
// per function, so the module loads (and reports unsupported) on CPUs without them.
const FLAGS = ['-O3', '-std=c++17', '-shared', '-fPIC', '-fvisibility=hidden', '-fno-exceptions', '-DNODE_GYP_MODULE_NAME=unlearn_kernels'];

function fail(why) {
  if (ifPossible) {
    console.warn(`build-native-kernels: not built (${why}); the WebAssembly kernels serve instead (about half the speed on the big layers). Build later with: npm run build:native-kernels`);
    process.exit(0);
  }
  console.error(`build-native-kernels: FAILED: ${why}`);
  process.exit(1);
}

if (process.env.UNLEARN_NATIVE_KERNELS === '0') fail('UNLEARN_NATIVE_KERNELS=0');
if (process.arch !== 'x64' || (process.platform !== 'linux' && process.platform !== 'darwin')) {
  fail(`the kernels are x86-64 (AVX2) code for Linux or macOS; this is ${process.platform}/${process.arch}`);
}

function compiler() {
  const candidates = process.env.CXX ? [process.env.CXX] : ['g++', 'c++', 'clang++'];
  for (const c of candidates) {
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return { cmd: c, version: r.stdout.split('\n')[0].trim() };
  }
  return undefined;
}

function includeDir() {
  try {
    const dir = createRequire(import.meta.url)('node-api-headers').include_dir;
    if (existsSync(path.join(dir, 'node_api.h'))) return dir;
  } catch {
    // fall through to the running node's own headers
  }
  const own = path.resolve(path.dirname(process.execPath), '..', 'include', 'node');
  return existsSync(path.join(own, 'node_api.h')) ? own : undefined;
}

const cxx = compiler();
if (!cxx) fail(`no C++ compiler found (tried ${process.env.CXX ?? 'g++, c++, clang++'}; set CXX or install g++)`);
const include = includeDir();
if (!include) fail('Node-API headers not found (node-api-headers package missing and none beside node)');

const sourceBytes = readFileSync(source);
const sourceSha256 = createHash('sha256').update(sourceBytes).digest('hex');
mkdirSync(outDir, { recursive: true });
const tmp = `${target}.${process.pid}.tmp`;
const t0 = Date.now();
try {
  execFileSync(cxx.cmd, [...FLAGS, `-I${include}`, '-o', tmp, source], { stdio: ['ignore', 'inherit', 'inherit'] });
} catch (e) {
  rmSync(tmp, { force: true });
  fail(`${cxx.cmd} failed: ${e.message.split('\n')[0]}`);
}
renameSync(tmp, target);
writeFileSync(stampPath, JSON.stringify({ sourceSha256, compiler: cxx.version, flags: FLAGS, builtAt: new Date().toISOString() }, null, 2) + '\n');
console.log(`build-native-kernels: ${path.relative(root, target)} (${cxx.version}, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
