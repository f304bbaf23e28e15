// `unlearn leaderboard [--sweep ID] [--dataset NAME] [--forget-kind KIND] [--rank-by CRIT] [--format F] [--out FILE]`
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { openDb } from '../db/client.js';
import { leaderboard, RANK_BY, settingSpecs, type LeaderboardRow, type RankBy } from '../db/leaderboard.js';
import type { ResultsDb } from '../db/record.js';
import { FORMATS, formatLeaderboard, type Format } from '../db/leaderboard-format.js';
import { databaseUrl } from '../config/index.js';

export interface FilterOptions { sweep?: string; dataset?: string; forgetKind?: string; rankBy: RankBy; settingSpec?: boolean }

export function addFilterOptions(cmd: Command): Command {
  return cmd
    .option('--sweep <id>', 'only trials of this sweep')
    .option('--dataset <name>', 'only this dataset')
    .option('--forget-kind <kind>', 'only this forget-set kind (iid, classes, memo, ...)')
    .addOption(new Option('--rank-by <criterion>', Object.entries(RANK_BY).map(([k, v]) => `${k}: ${v.about}`).join('; '))
      .choices(Object.keys(RANK_BY)).default('gap'))
    .option('--setting-spec', 'after the table, print the full spec of every setting shown (data set, model, recipe, forget set, evaluation, code versions)');
}

/** The full specs of the rows' settings as text (one JSON document per setting, by key). */
export async function settingSpecText(db: ResultsDb, rows: LeaderboardRow[]): Promise<string> {
  const specs = await settingSpecs(db, [...new Set(rows.map((r) => r.setting_key))]);
  return `\nsetting specs:\n${specs.map((s) => `#${s.key.replace(/^legacy-/, 'L').slice(0, 6)} ${s.key}\n  ${s.summary}\n  ${JSON.stringify(s.spec)}`).join('\n')}\n`;
}

/** Runs fn with an open database from DATABASE_URL and closes it; errors become a message and exit code 1. */
export async function withDatabase<T>(fn: (h: ReturnType<typeof openDb>) => Promise<T>): Promise<T> {
  const h = openDb(databaseUrl(process.env));
  try {
    return await fn(h);
  } finally {
    await h.close();
  }
}

export function emit(text: string, out?: string): void {
  if (out) {
    writeFileSync(out, text);
    process.stderr.write(`wrote ${out}\n`);
  } else process.stdout.write(text);
}

export function register(program: Command): void {
  addFilterOptions(program.command('leaderboard').description('leaderboard of unlearning methods: mean and 95% t-interval over seeds, gaps to the oracle'))
    .addOption(new Option('--format <format>', 'output format').choices([...FORMATS]).default('table'))
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (o: FilterOptions & { format: Format; out?: string }) => {
      const text = await withDatabase(async (h) => {
        const rows = await leaderboard(h.db, { sweep: o.sweep, dataset: o.dataset, forgetKind: o.forgetKind, rankBy: o.rankBy });
        return formatLeaderboard(rows, o.format) + (o.settingSpec && o.format !== 'json' && o.format !== 'csv' ? await settingSpecText(h.db, rows) : '');
      });
      emit(text, o.out);
    });
}
