// Leaderboard views against a direct computation on seeded data; filters; ranking; every output format
// carries the same numbers (through the CLI); report table and trade-off SVG.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { direct, freshDatabase, seedSweep, type FreshDb, type SeededTrial } from './helpers.js';
import { leaderboard, MEASURES, type LeaderboardRow } from '../../db/leaderboard.js';
import { formatReport, methodLabel, tradeoffSvg } from '../../db/leaderboard-format.js';
import { tQuantile } from '../../ml/unlearn/stats.js';

import { recordMetrics, recordTrial } from '../../db/record.js';

const run = promisify(execFile);
const entry = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));

let f: FreshDb;
let seededA: SeededTrial[];
let seededB: SeededTrial[];
before(async () => {
  f = await freshDatabase('leaderboard');
  seededA = await seedSweep(f.db, 'sweep-a', { seed: 11 });
  seededB = await seedSweep(f.db, 'sweep-b', { seed: 22, dataset: 'synth2' });
});
after(async () => { await f?.drop(); });

function close(actual: number | null, expected: number | null, what: string): void {
  if (expected === null) { assert.equal(actual, null, `${what}: expected null, got ${actual}`); return; }
  assert.ok(actual !== null, `${what}: expected ${expected}, got null`);
  assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${what}: ${actual} != ${expected}`);
}

const keyOf = (r: LeaderboardRow) => `${r.setting_key}|${r.method_key}`;

void describe('leaderboard', () => {
  void test('t975 in SQL equals the t quantile', async () => {
    const { rows } = await f.handle.pool.query<{ df: number; q: number }>('SELECT df, t975(df) AS q FROM generate_series(1, 160) df UNION ALL SELECT 1000, t975(1000) UNION ALL SELECT 100000, t975(100000)');
    for (const r of rows) close(r.q, tQuantile(0.975, r.df), `t975(${r.df})`);
  });

  void test('means and 95% t-intervals equal a direct computation on the seeded data', async () => {
    for (const [sweep, seeded] of [['sweep-a', seededA], ['sweep-b', seededB]] as const) {
      const rows = await leaderboard(f.db, { sweep });
      const expected = direct(seeded);
      assert.equal(rows.length, expected.size, `${sweep}: one row per configuration`);
      for (const r of rows) {
        const e = expected.get(keyOf(r));
        assert.ok(e, `unexpected row ${keyOf(r)}`);
        assert.equal(r.n_seeds, e.forget_acc.n);
        assert.equal(r.n_paired, e.forget_acc.n);
        for (const m of MEASURES) {
          close(r[`${m}_mean`], e[m].mean, `${keyOf(r)} ${m}_mean`);
          close(r[`${m}_ci`], e[m].ci, `${keyOf(r)} ${m}_ci`);
        }
      }
      // the failed trial is not counted; single-seed rows have no interval
      const neg = rows.find((r) => r.algorithm === 'neggrad')!;
      assert.equal(neg.n_trials, 1);
      assert.equal(neg.forget_acc_ci, null);
      const del = rows.find((r) => r.algorithm === 'del' && r.forget_kind === 'iid')!;
      assert.equal(del.n_trials, 5);
    }
  });

  void test('the maintained aggregate equals the direct aggregation after writes, oracle changes, deletes, concurrency', async () => {
    const compare = async (what: string) => {
      for (const [sw, ds, fk] of [[null, null, null], ['sweep-a', null, null], ['sweep-b', 'synth2', 'iid'], [null, 'synth', 'classes']]) {
        const q = (fn: string) => f.handle.pool.query(`SELECT * FROM ${fn}($1, $2, $3) ORDER BY setting_key, method_key`, [sw, ds, fk]);
        const [agg, live] = [(await q('leaderboard_for')).rows, (await q('leaderboard_live_for')).rows];
        assert.equal(agg.length, live.length, `${what}: row count (${sw}, ${ds}, ${fk})`);
        agg.forEach((a, i) => {
          for (const [k, v] of Object.entries(live[i])) {
            if (typeof v === 'number') close(a[k], v, `${what}: ${k}`);
            else assert.deepEqual(a[k], v, `${what}: ${k}`);
          }
        });
      }
    };
    await compare('after seeding');
    const oracle = seededA.find((s) => s.trial.role === 'oracle' && s.trial.forgetKind === 'iid' && s.trial.seed === 2)!;
    await recordMetrics(f.db, oracle.trial.id, [{ split: 'forget', name: 'accuracy', value: 0.123 }]);
    await compare('after an oracle metric changed');
    const del = seededA.find((s) => s.trial.algorithm === 'del' && s.trial.forgetKind === 'iid' && s.trial.seed === 1)!;
    await recordTrial(f.db, { ...del.trial, status: 'failed', error: 'x' });
    await compare('after a trial failed');
    await f.handle.pool.query('DELETE FROM trials WHERE id = $1', [seededA.find((s) => s.trial.algorithm === 'neggrad')!.trial.id]);
    await compare('after a trial was deleted');
    const same = seededA.filter((s) => s.trial.algorithm === 'finetune' && s.trial.forgetKind === 'classes');
    await Promise.all(same.map((s, i) => recordMetrics(f.db, s.trial.id, [{ split: 'test', name: 'accuracy', value: 0.5 + i / 100 }])));
    await compare('after concurrent writes to one configuration');
    // restore the seeded state for the other tests
    await recordMetrics(f.db, oracle.trial.id, [{ split: 'forget', name: 'accuracy', value: oracle.metrics.forget }]);
    await recordTrial(f.db, del.trial);
    await Promise.all(same.map((s) => recordMetrics(f.db, s.trial.id, [{ split: 'test', name: 'accuracy', value: s.metrics.test }])));
    const neg = seededA.find((s) => s.trial.algorithm === 'neggrad')!;
    await recordTrial(f.db, neg.trial);
    await recordMetrics(f.db, neg.trial.id, [
      { split: 'forget', name: 'accuracy', value: neg.metrics.forget }, { split: 'retain', name: 'accuracy', value: neg.metrics.retain },
      { split: 'test', name: 'accuracy', value: neg.metrics.test }, { split: 'forget', name: 'mia_efficacy', value: neg.metrics.mia },
    ]);
    await compare('after restoring');
  });

  void test('filters by sweep, dataset and forget kind', async () => {
    const all = await leaderboard(f.db);
    assert.deepEqual([...new Set(all.map((r) => r.dataset))].sort(), ['synth', 'synth2']);
    const a = await leaderboard(f.db, { sweep: 'sweep-a' });
    assert.ok(a.length > 0 && a.every((r) => r.dataset === 'synth'));
    const d = await leaderboard(f.db, { dataset: 'synth2', forgetKind: 'classes' });
    assert.ok(d.length > 0 && d.every((r) => r.dataset === 'synth2' && r.forget_kind === 'classes'));
    assert.equal(all.length, 2 * d.length * 2);
    assert.deepEqual(await leaderboard(f.db, { sweep: 'no-such-sweep' }), []);
  });

  void test('ranks within each setting by the chosen criterion; oracle rows unranked', async () => {
    for (const [rankBy, key, dir] of [['gap', 'gap_mean', 1], ['tow', 'tow_mean', -1], ['cost', 'cost_rel_mean', 1]] as const) {
      const rows = await leaderboard(f.db, { sweep: 'sweep-a', forgetKind: 'iid', rankBy });
      const ranked = rows.filter((r) => r.role === 'method');
      assert.deepEqual(ranked.map((r) => r.rank), ranked.map((_, i) => i + 1));
      for (let i = 1; i < ranked.length; i++) assert.ok(dir * (ranked[i][key]! - ranked[i - 1][key]!) >= 0, `${rankBy} order`);
      const oracle = rows.filter((r) => r.is_oracle);
      assert.equal(oracle.length, 1);
      assert.equal(oracle[0].rank, null);
      assert.equal(oracle[0].d_forget_mean, 0);
      assert.equal(oracle[0].tow_mean, 1);
    }
  });

  void test('every format renders the same numbers (through `unlearn leaderboard`)', async () => {
    const env = { ...process.env, DATABASE_URL: f.url };
    const cli = async (...args: string[]) => (await run(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, env, maxBuffer: 1 << 24 })).stdout;
    const filt = ['--sweep', 'sweep-a'];
    const json = JSON.parse(await cli('leaderboard', ...filt, '--format', 'json')) as LeaderboardRow[];
    assert.deepEqual(json, JSON.parse(JSON.stringify(await leaderboard(f.db, { sweep: 'sweep-a' }))));
    const shown = ['forget_acc', 'retain_acc', 'test_acc', 'mia', 'd_forget', 'd_mia', 'd_test', 'tow'] as const;
    // expected text of each cell, computed here independently of the formatter
    const expect = json.map((r) => [
      ...shown.map((m) => (r[`${m}_mean`] === null ? '–' : `${(r[`${m}_mean`]! * 100).toFixed(2)}${r[`${m}_ci`] === null ? '' : ` ± ${(r[`${m}_ci`]! * 100).toFixed(2)}`}`)),
      `${r.cost_rel_mean!.toFixed(3)}${r.cost_rel_ci === null ? '' : ` ± ${r.cost_rel_ci.toFixed(3)}`}`,
    ]);
    const numericCells = (cells: string[]) => cells.slice(4, 13);

    const md = (await cli('leaderboard', ...filt, '--format', 'md')).split('\n').filter((l) => l.startsWith('| ')).slice(2);
    assert.equal(md.length, json.length);
    md.forEach((line, i) => assert.deepEqual(numericCells(line.slice(2, -2).split(' | ')), expect[i], `md row ${i}`));

    const tex = (await cli('leaderboard', ...filt, '--format', 'latex')).split('\n').filter((l) => l.endsWith('\\\\')).slice(1);
    assert.equal(tex.length, json.length);
    tex.forEach((line, i) => {
      const cells = line.slice(0, -2).split(' & ').map((c) => c.trim().replace(/^\$(.*)\$$/, '$1').replace(' \\pm ', ' ± ').replace(/^--$/, '–'));
      assert.deepEqual(numericCells(cells), expect[i], `latex row ${i}`);
    });

    const table = (await cli('leaderboard', ...filt, '--format', 'table')).split('\n').filter((l) => l.startsWith('│')).slice(1);
    assert.equal(table.length, json.length);
    table.forEach((line, i) => assert.deepEqual(numericCells(line.split('│').slice(1, -1).map((c) => c.trim())), expect[i], `table row ${i}`));

    const csv = (await cli('leaderboard', ...filt, '--format', 'csv')).trim().split('\n');
    const header = csv[0].split(',');
    assert.equal(csv.length - 1, json.length);
    csv.slice(1).forEach((line, i) => {
      // values with commas (hparams JSON) are quoted; numeric columns come after them
      const cells = line.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.map((c) => c.replace(/,$/, ''));
      for (const m of MEASURES) {
        for (const s of ['mean', 'ci'] as const) {
          const v = cells[header.indexOf(`${m}_${s}`)];
          const want = json[i][`${m}_${s}`];
          assert.equal(v === '' ? null : Number(v), want, `csv row ${i} ${m}_${s}`);
        }
      }
    });
  });

  void test('report table and trade-off SVG (through `unlearn report`)', async () => {
    const rows = await leaderboard(f.db, { sweep: 'sweep-a', forgetKind: 'iid' });
    const md = formatReport(rows, 'md');
    for (const r of rows) {
      const line = md.split('\n').find((l) => l.startsWith(`| ${methodLabel(r).replace(/\|/g, '\\|')} |`));
      assert.ok(line, `report has a row for ${methodLabel(r)}`);
      const cells = line.slice(2, -2).split(' | ');
      const pm = (mean: number | null, ci: number | null, s: number, d: number) => `${(mean! * s).toFixed(d)}${ci === null ? '' : ` ± ${(ci * s).toFixed(d)}`}`;
      assert.deepEqual(cells.slice(1), [
        pm(r.d_forget_mean, r.d_forget_ci, 100, 2), pm(r.d_mia_mean, r.d_mia_ci, 100, 2), pm(r.d_test_mean, r.d_test_ci, 100, 2),
        pm(r.retain_acc_mean, r.retain_acc_ci, 100, 2), pm(r.cost_rel_mean, r.cost_rel_ci, 1, 3), String(r.n_seeds),
      ]);
    }
    const svg = tradeoffSvg(rows);
    const points = [...svg.matchAll(/<g class="point" data-method="([^"]*)" data-x="([^"]*)" data-y="([^"]*)">/g)];
    assert.equal(points.length, rows.length);
    points.forEach((p, i) => {
      close(Number(p[2]), rows[i].d_forget_mean! * 100, 'svg x');
      close(Number(p[3]), rows[i].d_test_mean! * 100, 'svg y');
    });

    const dir = mkdtempSync(path.join(tmpdir(), 'unlearn-report-'));
    const svgPath = path.join(dir, 'tradeoff.svg');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', entry, 'report', '--sweep', 'sweep-a', '--forget-kind', 'iid', '--format', 'latex', '--svg', svgPath], { cwd: root, env: { ...process.env, DATABASE_URL: f.url } });
    assert.match(stdout, /\\begin\{tabular\}/);
    assert.equal(stdout.match(/\\\\$/gm)!.length, rows.length + 1);
    assert.equal(readFileSync(svgPath, 'utf8'), svg);
  });
});
