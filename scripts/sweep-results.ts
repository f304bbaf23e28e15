// Writes a sweep's results file (sweeps/results/<name>.json) from the results database: the leaderboard rows
// with their setting and method keys, the evaluation protocol's scores (when the sweep has a protocol), the
// stages the sweep ran by kind with their recorded worker seconds, and how it was run (command, wall time, load).
// Usage: DATABASE_URL=… tsx scripts/sweep-results.ts --sweep ID --file SWEEP.yaml --command "npm run demo -- …"
//          --wall SECONDS [--backend TEXT] [--load TEXT] [--ran-at ISO] [--out FILE]
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDb } from '../db/client.js';
import { leaderboard, protocolScores } from '../db/leaderboard.js';
import { databaseUrl } from '../config/index.js';

const { values: a } = parseArgs({
  options: {
    sweep: { type: 'string' }, file: { type: 'string' }, command: { type: 'string' }, wall: { type: 'string' },
    backend: { type: 'string', default: 'wasm (2 gpu worker processes, one per core)' }, load: { type: 'string' },
    'ran-at': { type: 'string' }, out: { type: 'string' },
  },
});
for (const k of ['sweep', 'file', 'command', 'wall'] as const) {
  if (!a[k]) {
    console.error(`sweep-results: --${k} is required (usage in the file's head)`);
    process.exit(2);
  }
}
const sweepId = a.sweep as string;
const h = openDb(databaseUrl(process.env));
try {
  const rows = await leaderboard(h.db, { sweep: sweepId });
  if (rows.length === 0) throw new Error(`sweep ${sweepId}: no leaderboard rows in this database (did it run here?)`);
  const protocol = await protocolScores(h.db, sweepId);
  // stages of the sweep's current plan by kind: how many ran (not cached) and their recorded worker seconds
  const byKind = await h.pool.query(
    `SELECT s.kind, count(*)::int AS stages, count(*) FILTER (WHERE s.status = 'done')::int AS done,
            round(sum(s.wall_seconds)::numeric, 1)::float AS worker_seconds
       FROM plan_stages p JOIN stages s ON s.key = p.key
      WHERE p.plan_id = (SELECT id FROM sweep_plans WHERE sweep_id = $1 AND complete ORDER BY created_at DESC LIMIT 1)
      GROUP BY s.kind ORDER BY s.kind`,
    [sweepId],
  );
  const out = {
    sweep: sweepId,
    file: a.file,
    command: a.command,
    ranAt: a['ran-at'] ?? new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30) },
    backend: a.backend,
    load: a.load ?? `load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}`,
    wallSeconds: Number(a.wall),
    stagesByKind: byKind.rows,
    ...(protocol.length > 0
      ? { protocolScores: Object.fromEntries(protocol.map((p) => [p.label ?? p.algorithm ?? p.method_key, { neurips23_score: p.neurips23_score, neurips23_forget_quality: p.neurips23_forget_quality, lira_auc: p.lira_auc, lira_tpr_at_1fpr: p.lira_tpr_at_1fpr, lira_tpr_at_5fpr: p.lira_tpr_at_5fpr }])) }
      : {}),
    leaderboardCommand: `unlearn leaderboard --sweep ${sweepId} --format json`,
    leaderboard: rows,
  };
  const file = a.out ?? path.join('sweeps', 'results', `${sweepId}.json`);
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.error(`wrote ${file}: ${rows.length} leaderboard rows, ${protocol.length} protocol rows`);
} finally {
  await h.close();
}
