// `npm run config:docs`: rewrites the README's configuration tables from config/vars.ts (between the markers
// below). test/foundation/config.test.ts fails while the README differs from what this would write.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configTableMarkdown } from './vars.js';

export const README = join(dirname(fileURLToPath(import.meta.url)), '..', 'README.md');
export const BEGIN = '<!-- config:begin (generated from config/vars.ts by `npm run config:docs`) -->';
export const END = '<!-- config:end -->';

/** The README text with its configuration section regenerated. */
export function readmeWithConfig(readme: string): string {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no section between "${BEGIN}" and "${END}"`);
  return readme.slice(0, a + BEGIN.length) + '\n' + configTableMarkdown() + readme.slice(b);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const before = readFileSync(README, 'utf8');
  const after = readmeWithConfig(before);
  if (after !== before) writeFileSync(README, after);
  console.log(after === before ? 'README.md: configuration tables already current' : 'README.md: configuration tables rewritten');
}
