// Dashboard client: plain JS, no build step. Talks to the JSON API of cli/dashboard.ts.
'use strict';
const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

async function api(path) {
  const r = await fetch(path, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${await r.text()}`);
  return path.endsWith('.svg') || path.includes('.svg?') ? r.text() : r.json();
}

function pct(v, digits = 2) { return v === null || v === undefined ? '–' : (v * 100).toFixed(digits); }
function measure(row, m, scale = 100, digits = 2) {
  const mean = row[m + '_mean'], ci = row[m + '_ci'];
  if (mean === null || mean === undefined) return '–';
  return ci === null || ci === undefined ? (mean * scale).toFixed(digits) : `${(mean * scale).toFixed(digits)} ± ${(ci * scale).toFixed(digits)}`;
}
function hparamsLabel(h) { return Object.keys(h || {}).sort().map((k) => `${k}=${typeof h[k] === 'object' ? JSON.stringify(h[k]) : h[k]}`).join(' '); }
function methodLabel(r) {
  const name = r.role === 'method' && r.algorithm && r.algorithm !== r.label ? `${r.label} (${r.algorithm})` : r.label;
  const parts = [name + (r.role === 'oracle' ? ' (oracle)' : '')];
  if (r.localization !== null || r.alpha !== null) parts.push('[' + [r.localization || '', r.alpha !== null ? `α=${r.alpha}` : ''].filter(Boolean).join(' ') + ']');
  const h = hparamsLabel(r.hparams);
  if (h) parts.push(h);
  return parts.join(' ');
}

const settingId = (r) => String(r.setting_key).replace(/^legacy-/, 'L').slice(0, 6);
function settingTag(r) { return `${r.dataset} / ${r.model} / ${r.forget_kind} ${+(r.forget_fraction * 100).toFixed(4)}% #${settingId(r)}`; }

// Leaderboard columns: title, cell text, sort value.
const COLUMNS = [
  { key: 'rank', title: 'rank', text: (r) => (r.rank === null ? '–' : r.rank), sort: (r) => (r.rank === null ? Infinity : r.rank) },
  // one comparable setting per setting key: a short tag here, the summary on hover, the full spec on click
  { key: 'setting', title: 'setting', cls: 'text setting', text: settingTag, sort: (r) => `${r.dataset}/${r.model}/${r.forget_kind}/${r.forget_fraction}/${r.setting_key}` },
  { key: 'method', title: 'method', cls: 'text', text: methodLabel, sort: methodLabel },
  { key: 'seeds', title: 'seeds', text: (r) => r.n_seeds, sort: (r) => r.n_seeds },
  ...[['forget_acc', 'forget acc %'], ['retain_acc', 'retain acc %'], ['test_acc', 'test acc %'], ['mia', 'MIA %'],
    ['d_forget', 'Δforget pp'], ['d_mia', 'ΔMIA pp'], ['d_test', 'Δtest pp'], ['tow', 'ToW %']].map(([m, title]) =>
    ({ key: m, title, text: (r) => measure(r, m), sort: (r) => r[m + '_mean'] })),
  { key: 'cost_rel', title: 'cost ×oracle', text: (r) => measure(r, 'cost_rel', 1, 3), sort: (r) => r.cost_rel_mean },
];

const state = { rows: [], sortKey: null, sortDir: 1, filtersLoaded: false };

function filterQuery() {
  const f = new FormData($('#filters'));
  const p = new URLSearchParams();
  for (const [k, v] of f.entries()) if (v) p.set(k, v);
  return p.toString();
}

function renderLeaderboard() {
  const head = $('#leaderboard thead tr');
  if (!head.children.length) {
    for (const c of COLUMNS) {
      const th = document.createElement('th');
      th.textContent = c.title;
      th.dataset.key = c.key;
      if (c.cls) th.className = c.cls;
      th.addEventListener('click', () => {
        state.sortDir = state.sortKey === c.key ? -state.sortDir : 1;
        state.sortKey = c.key;
        renderLeaderboard();
      });
      head.appendChild(th);
    }
  }
  for (const th of head.children) {
    th.setAttribute('aria-sort', th.dataset.key === state.sortKey ? (state.sortDir > 0 ? 'ascending' : 'descending') : 'none');
  }
  let rows = state.rows.slice();
  if (state.sortKey) {
    const col = COLUMNS.find((c) => c.key === state.sortKey);
    rows.sort((a, b) => {
      const x = col.sort(a), y = col.sort(b);
      const xn = x === null || x === undefined, yn = y === null || y === undefined;
      if (xn || yn) return xn === yn ? 0 : xn ? 1 : -1; // missing values last in both directions
      return (x < y ? -1 : x > y ? 1 : 0) * state.sortDir;
    });
  }
  $('#leaderboard tbody').innerHTML = rows.map((r) =>
    `<tr class="lb-row${r.is_oracle ? ' oracle' : ''}" data-method="${esc(methodLabel(r))}" data-setting="${esc(r.setting_key)}">` +
    COLUMNS.map((c) => `<td class="${c.cls || ''}" data-key="${c.key}" data-sort="${esc(c.sort(r))}"${c.key === 'setting' ? ` title="${esc(r.setting_summary || '')} (click for the full spec)"` : ''}>${esc(c.text(r))}</td>`).join('') + '</tr>').join('') ||
    `<tr><td colspan="${COLUMNS.length}" class="text muted">no completed trials match</td></tr>`;
}

async function loadFilters() {
  const f = await api('/api/filters');
  const fill = (name, values, labels) => {
    const sel = $(`#filters select[name=${name}]`);
    const cur = sel.value;
    sel.innerHTML = (name === 'rankBy' ? '' : '<option value="">all</option>') +
      values.map((v, i) => `<option value="${esc(v)}"${v === cur ? ' selected' : ''}>${esc(labels ? labels[i] : v)}</option>`).join('');
  };
  fill('sweep', f.sweeps);
  fill('dataset', f.datasets);
  fill('forgetKind', f.forgetKinds);
  if (!state.filtersLoaded) fill('rankBy', f.rankBy.map((r) => r.key), f.rankBy.map((r) => `${r.key} (${r.about})`));
  state.filtersLoaded = true;
}

// Filter changes can overlap: only the answer to the latest request is shown (an older one may arrive last).
const latest = { leaderboard: 0, trials: 0 };

async function loadLeaderboard() {
  const q = filterQuery();
  const seq = ++latest.leaderboard;
  const [rows, svg] = await Promise.all([api('/api/leaderboard?' + q), api('/api/tradeoff.svg?' + q)]);
  if (seq !== latest.leaderboard) return;
  state.rows = rows;
  renderLeaderboard();
  $('#tradeoff').innerHTML = svg;
  const legend = new Map();
  for (const r of rows) if (!legend.has(r.setting_key)) legend.set(r.setting_key, `#${settingId(r)}: ${r.setting_summary || '(no summary recorded)'}`);
  $('#settings-legend').innerHTML = [...legend].map(([k, l]) => `<li data-setting="${esc(k)}">${esc(l)}</li>`).join('');
}

async function showSetting(key) {
  const s = await api('/api/settings/' + encodeURIComponent(key));
  $('#setting-spec').hidden = false;
  $('#setting-spec').textContent = `setting ${s.key}\n${s.summary}\n\n${JSON.stringify(s.spec, null, 2)}`;
}

async function loadSweeps() {
  const sweeps = await api('/api/sweeps');
  $('#sweeps tbody').innerHTML = sweeps.map((s) => {
    const total = s.planned || s.trials;
    const done = s.completed + s.failed;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    return `<tr class="sweep-row" data-sweep="${esc(s.id)}"><td class="text">${esc(s.id)}</td><td class="text">${esc(s.name)}</td><td class="text">${esc(s.status)}</td>` +
      `<td><span class="bar" title="${(frac * 100).toFixed(1)}%"><span data-width="${(frac * 100).toFixed(1)}"></span></span> ${(frac * 100).toFixed(0)}%</td>` +
      `<td>${s.completed} / ${total}</td><td>${s.failed}</td><td>${s.running}</td><td>${esc(new Date(s.updated_at).toLocaleString())}</td></tr>`;
  }).join('') || '<tr><td colspan="8" class="text muted">no sweeps yet</td></tr>';
  // widths through the CSSOM: the Content-Security-Policy allows no inline style attributes
  for (const bar of document.querySelectorAll('#sweeps .bar > span[data-width]')) bar.style.width = `${bar.dataset.width}%`;
}

async function loadTrials() {
  const sweep = new FormData($('#filters')).get('sweep') || '';
  $('#trials-scope').textContent = sweep ? `of ${sweep}` : '(latest, all sweeps)';
  const seq = ++latest.trials;
  const trials = await api('/api/trials' + (sweep ? '?sweep=' + encodeURIComponent(sweep) : ''));
  if (seq !== latest.trials) return;
  $('#trials tbody').innerHTML = trials.map((t) =>
    `<tr class="trial-row" data-trial="${esc(t.id)}"><td class="text">${esc(t.id)}</td><td class="text">${esc(t.label)}${t.role === 'oracle' ? ' (oracle)' : ''}${t.role === 'method' && t.algorithm !== t.label ? ` (${esc(t.algorithm)})` : ''}</td><td class="text">${esc(t.localization ?? '')}</td>` +
    `<td>${esc(t.alpha ?? '')}</td><td>${esc(t.seed)}</td><td class="text">${esc(t.status)}</td><td>${pct(t.forget_acc)}</td><td>${pct(t.retain_acc)}</td><td>${pct(t.test_acc)}</td><td>${pct(t.mia_efficacy)}</td></tr>`).join('');
}

function curveSvg(points, title) {
  const W = 320, H = 160, m = 30;
  const xs = points.map((p) => p.epoch), ys = points.map((p) => p.value);
  const x0 = Math.min(...xs), x1 = Math.max(...xs) || 1, y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = (v) => m + ((v - x0) / ((x1 - x0) || 1)) * (W - 2 * m), sy = (v) => H - m - ((v - y0) / ((y1 - y0) || 1)) * (H - 2 * m);
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${sx(p.epoch).toFixed(1)},${sy(p.value).toFixed(1)}`).join('');
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-size="10"><rect width="${W}" height="${H}" fill="#fff" stroke="#ddd"/>` +
    `<text x="${m}" y="14">${esc(title)}</text><path d="${d}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>` +
    `<text x="${m}" y="${H - 8}">epoch ${x0}</text><text x="${W - m}" y="${H - 8}" text-anchor="end">${x1}</text>` +
    `<text x="4" y="${m}">${y1.toPrecision(3)}</text><text x="4" y="${H - m}">${y0.toPrecision(3)}</text></svg>`;
}

async function showTrial(id) {
  const d = await api('/api/trials/' + encodeURIComponent(id));
  $('#detail-section').hidden = false;
  $('#detail-id').textContent = id;
  $('#detail-metrics tbody').innerHTML = d.metrics.map((m) => `<tr><td class="text">${esc(m.split)}.${esc(m.name)}</td><td>${Number(m.value).toFixed(4)}</td></tr>`).join('');
  const g = d.gaps || {};
  $('#detail-gaps tbody').innerHTML = ['oracle_trial_id', 'd_forget', 'd_retain', 'd_test', 'd_mia', 'tow', 'gap_score', 'cost_rel']
    .map((k) => `<tr><td class="text">${k}</td><td>${esc(g[k] === null || g[k] === undefined ? '–' : typeof g[k] === 'number' ? g[k].toFixed(4) : g[k])}</td></tr>`).join('');
  const series = new Map();
  for (const c of d.curves) {
    const k = `${c.stage_kind || c.stage_key} · ${c.name}`;
    if (!series.has(k)) series.set(k, []);
    series.get(k).push(c);
  }
  $('#detail-curves').innerHTML = [...series].map(([k, pts]) => curveSvg(pts, k)).join('') || '<p class="muted">no curves recorded for this trial\'s stages</p>';
  const { forget_acc, retain_acc, test_acc, mia_efficacy, ...config } = d.trial;
  void forget_acc; void retain_acc; void test_acc; void mia_efficacy;
  $('#detail-config').textContent = JSON.stringify({ setting: d.setting, method: d.method, ...config }, null, 2);
  $('#detail-stages tbody').innerHTML = d.stages.map((s) => `<tr><td class="text">${esc(s.kind)}</td><td class="text"><code>${esc(s.key)}</code></td><td class="text">${esc(s.status)}</td><td>${esc(s.attempts)}</td><td>${esc(s.wall_seconds ?? '')}</td><td class="text">${esc(s.backend ?? '')}</td></tr>`).join('');
  $('#detail-artifacts tbody').innerHTML = d.artifacts.map((a) => `<tr><td class="text"><code>${esc(a.key)}</code></td><td class="text">${esc(a.kind)}</td><td class="text">${esc(a.uri)}</td><td>${esc(a.bytes)}</td><td class="text"><code>${esc(String(a.sha256).slice(0, 12))}…</code></td></tr>`).join('');
  $('#detail-section').scrollIntoView({ behavior: 'instant', block: 'start' });
}

async function refresh() {
  try {
    await loadFilters();
    await Promise.all([loadSweeps(), loadLeaderboard(), loadTrials()]);
    $('#status').textContent = 'updated ' + new Date().toLocaleTimeString();
    document.body.dataset.loaded = 'true';
  } catch (e) {
    $('#status').textContent = 'error: ' + e.message;
  }
}

$('#filters').addEventListener('change', () => { void Promise.all([loadLeaderboard(), loadTrials()]).catch((e) => { $('#status').textContent = 'error: ' + e.message; }); });
$('#trials tbody').addEventListener('click', (ev) => {
  const tr = ev.target.closest('tr[data-trial]');
  if (tr) void showTrial(tr.dataset.trial).catch((e) => { $('#status').textContent = 'error: ' + e.message; });
});
for (const sel of ['#leaderboard tbody', '#settings-legend']) {
  $(sel).addEventListener('click', (ev) => {
    const el = ev.target.closest('td.setting, li[data-setting]');
    const key = el && (el.dataset.setting || el.closest('tr[data-setting]')?.dataset.setting);
    if (key) void showSetting(key).catch((e) => { $('#status').textContent = 'error: ' + e.message; });
  });
}
$('#sweeps tbody').addEventListener('click', (ev) => {
  const tr = ev.target.closest('tr[data-sweep]');
  if (!tr) return;
  $('#filters select[name=sweep]').value = tr.dataset.sweep;
  $('#filters').dispatchEvent(new Event('change'));
});
void refresh();
setInterval(() => { void loadSweeps().catch(() => {}); }, 5000); // live progress
