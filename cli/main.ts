// `unlearn` CLI entry (commander). Each area registers its subcommands from cli/<name>.ts (`register(program)`).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { register as registerSweep } from './sweep.js';
import { register as registerWorker } from './worker.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const program = new Command().name('unlearn').description('machine-unlearning sweeps on Temporal').showHelpAfterError();
registerSweep(program);
registerWorker(program);
// Subcommands of other areas, registered when their files exist.
for (const name of ['leaderboard', 'report', 'query', 'dashboard']) {
  const file = path.join(here, `${name}.ts`);
  if (!existsSync(file)) continue;
  const mod = (await import(pathToFileURL(file).href)) as { register?: (p: Command) => void };
  mod.register?.(program);
}
await program.parseAsync(process.argv);
