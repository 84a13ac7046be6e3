// Browser test of the dashboard of a drec that a real registry fed: run by the end-to-end
// test (tests/e2e/registry_e2e.py --after-scenario) once its scenarios passed, against the
// drec it started (this test starts none). Headless Chromium signs in with the token and
// checks that the overview and the page of one repository show the numbers of the
// e2e model (what skopeo did to the registry, counted by docs/counting.md); screenshots of
// both go to ${DREC_BROWSER_OUTPUT}/registry/.
//
//   python3 tests/e2e/registry_e2e.py --drec build/release/drec --store sqlite \
//     --workdir /tmp/e2e-browser --after-scenario node --test tests/browser/registry_dashboard.test.mjs
//
// Environment, from registry_e2e.py: DREC_URL (https://localhost:PORT), DREC_TOKEN,
// DREC_CA_FILE (the CA of drec's certificate), DREC_E2E_EXPECTED (JSON of the model's
// numbers, see Context.expectations there); and those of support.mjs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  chartData,
  fmt,
  httpsRequest,
  launchBrowser,
  OUTPUT,
  rows,
  screenshot,
  settled,
  signIn,
  sum,
} from './support.mjs';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this test through tests/e2e/registry_e2e.py --after-scenario`);
  return value;
}

const BASE = required('DREC_URL').replace(/\/$/, '');
const TOKEN = required('DREC_TOKEN');
const CA = fs.readFileSync(required('DREC_CA_FILE'));
const expected = JSON.parse(fs.readFileSync(required('DREC_E2E_EXPECTED'), 'utf8'));
const SCREENSHOTS = path.join(OUTPUT, 'registry');
const NAME = expected.repository;
const COUNTERS = ['numpulls', 'numpushs', 'numchecks', 'numindexpulls', 'numdeletes'];

const repositories = Object.entries(expected.repositories).map(([name, r]) => ({ name, ...r }));
const byName = (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

// The `title` (full RFC 3339 time) of the <time> elements matched by `selector`.
const timeTitles = (page, selector) =>
  page.locator(selector).evaluateAll((times) => times.map((t) => t.getAttribute('title')));

// A time the page shows lies in the window of the operation that set it.
function assertInWindow(shown, field) {
  const window = expected.times[field];
  assert.ok(window, `the model has no ${field} for ${NAME}`);
  const ms = Date.parse(shown);
  assert.ok(
    Date.parse(window.from) <= ms && ms <= Date.parse(window.to),
    `${field} ${shown} is outside "${window.operation}" (${window.from} .. ${window.to})`,
  );
}

describe(`dashboard of the registry-fed drec: ${NAME}`, { timeout: 180_000 }, () => {
  let profile;
  let context;
  let page;
  let problems;

  before(async () => {
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'drec-registry-browser-'));
    ({ context, page, problems } = await launchBrowser(profile));
  });

  after(async () => {
    await context?.close().catch(() => {});
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });

  it('drec is up and trusted with the CA of the e2e test; the page signs in with the token', async () => {
    const ready = await httpsRequest(`${BASE}/readyz`, { ca: CA });
    assert.equal(ready.status, 200, ready.body);
    await page.goto(`${BASE}/`);
    await signIn(page, TOKEN);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('drec.authorization')), `Bearer ${TOKEN}`);
  });

  it('overview: totals, per-day chart, and the repository in the top, trending and recent tables', async () => {
    await settled(page);
    assert.equal(await page.textContent('#total-repositories .stat-value'), fmt(expected.totals.repositories));
    for (const counter of COUNTERS) {
      assert.equal(
        await page.textContent(`#total-${counter} .stat-value`),
        fmt(expected.totals[counter]),
        `total ${counter}`,
      );
    }

    // Every event of the run is in the last 30 days: the bars add up to the totals.
    const chart = await chartData(page, '#overview-chart');
    assert.equal(chart.labels.length, 30);
    const series = Object.fromEntries(chart.datasets.map((d) => [d.counter, d.data]));
    assert.equal(sum(series.numpulls), expected.totals.numpulls, 'pulls in the overview chart');
    assert.equal(sum(series.numpushs), expected.totals.numpushs, 'pushes in the overview chart');

    // Top: every pulled repository with its pulls, most pulled first.
    const pulled = repositories.filter((r) => r.numpulls > 0);
    const top = await rows(page, '#top-table');
    assert.deepEqual(
      top.map((r) => r.slice(0, 2)).sort(byName),
      pulled.map((r) => [r.name, fmt(r.numpulls)]).sort(byName),
    );
    const topPulls = top.map((r) => Number(r[1].replace(/,/g, '')));
    assert.deepEqual(
      topPulls,
      [...topPulls].sort((a, b) => b - a),
      'top is ordered by pulls',
    );
    const appRow = top.findIndex((r) => r[0] === NAME);
    assert.deepEqual(top[appRow].slice(0, 2), [NAME, fmt(expected.numpulls)]);
    assertInWindow((await timeTitles(page, '#top-table tbody tr time'))[appRow], 'lastpulled');

    // Trending: everything happened in the window, so 30 days = all time.
    const trending = await rows(page, '#trending-table');
    assert.deepEqual(
      trending.map((r) => r.slice(0, 3)).sort(byName),
      pulled.map((r) => [r.name, fmt(r.numpulls), fmt(r.numpulls)]).sort(byName),
    );

    // Recently pushed: every pushed repository, with its pushes.
    const recent = await rows(page, '#recent-table');
    assert.deepEqual(
      recent.map((r) => [r[0], r[2]]).sort(byName),
      repositories
        .filter((r) => r.pushed)
        .map((r) => [r.name, fmt(r.numpushs)])
        .sort(byName),
    );
    const recentRow = recent.findIndex((r) => r[0] === NAME);
    assertInWindow((await timeTitles(page, '#recent-table tbody tr time'))[recentRow], 'lastpushed');
    await screenshot(page, SCREENSHOTS, 'overview');
  });

  it('repository page: counters, times, per-day chart, tags and actors', async () => {
    await page.click(`#top-table a:text-is("${NAME}")`);
    await page.waitForSelector('#repository');
    await settled(page);
    assert.equal(await page.textContent('#repository-name'), NAME);
    for (const counter of COUNTERS) {
      assert.equal(await page.textContent(`#repo-${counter} .stat-value`), fmt(expected[counter]), counter);
    }
    const live = expected.tags.filter((t) => t.live);
    assert.equal(await page.textContent('#repo-tags .stat-value'), fmt(live.length));

    // The head: first pushed, last pushed, last pulled.
    const [firstpushed, lastpushed, lastpulled] = await timeTitles(page, '#repository .page-head time');
    assertInWindow(firstpushed, 'firstpushed');
    assertInWindow(lastpushed, 'lastpushed');
    assertInWindow(lastpulled, 'lastpulled');

    // Per day: the run's events all fall in the last 30 days.
    const chart = await chartData(page, '#repository-chart');
    assert.equal(chart.labels.length, 30);
    for (const { counter, data } of chart.datasets) {
      assert.equal(sum(data), expected[counter], `${counter} in the repository chart`);
    }
    assert.deepEqual(
      chart.datasets.map((d) => d.counter),
      ['numpulls', 'numpushs', 'numchecks'],
    );

    // Tags, live and deleted: digest (short, and in full in the title), status, pulls, checks.
    const tags = await rows(page, '#tags-table');
    const digests = await page
      .locator('#tags-table tbody tr td:nth-child(2)')
      .evaluateAll((tds) => tds.map((td) => td.querySelector('code')?.getAttribute('title') ?? null));
    assert.deepEqual(
      tags.map((r, i) => [...r.slice(0, 5), digests[i]]).sort(byName),
      expected.tags.map((t) => [
        t.tag,
        `sha256:${t.digest.slice('sha256:'.length, 'sha256:'.length + 12)}`,
        t.live ? 'live' : 'deleted',
        fmt(t.numpulls),
        fmt(t.numchecks),
        t.digest,
      ]),
    );
    assert.deepEqual(
      tags.map((r) => r[2]),
      [...live.map(() => 'live'), ...expected.tags.filter((t) => !t.live).map(() => 'deleted')],
      'live tags come first',
    );

    // Actors: everyone who did something counted, with pulls and pushes.
    const actors = await rows(page, '#actors-table');
    assert.deepEqual(
      actors.map((r) => r.slice(0, 3)).sort(byName),
      expected.actor_counters.map((a) => [a.actor, fmt(a.numpulls), fmt(a.numpushs)]),
    );
    for (const actor of expected.actors)
      assert.ok(
        actors.some((r) => r[0] === actor),
        `${actor} in the actors table`,
      );
    await screenshot(page, SCREENSHOTS, 'repository');
  });

  it('no script errors and no Content-Security-Policy violations', () => {
    assert.deepEqual(problems, []);
  });
});
