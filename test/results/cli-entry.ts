// Test helper: a commander program with only the results commands registered, the same way cli/main.ts
// registers them. Run as `node --import tsx test/results/cli-entry.ts <command> ...`.
import { Command } from 'commander';
import { register as registerLeaderboard } from '../../cli/leaderboard.js';
import { register as registerReport } from '../../cli/report.js';
import { register as registerQuery } from '../../cli/query.js';
import { register as registerDashboard } from '../../cli/dashboard.js';

const program = new Command('unlearn').exitOverride();
registerLeaderboard(program);
registerReport(program);
registerQuery(program);
registerDashboard(program);
program.parseAsync(process.argv).catch((e: unknown) => {
  const err = e as { code?: string; exitCode?: number; message?: string };
  if (err.code?.startsWith('commander.')) process.exit(err.exitCode ?? 1);
  process.stderr.write(`error: ${err.message ?? String(e)}\n`);
  process.exit(1);
});
