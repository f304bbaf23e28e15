// `unlearn` CLI entry (commander). Each area registers its subcommands from cli/<name>.ts (`register(program)`).
// Only the area a command names is loaded (`unlearn sweep plan` never loads the worker, the dashboard's server
// or the leaderboard); help and unknown commands load every area, so commander can list and check them all.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';

const here = path.dirname(fileURLToPath(import.meta.url));
const AREAS = ['sweep', 'worker', 'leaderboard', 'report', 'query', 'dashboard'];
const program = new Command().name('unlearn').description('machine-unlearning sweeps on Temporal').showHelpAfterError();
const named = process.argv.slice(2).find((a) => !a.startsWith('-'));
for (const name of named !== undefined && AREAS.includes(named) ? [named] : AREAS) {
  const file = path.join(here, `${name}.ts`);
  if (!existsSync(file)) continue; // areas of other parts of the project register when their files exist
  const mod = (await import(pathToFileURL(file).href)) as { register?: (p: Command) => void };
  mod.register?.(program);
}
await program.parseAsync(process.argv);
