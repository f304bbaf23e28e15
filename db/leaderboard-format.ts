// Rendering leaderboard rows: terminal table, Markdown, LaTeX, CSV, JSON; the paper-style report table; the
// trade-off plot (forget gap vs test gap) as hand-written SVG. Pure functions (no database).
// Every text format shows a measure through `display()` so all formats carry the same rounded numbers;
// CSV and JSON carry the raw values.
import Table from 'cli-table3';
import type { LeaderboardRow, Measure } from './leaderboard.js';
import { MEASURES } from './leaderboard.js';

export const FORMATS = ['table', 'md', 'latex', 'csv', 'json'] as const;
export type Format = (typeof FORMATS)[number];

/** How a measure is shown: scale and decimals. Accuracies, MIA, gaps, ToW and changed fraction in percent. */
const SCALE: Record<Measure, { scale: number; digits: number; unit: string }> = {
  forget_acc: { scale: 100, digits: 2, unit: '%' }, retain_acc: { scale: 100, digits: 2, unit: '%' },
  test_acc: { scale: 100, digits: 2, unit: '%' }, mia: { scale: 100, digits: 2, unit: '%' },
  d_forget: { scale: 100, digits: 2, unit: 'pp' }, d_retain: { scale: 100, digits: 2, unit: 'pp' },
  d_test: { scale: 100, digits: 2, unit: 'pp' }, d_mia: { scale: 100, digits: 2, unit: 'pp' },
  tow: { scale: 100, digits: 2, unit: '%' }, gap: { scale: 100, digits: 2, unit: 'pp' },
  cost_rel: { scale: 1, digits: 3, unit: '×' }, epochs_rel: { scale: 1, digits: 3, unit: '×' },
  wall_seconds: { scale: 1, digits: 1, unit: 's' }, params_changed: { scale: 100, digits: 2, unit: '%' },
};

/** A measure as text: "mean ± ci" (scaled, rounded), "mean" when there is no interval, "–" when missing. */
export function display(row: LeaderboardRow, m: Measure): string {
  const { scale, digits } = SCALE[m];
  const mean = row[`${m}_mean`];
  const ci = row[`${m}_ci`];
  if (mean === null || mean === undefined || Number.isNaN(mean)) return '–';
  const a = (mean * scale).toFixed(digits);
  return ci === null || ci === undefined || Number.isNaN(ci) ? a : `${a} ± ${(ci * scale).toFixed(digits)}`;
}

export function hparamsLabel(h: Record<string, unknown>): string {
  return Object.keys(h).sort().map((k) => `${k}=${typeof h[k] === 'object' ? JSON.stringify(h[k]) : String(h[k])}`).join(' ');
}

/** Human label of a row's method: "del [wg-channel α=0.3] lr=0.01", "retrain (oracle)", "original". The label
 *  is the sweep entry's (display only); the algorithm shows when it differs from the label. */
export function methodLabel(r: Pick<LeaderboardRow, 'label' | 'algorithm' | 'role' | 'localization' | 'alpha' | 'hparams'>): string {
  const name = r.role === 'method' && r.algorithm && r.algorithm !== r.label ? `${r.label} (${r.algorithm})` : r.label;
  const parts = [name + (r.role === 'oracle' ? ' (oracle)' : '')];
  if (r.localization !== null || r.alpha !== null) {
    parts.push(`[${[r.localization ?? '', r.alpha !== null ? `α=${r.alpha}` : ''].filter(Boolean).join(' ')}]`);
  }
  const h = hparamsLabel(r.hparams ?? {});
  if (h) parts.push(h);
  return parts.join(' ');
}

/** Short tag of a row's comparable setting: what a reader scans, plus the setting key's first 6 digits (the
 *  legend under each table gives the full summary; `--setting-spec` the whole spec). */
export function settingLabel(r: Pick<LeaderboardRow, 'dataset' | 'model' | 'forget_kind' | 'forget_fraction' | 'setting_key'>): string {
  return `${r.dataset} / ${r.model} / forget ${r.forget_kind} ${+(r.forget_fraction * 100).toFixed(4)}% #${settingId(r)}`;
}

export const settingId = (r: Pick<LeaderboardRow, 'setting_key'>): string => r.setting_key.replace(/^legacy-/, 'L').slice(0, 6);

/** "#id: summary" for each setting in the rows, in order of appearance. */
export function settingLegend(rows: LeaderboardRow[]): string[] {
  const seen = new Map<string, string>();
  for (const r of rows) if (!seen.has(r.setting_key)) seen.set(r.setting_key, `#${settingId(r)}: ${r.setting_summary ?? '(no summary recorded)'}`);
  return [...seen.values()];
}

/** The columns of the leaderboard's text formats. */
export const LEADERBOARD_COLUMNS: { title: string; measure?: Measure; get?: (r: LeaderboardRow) => string }[] = [
  { title: 'rank', get: (r) => (r.rank === null ? '–' : String(r.rank)) },
  { title: 'setting', get: settingLabel },
  { title: 'method', get: methodLabel },
  { title: 'seeds', get: (r) => String(r.n_seeds) },
  { title: 'forget acc %', measure: 'forget_acc' },
  { title: 'retain acc %', measure: 'retain_acc' },
  { title: 'test acc %', measure: 'test_acc' },
  { title: 'MIA %', measure: 'mia' },
  { title: 'Δforget pp', measure: 'd_forget' },
  { title: 'ΔMIA pp', measure: 'd_mia' },
  { title: 'Δtest pp', measure: 'd_test' },
  { title: 'ToW %', measure: 'tow' },
  { title: 'cost ×oracle', measure: 'cost_rel' },
];

function cells(r: LeaderboardRow, cols = LEADERBOARD_COLUMNS): string[] {
  return cols.map((c) => (c.measure ? display(r, c.measure) : c.get!(r)));
}

export function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|');
}

export function latexEscape(s: string): string {
  return s.replace(/\\/g, '\\textbackslash{}').replace(/([&%$#_{}])/g, '\\$1').replace(/~/g, '\\textasciitilde{}')
    .replace(/\^/g, '\\textasciicircum{}').replace(/α/g, '$\\alpha$').replace(/Δ/g, '$\\Delta$').replace(/×/g, '$\\times$')
    .replace(/–/g, '--')
    .replace(/±/g, '$\\pm$').replace(/−/g, '$-$');
}

function latexCell(s: string): string {
  const m = /^(-?[\d.]+) ± ([\d.]+)$/.exec(s);
  if (m) return `$${m[1]} \\pm ${m[2]}$`;
  return latexEscape(s);
}

function mdTable(header: string[], rows: string[][], textCols = 1): string {
  const out = [`| ${header.map(mdEscape).join(' | ')} |`, `|${header.map((_, i) => (i < textCols ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const r of rows) out.push(`| ${r.map(mdEscape).join(' | ')} |`);
  return out.join('\n') + '\n';
}

function latexTable(header: string[], rows: string[][], caption?: string, textCols = 1): string {
  const out = ['\\begin{table}[t]', '\\centering', '\\small'];
  if (caption) out.push(`\\caption{${latexEscape(caption)}}`);
  out.push(`\\begin{tabular}{${header.map((_, i) => (i < textCols ? 'l' : 'r')).join('')}}`, '\\toprule');
  out.push(header.map(latexEscape).join(' & ') + ' \\\\', '\\midrule');
  for (const r of rows) out.push(r.map(latexCell).join(' & ') + ' \\\\');
  out.push('\\bottomrule', '\\end{tabular}', '\\end{table}');
  return out.join('\n') + '\n';
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const CSV_COLUMNS = [
  'rank', 'setting_key', 'method_key', 'role', 'label', 'setting_summary', 'dataset', 'model', 'forget_kind',
  'forget_fraction', 'algorithm', 'localization', 'alpha', 'hparams', 'is_oracle', 'n_trials', 'n_seeds', 'n_paired', ...MEASURES.flatMap((m) => [`${m}_mean`, `${m}_ci`]),
] as const;

const NOTE = 'mean ± half-width of the 95% Student-t interval over seeds; Δ = oracle − method (pp = percentage points)';

export function formatLeaderboard(rows: LeaderboardRow[], format: Format): string {
  const header = LEADERBOARD_COLUMNS.map((c) => c.title);
  switch (format) {
    case 'json':
      return JSON.stringify(rows, null, 2) + '\n';
    case 'csv':
      return [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((c) => csvCell((r as unknown as Record<string, unknown>)[c])).join(','))].join('\n') + '\n';
    case 'md':
      return mdTable(header, rows.map((r) => cells(r)), 3) + `\n${settingLegend(rows).map((l) => `- ${mdEscape(l)}`).join('\n')}\n\n${NOTE}\n`;
    case 'latex':
      return latexTable(header, rows.map((r) => cells(r)), `Leaderboard (${NOTE}). Settings: ${settingLegend(rows).join('; ')}.`, 3);
    case 'table': {
      const t = new Table({ head: header, style: { head: [], border: [] } });
      for (const r of rows) t.push(cells(r));
      return t.toString() + `\nsettings:\n${settingLegend(rows).map((l) => `  ${l}`).join('\n')}\n${NOTE}\n`;
    }
    default:
      throw new Error(`unknown format "${String(format)}"; one of ${FORMATS.join(', ')}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Paper-style report: one table per setting, rows = methods, cols Δforget, ΔMIA, Δtest, retain acc, cost.

export const REPORT_COLUMNS: { title: string; measure?: Measure; get?: (r: LeaderboardRow) => string }[] = [
  { title: 'Method', get: methodLabel },
  { title: 'Δforget', measure: 'd_forget' },
  { title: 'ΔMIA', measure: 'd_mia' },
  { title: 'Δtest', measure: 'd_test' },
  { title: 'Retain acc', measure: 'retain_acc' },
  { title: 'Cost (×oracle)', measure: 'cost_rel' },
  { title: 'n', get: (r) => String(r.n_seeds) },
];

/** Rows grouped by comparable setting (setting key), headed by the setting's readable summary. */
export function groupBySetting(rows: LeaderboardRow[]): { setting: string; key: string; rows: LeaderboardRow[] }[] {
  const groups = new Map<string, LeaderboardRow[]>();
  for (const r of rows) {
    if (!groups.has(r.setting_key)) groups.set(r.setting_key, []);
    groups.get(r.setting_key)!.push(r);
  }
  return [...groups].map(([key, rs]) => ({ key, rows: rs, setting: `${rs[0].setting_summary ?? settingLabel(rs[0])} [setting #${settingId(rs[0])}]` }));
}

export function formatReport(rows: LeaderboardRow[], format: 'md' | 'latex' | 'table'): string {
  const header = REPORT_COLUMNS.map((c) => c.title);
  const parts: string[] = [];
  for (const g of groupBySetting(rows)) {
    const body = g.rows.map((r) => cells(r, REPORT_COLUMNS));
    if (format === 'md') parts.push(`### ${mdEscape(g.setting)}\n\n${mdTable(header, body)}`);
    else if (format === 'latex') parts.push(latexTable(header, body, `${g.setting}. Gaps and accuracies in percentage points/percent; ${NOTE}.`));
    else {
      const t = new Table({ head: header, style: { head: [], border: [] } });
      for (const r of body) t.push(r);
      parts.push(`${g.setting}\n${t.toString()}\n`);
    }
  }
  if (parts.length === 0) return format === 'latex' ? '% no completed trials match\n' : 'no completed trials match\n';
  return parts.join('\n') + (format === 'latex' ? '' : `\n${NOTE}\n`);
}

// ---------------------------------------------------------------------------------------------------------
// Trade-off plot: x = Δforget, y = Δtest (percentage points), 95% interval whiskers, oracle at the origin.

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceTicks(lo: number, hi: number, n = 6): number[] {
  const span = hi - lo || 1;
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= n) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) ticks.push(+v.toFixed(10));
  return ticks;
}

/** SVG scatter of Δforget (x) vs Δtest (y) per configuration, with 95% interval whiskers. */
export function tradeoffSvg(rows: LeaderboardRow[], opts: { width?: number; height?: number; title?: string } = {}): string {
  const W = opts.width ?? 720;
  const H = opts.height ?? 480;
  const m = { l: 64, r: 220, t: 40, b: 52 };
  const pts = rows
    .filter((r) => r.d_forget_mean !== null && r.d_test_mean !== null)
    .map((r) => ({
      r, x: r.d_forget_mean! * 100, y: r.d_test_mean! * 100,
      xe: (r.d_forget_ci ?? 0) * 100, ye: (r.d_test_ci ?? 0) * 100,
    }));
  const xs = pts.flatMap((p) => [p.x - p.xe, p.x + p.xe]).concat([0]);
  const ys = pts.flatMap((p) => [p.y - p.ye, p.y + p.ye]).concat([0]);
  const pad = (lo: number, hi: number) => { const d = (hi - lo) * 0.08 || 1; return [lo - d, hi + d]; };
  const [x0, x1] = pad(Math.min(...xs), Math.max(...xs));
  const [y0, y1] = pad(Math.min(...ys), Math.max(...ys));
  const sx = (v: number) => m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (v: number) => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
  const multi = new Set(pts.map((p) => settingLabel(p.r))).size > 1;
  const colorOf = new Map<string, string>();
  for (const p of pts) if (!colorOf.has(p.r.label)) colorOf.set(p.r.label, PALETTE[colorOf.size % PALETTE.length]);
  const f = (v: number) => v.toFixed(2);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${m.l}" y="22" font-size="14" font-weight="bold">${xmlEscape(opts.title ?? 'Trade-off: forget gap vs test gap (oracle − method, pp; 95% t-interval)')}</text>`);
  for (const t of niceTicks(x0, x1)) {
    out.push(`<line x1="${f(sx(t))}" y1="${m.t}" x2="${f(sx(t))}" y2="${H - m.b}" stroke="#eee"/>`);
    out.push(`<text x="${f(sx(t))}" y="${H - m.b + 16}" text-anchor="middle">${t}</text>`);
  }
  for (const t of niceTicks(y0, y1)) {
    out.push(`<line x1="${m.l}" y1="${f(sy(t))}" x2="${W - m.r}" y2="${f(sy(t))}" stroke="#eee"/>`);
    out.push(`<text x="${m.l - 6}" y="${f(sy(t) + 4)}" text-anchor="end">${t}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`);
  out.push(`<line x1="${f(sx(0))}" y1="${m.t}" x2="${f(sx(0))}" y2="${H - m.b}" stroke="#999" stroke-dasharray="4 3"/>`);
  out.push(`<line x1="${m.l}" y1="${f(sy(0))}" x2="${W - m.r}" y2="${f(sy(0))}" stroke="#999" stroke-dasharray="4 3"/>`);
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">Δforget accuracy (pp)</text>`);
  out.push(`<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">Δtest accuracy (pp)</text>`);
  pts.forEach((p, i) => {
    const c = p.r.is_oracle ? '#000' : colorOf.get(p.r.label)!;
    const label = methodLabel(p.r) + (multi ? ` — ${settingLabel(p.r)}` : '');
    const cx = sx(p.x), cy = sy(p.y);
    out.push(`<g class="point" data-method="${xmlEscape(label)}" data-x="${p.x}" data-y="${p.y}">`);
    out.push(`<title>${xmlEscape(`${label}: Δforget ${display(p.r, 'd_forget')} pp, Δtest ${display(p.r, 'd_test')} pp, n=${p.r.n_seeds}`)}</title>`);
    if (p.xe > 0) out.push(`<line x1="${f(sx(p.x - p.xe))}" y1="${f(cy)}" x2="${f(sx(p.x + p.xe))}" y2="${f(cy)}" stroke="${c}"/>`);
    if (p.ye > 0) out.push(`<line x1="${f(cx)}" y1="${f(sy(p.y - p.ye))}" x2="${f(cx)}" y2="${f(sy(p.y + p.ye))}" stroke="${c}"/>`);
    out.push(p.r.is_oracle
      ? `<rect x="${f(cx - 5)}" y="${f(cy - 5)}" width="10" height="10" fill="${c}"/>`
      : `<circle cx="${f(cx)}" cy="${f(cy)}" r="5" fill="${c}"/>`);
    out.push(`<text x="${f(cx + 7)}" y="${f(cy - 6)}" font-size="10">${i + 1}</text>`);
    out.push('</g>');
    const ly = m.t + 12 + i * 15;
    if (ly < H - 8) out.push(`<text x="${W - m.r + 10}" y="${ly}" fill="${c}" font-size="10">${i + 1}. ${xmlEscape(label.length > 38 ? label.slice(0, 37) + '…' : label)}</text>`);
  });
  if (pts.length === 0) out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H / 2}" text-anchor="middle">no completed trials with an oracle match</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
