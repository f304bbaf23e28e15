// Dashboard end to end in headless Chromium (Debian's /usr/bin/chromium through playwright-core): the page
// loads behind the access token, shows the leaderboard rows that are in the database, sorts them by a column,
// opens a trial's detail, and a screenshot of the expected size is taken and checked.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { PNG } from 'pngjs';
import { freshDatabase, seedSweep, type FreshDb } from './helpers.js';
import { startDashboard, type Dashboard } from '../../cli/dashboard.js';
import { leaderboard } from '../../db/leaderboard.js';
import { methodLabel } from '../../db/leaderboard-format.js';
import { recordCurve } from '../../db/record.js';
import { openDb, type DbHandle } from '../../db/client.js';
import { readOnlyUrlFor } from '../security/read-role.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TOKEN = 'test-token-' + Math.random().toString(36).slice(2);

let f: FreshDb;
let reader: DbHandle;
let dash: Dashboard;
let browser: Browser;
before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  f = await freshDatabase('dashboard');
  await seedSweep(f.db, 'sweep-d', { seed: 5 });
  await recordCurve(f.db, 'stage-sweep-d-iid-del-0', [0, 1, 2, 3].map((e) => ({ epoch: e, name: 'loss', value: 2 / (e + 1) })));
  reader = openDb(await readOnlyUrlFor(f.url)); // the dashboard reads as the read-only role, as `unlearn dashboard` does
  dash = await startDashboard({ db: reader.db, port: 0, token: TOKEN });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
after(async () => {
  await browser?.close();
  await dash?.close();
  await reader?.close();
  await f?.drop();
});

void describe('dashboard', () => {
  void test('binds 127.0.0.1 and refuses requests without the token', async () => {
    assert.match(dash.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await fetch(`${dash.url}/api/leaderboard`)).status, 401);
    assert.equal((await fetch(`${dash.url}/api/leaderboard`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    const ok = await fetch(`${dash.url}/api/leaderboard?sweep=sweep-d`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as unknown[]).length, (await leaderboard(f.db, { sweep: 'sweep-d' })).length);
  });

  void test('shows the leaderboard rows from the database, sorts them, opens a trial, screenshot', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => { throw e; });
    await page.goto(`${dash.url}/?token=${TOKEN}`); // sets the cookie and redirects to /
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 15000 });
    assert.equal(new URL(page.url()).search, '', 'token removed from the address bar');

    await page.selectOption('#filters select[name=sweep]', 'sweep-d');
    await page.selectOption('#filters select[name=forgetKind]', 'iid');
    const expected = await leaderboard(f.db, { sweep: 'sweep-d', forgetKind: 'iid' });
    // a function, not a string: the page's Content-Security-Policy forbids evaluating strings
    await page.waitForFunction((n) => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('#leaderboard tr.lb-row').length === n, expected.length, { timeout: 10000 });
    const methods = await page.$$eval('#leaderboard tr.lb-row', (trs) => trs.map((tr) => tr.getAttribute('data-method')));
    assert.deepEqual(methods, expected.map(methodLabel), 'rows in the ranked order of the database');
    const firstForget = await page.$eval('#leaderboard tr.lb-row td[data-key=forget_acc]', (td) => td.textContent);
    assert.equal(firstForget, `${(expected[0].forget_acc_mean! * 100).toFixed(2)} ± ${(expected[0].forget_acc_ci! * 100).toFixed(2)}`);

    const column = async () => page.$$eval('#leaderboard tr.lb-row td[data-key=d_forget]', (tds) => tds.map((td) => Number(td.getAttribute('data-sort'))));
    await page.click('#leaderboard th[data-key=d_forget]');
    const asc = await column();
    assert.deepEqual(asc, expected.map((r) => r.d_forget_mean!).sort((a, b) => a - b));
    assert.equal(await page.getAttribute('#leaderboard th[data-key=d_forget]', 'aria-sort'), 'ascending');
    await page.click('#leaderboard th[data-key=d_forget]');
    assert.deepEqual(await column(), [...asc].reverse());
    assert.equal(await page.getAttribute('#leaderboard th[data-key=d_forget]', 'aria-sort'), 'descending');

    // the trade-off plot has one point per configuration
    assert.equal(await page.locator('#tradeoff g.point').count(), expected.length);
    // sweeps with progress
    assert.match(await page.textContent('#sweeps tr[data-sweep="sweep-d"]') ?? '', /sweep-d.*100%/s);
    // the progress bar's width is set through the CSSOM (the CSP forbids inline style attributes)
    assert.equal(await page.$eval('#sweeps tr[data-sweep="sweep-d"] .bar > span', (el) => (el as unknown as { style: { width: string } }).style.width), '100%');

    // a trial's detail: config, metrics, curves
    const trialId = 'sweep-d/synth/iid/del/{"lr":0.015,"epochs":3}/s0';
    await page.click(`#trials tr[data-trial='${trialId}']`);
    await page.waitForSelector('#detail-section:not([hidden])');
    assert.equal(await page.textContent('#detail-id'), trialId);
    assert.match(await page.textContent('#detail-config') ?? '', /"algorithm": "del"/);
    assert.equal(await page.locator('#detail-curves svg').count(), 1);
    assert.equal(await page.locator('#detail-metrics tr').count(), 5);

    await page.click('#leaderboard th[data-key=d_forget]');
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
    const png = await page.screenshot({ fullPage: false });
    const dir = process.env.RESULTS_SCREENSHOT_DIR ?? path.join(tmpdir(), 'unlearn-results-test');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'dashboard.png'), png);
    const img = PNG.sync.read(png);
    assert.equal(img.width, 1280);
    assert.equal(img.height, 900);
    // not blank: count distinct colours in a sample of pixels
    const colours = new Set<number>();
    for (let i = 0; i < img.data.length; i += 4 * 97) colours.add(img.data.readUInt32BE(i));
    assert.ok(colours.size > 20, `screenshot looks blank (${colours.size} colours)`);
    await page.close();
  });
});
