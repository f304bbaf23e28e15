// `unlearn report [filters] [--format md|latex|table] [--out FILE] [--svg FILE]`: the paper-style table
// (rows: methods; columns: Δforget, ΔMIA, Δtest, retain accuracy, cost; mean ± 95% t-interval) and the
// trade-off plot (forget gap vs test gap) as SVG. One table per comparable setting (setting key), headed by the
// setting's readable summary; --setting-spec adds the full specs.
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { leaderboard } from '../db/leaderboard.js';
import { formatReport, tradeoffSvg } from '../db/leaderboard-format.js';
import { addFilterOptions, emit, settingSpecText, withDatabase, type FilterOptions } from './leaderboard.js';

export function register(program: Command): void {
  addFilterOptions(program.command('report').description('paper-style table (methods × Δforget, ΔMIA, Δtest, retain acc, cost) and the trade-off plot'))
    .addOption(new Option('--format <format>', 'table format').choices(['md', 'latex', 'table']).default('md'))
    .option('--out <file>', 'write the table to a file instead of stdout')
    .option('--svg <file>', 'also write the trade-off plot (Δforget vs Δtest) as SVG')
    .action(async (o: FilterOptions & { format: 'md' | 'latex' | 'table'; out?: string; svg?: string }) => {
      const { rows, specs } = await withDatabase(async (h) => {
        const found = await leaderboard(h.db, { sweep: o.sweep, dataset: o.dataset, forgetKind: o.forgetKind, rankBy: o.rankBy });
        return { rows: found, specs: o.settingSpec ? await settingSpecText(h.db, found) : '' };
      });
      emit(formatReport(rows, o.format) + (o.format === 'latex' ? specs.replace(/^/gm, '% ') : specs), o.out);
      if (o.svg) {
        writeFileSync(o.svg, tradeoffSvg(rows));
        process.stderr.write(`wrote ${o.svg}\n`);
      }
    });
}
