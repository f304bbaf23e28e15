// Code version of this worker for every trial's provenance: the package version and, when the code runs from a
// git checkout, the commit (read from .git, no subprocess). Read once per process.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CodeVersion { package: string; commit: string | null }

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let cached: CodeVersion | undefined;

function gitCommit(): string | null {
  try {
    const git = join(root, '.git');
    // a worktree's .git is a file naming the real git directory
    const dir = existsSync(git) && readFileSync(git, 'utf8').startsWith('gitdir:') ? readFileSync(git, 'utf8').slice(7).trim() : git;
    const head = readFileSync(join(dir, 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return /^[0-9a-f]{40}$/.test(head) ? head : null;
    const ref = head.slice(5);
    for (const d of [dir, readCommonDir(dir)]) {
      if (!d) continue;
      if (existsSync(join(d, ref))) return readFileSync(join(d, ref), 'utf8').trim();
      const packed = join(d, 'packed-refs');
      if (existsSync(packed)) {
        const line = readFileSync(packed, 'utf8').split('\n').find((l) => l.endsWith(` ${ref}`));
        if (line) return line.split(' ')[0];
      }
    }
    return null;
  } catch {
    return null; // not a checkout (an installed package): the package version stands alone
  }
}

function readCommonDir(dir: string): string | null {
  const f = join(dir, 'commondir');
  return existsSync(f) ? join(dir, readFileSync(f, 'utf8').trim()) : null;
}

export function codeVersion(): CodeVersion {
  if (!cached) {
    let pkg = 'unknown';
    try {
      pkg = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
    } catch {
      // keep 'unknown'
    }
    cached = { package: pkg, commit: gitCommit() };
  }
  return cached;
}
