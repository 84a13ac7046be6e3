// Browser test of the dashboard: starts the drec binary on a free loopback port with a
// fresh SQLite file, feeds it the events captured from registry 2.8 (tests/data/registry-2.8:
// the single-envelope files and the cosign and crane scenarios) plus generated ones with
// known counts, then drives Debian's headless Chromium through playwright-core: sign in,
// overview, search, a repository page (attachments apart, traffic classes), the list's
// sorting, cleanup. A second drec serving two registries (--registries hub) shows the
// registry selector. Numbers on the page are checked against both the known feed and drec's
// API; screenshots are saved.
//
//   DREC_BINARY=build/web/drec DREC_NODE_MODULES=build/web/node_modules \
//     node --test tests/browser/dashboard.test.mjs
//
// Environment: DREC_BINARY (the drec executable), DREC_EXAMPLES_DIR (the captured events), and those of
// support.mjs: DREC_NODE_MODULES, DREC_BROWSER_OUTPUT (screenshots and drec's log), CHROMIUM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  chartData,
  fmt,
  httpsRequest,
  launchBrowser,
  OUTPUT,
  repoRoot,
  rows,
  screenshot as saveScreenshot,
  settled,
  signIn,
  sum,
} from './support.mjs';

const DREC = path.resolve(process.env.DREC_BINARY ?? path.join(repoRoot, 'build', 'release', 'drec'));
const EXAMPLES = path.resolve(process.env.DREC_EXAMPLES_DIR ?? path.join(repoRoot, 'tests', 'data', 'registry-2.8'));
const SCREENSHOTS = path.join(OUTPUT, 'screenshots');

const TOKEN = 'dashboard-test-token';
const BASIC_USER = 'ops';
const BASIC_PASSWORD = 'pässwörd'; // non-ASCII on purpose: the form must send UTF-8
const DAY = 86_400_000;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const IMAGE_MANIFESTS = [OCI_MANIFEST, 'application/vnd.docker.distribution.manifest.v2+json'];

// ------------------------------------------------------------------------ the feed

const todayMidnight = Math.floor(Date.now() / DAY) * DAY;
// A time `daysAgo` whole UTC days before today, at `hour`; generated events are never in
// the future (daysAgo >= 1).
const at = (daysAgo, hour = 12) => new Date(todayMidnight - daysAgo * DAY + hour * 3_600_000);
const dayOf = (date) => date.toISOString().slice(0, 10);
const fakeDigest = (text) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

let seq = 0;
function event({
  action = 'pull',
  repository,
  tag,
  digest,
  method = 'GET',
  time,
  actor,
  useragent = 'drec-browser-test',
}) {
  seq += 1;
  const n = String(seq).padStart(12, '0');
  return {
    id: `d45b0a2d-0000-4000-8000-${n}`,
    timestamp: time.toISOString(),
    action,
    target: {
      mediaType: OCI_MANIFEST,
      size: 345,
      length: 345,
      digest: digest ?? fakeDigest(`${repository}:${tag}`),
      repository,
      url: `http://registry.test/v2/${repository}/manifests/${tag ?? digest}`,
      ...(tag ? { tag } : {}),
    },
    request: { id: `req-${n}`, addr: '127.0.0.1:40000', host: 'registry.test', method, useragent },
    actor: actor ? { name: actor } : {},
    source: { addr: 'registry.test:5000', instanceID: 'drec-browser-test' },
  };
}

// team/app gets 3 GET pulls of v1 by bob on known days, on top of what the captured
// examples did to it (1 tagged push, 1 GET pull and 1 HEAD of v1, 1 delete).
const APP = 'team/app';
// The digest v1 was pushed with, read from the capture (a missing file fails the test with its path).
const APP_DIGEST = JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'manifest-push-tagged.json'), 'utf8')).events[0]
  .target.digest;
const appPulls = [at(2, 10), at(1, 9), at(1, 15)];

// Other repositories so that the tables and charts have something to rank: `pulls` GET
// pulls spread over the last 28 days, every third also checked with HEAD.
const FILLER = [
  ['base/debian', 60],
  ['platform/api', 41],
  ['tools/ci-runner', 32],
  ['platform/web', 25],
  ['base/alpine', 18],
  ['data/etl', 9],
  ['ml/trainer', 5],
];
const ACTORS = ['ci-bot', 'alice', 'bob', 'deploy'];

// Tool scenarios posted besides the single-envelope files (arrays of envelopes): cosign signs
// team/signed and verifies it (an attachment push and pull), crane pushes and pulls
// team/crane:v1. Their user agents make them traffic class `ci`, skopeo's (the single files)
// and this test's own `other` (docs/counting.md#traffic-classes).
const SCENARIOS = ['cosign-sign', 'cosign-verify', 'crane-push', 'crane-pull'];
const SIGNED = 'team/signed';
const CRANE = 'team/crane';
const readScenario = (name) => JSON.parse(fs.readFileSync(path.join(EXAMPLES, `${name}.events.json`), 'utf8'));
// An attachment tag names the digest of its subject (docs/counting.md#attachments).
const isAttachmentTag = (tag) => /^sha(256|512)-[0-9a-f]+(\.(sig|att|sbom))?$/.test(tag ?? '');
const CRANE_DIGEST = readScenario('crane-push')
  .flatMap((envelope) => envelope.events)
  .find((e) => e.action === 'push' && e.target.tag === 'v1').target.digest;
// A production node (containerd) pulled team/crane:v1 yesterday, besides crane's own pull.
const cranePull = at(1, 11);

function generatedEvents() {
  const events = appPulls.map((time) => event({ repository: APP, tag: 'v1', digest: APP_DIGEST, time, actor: 'bob' }));
  events.push(
    event({ repository: CRANE, tag: 'v1', digest: CRANE_DIGEST, time: cranePull, useragent: 'containerd/1.7.24' }),
  );
  FILLER.forEach(([repository, pulls], r) => {
    for (const tag of ['latest', `v${r + 1}.0.0`]) {
      events.push(event({ action: 'push', repository, tag, time: at(28, 8 + r), actor: 'ci-bot' }));
    }
    for (let i = 0; i < pulls; i++) {
      const time = at(1 + ((i * 7 + r * 3) % 27), 1 + ((i * 5 + r) % 22));
      const tag = i % 3 === 0 ? `v${r + 1}.0.0` : 'latest';
      events.push(event({ repository, tag, time, actor: ACTORS[(i + r) % 4] }));
      if (i % 3 === 0) events.push(event({ repository, tag, time, method: 'HEAD' }));
    }
  });
  // Cleanup candidates: pulled long ago, and never pulled at all.
  events.push(event({ action: 'push', repository: 'legacy/old-app', tag: 'v0.9', time: at(200), actor: 'alice' }));
  events.push(event({ repository: 'legacy/old-app', tag: 'v0.9', time: at(150) }));
  events.push(event({ repository: 'legacy/old-app', tag: 'v0.9', time: at(150, 13) }));
  events.push(event({ action: 'push', repository: 'sandbox/never', tag: 'test', time: at(100), actor: 'bob' }));
  return events;
}

// ------------------------------------------------------------------------ drec

let port;
let ca;
let drec;
let drecExit;
let workdir;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port: p } = server.address();
      server.close(() => resolve(p));
    });
  });
}

function request(method, target, { body, headers } = {}) {
  return httpsRequest(`${base()}${target}`, { method, body, headers, ca });
}

async function api(target) {
  const res = await request('GET', target, { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200, `${target}: ${res.body}`);
  return JSON.parse(res.body);
}

async function postEvents(events, route = '/events') {
  const res = await request('POST', route, {
    body: JSON.stringify({ events }),
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(res.status, 200, `POST ${route}: ${res.body}`);
}

async function startDrec(extraArgs = []) {
  workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'drec-browser-'));
  port = await freePort();
  fs.mkdirSync(OUTPUT, { recursive: true });
  const log = fs.openSync(path.join(OUTPUT, 'drec.log'), 'w');
  drec = spawn(
    DREC,
    [
      '--server-address',
      '127.0.0.1',
      '--server-port',
      String(port),
      '--storage-sqlite-path',
      path.join(workdir, 'drec.db'),
      '--server-ssl-generated-dir',
      path.join(workdir, 'tls'),
      '--auth-tokens',
      TOKEN,
      '--auth-basic',
      `${BASIC_USER}:${BASIC_PASSWORD}`,
      ...extraArgs,
    ],
    { stdio: ['ignore', log, log] },
  );
  drecExit = new Promise((resolve) => drec.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (drec.exitCode !== null) throw new Error(`drec exited with ${drec.exitCode}; see ${OUTPUT}/drec.log`);
    const certificate = path.join(workdir, 'tls', 'cert.pem');
    if (fs.existsSync(certificate)) {
      ca = fs.readFileSync(certificate);
      const ready = await request('GET', '/readyz').catch(() => null);
      if (ready?.status === 200) return;
    }
    if (Date.now() > deadline) throw new Error(`drec not ready after 20 s; see ${OUTPUT}/drec.log`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopDrec() {
  if (!drec || drec.exitCode !== null) return;
  drec.kill('SIGTERM');
  let timer;
  const stopped = await Promise.race([drecExit, new Promise((r) => (timer = setTimeout(() => r(null), 15_000)))]);
  clearTimeout(timer);
  if (!stopped) {
    drec.kill('SIGKILL');
    await drecExit;
  }
}

// ------------------------------------------------------------------------ browser

let context;
let page;
let problems; // console errors that are not the expected 401s, CSP violations, exceptions

const base = () => `https://127.0.0.1:${port}`;
const screenshot = (name) => saveScreenshot(page, SCREENSHOTS, name);

// The browser, drec and its files gone.
async function shutDown() {
  await context?.close().catch(() => {});
  await stopDrec();
  if (workdir) fs.rmSync(workdir, { recursive: true, force: true });
}

// ------------------------------------------------------------------------ the tests

describe('dashboard', { timeout: 240_000 }, () => {
  const generated = generatedEvents();
  const exampleGetPulls = []; // {repository, day} of the examples' counted pulls
  const examplePulls = []; // days of those of team/app
  function countPulls(events) {
    for (const e of events) {
      // A pull is a GET of an image manifest (not an index, not a blob, not an attachment):
      // docs/counting.md#pulls.
      if (
        e.action === 'pull' &&
        e.request.method === 'GET' &&
        IMAGE_MANIFESTS.includes(e.target.mediaType) &&
        !isAttachmentTag(e.target.tag)
      ) {
        exampleGetPulls.push({ repository: e.target.repository, day: e.timestamp.slice(0, 10) });
        if (e.target.repository === APP) examplePulls.push(e.timestamp.slice(0, 10));
      }
    }
  }

  before(async () => {
    await startDrec();
    for (const file of fs
      .readdirSync(EXAMPLES)
      // One envelope per file; the tool scenarios' *.events.json (arrays of them) are not posted.
      .filter((f) => f.endsWith('.json') && !f.endsWith('.events.json'))
      .sort()) {
      const body = fs.readFileSync(path.join(EXAMPLES, file), 'utf8');
      const res = await request('POST', '/events', {
        body,
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(res.status, 200, `${file}: ${res.body}`);
      countPulls(JSON.parse(body).events);
    }
    for (const name of SCENARIOS) {
      for (const envelope of readScenario(name)) {
        await postEvents(envelope.events);
        countPulls(envelope.events);
      }
    }
    for (let i = 0; i < generated.length; i += 100) await postEvents(generated.slice(i, i + 100));
    // A fresh profile each run.
    ({ context, page, problems } = await launchBrowser(path.join(workdir, 'chromium-profile')));
  });

  after(shutDown);

  it('serves the page without credentials, with strict headers; the API needs them', async () => {
    const index = await request('GET', '/');
    assert.equal(index.status, 200);
    assert.match(index.headers['content-type'], /^text\/html/);
    assert.match(index.headers['content-security-policy'], /default-src 'self'/);
    assert.doesNotMatch(index.headers['content-security-policy'], /unsafe-(inline|eval)/);
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    assert.equal(index.headers['cache-control'], 'no-cache');
    assert.doesNotMatch(index.body, /https?:\/\//, 'the page loads nothing from elsewhere');
    const script = await request('GET', '/ui/app.js');
    assert.equal(script.status, 200);
    assert.match(script.headers['content-type'], /^text\/javascript/);
    assert.ok(script.body.includes('Chart.js v4'), 'Chart.js is bundled in');
    const again = await request('GET', '/ui/app.js', { headers: { 'If-None-Match': script.headers.etag } });
    assert.equal(again.status, 304);
    assert.match((await request('GET', '/ui/app.css')).headers['content-type'], /^text\/css/);
    assert.equal((await request('GET', '/ui/missing.js')).status, 404);
    assert.equal((await request('GET', '/api/v1/repositories')).status, 401);
  });

  it('asks for credentials, refuses a wrong token, accepts the right one', async () => {
    await page.goto(`${base()}/`);
    await page.waitForSelector('#signin');
    await screenshot('signin');
    await page.fill('#signin-token', 'not-the-token');
    await page.click('#signin-submit');
    await page.waitForSelector('#signin .error:not([hidden])');
    assert.equal(await page.textContent('#signin .error'), 'Wrong credentials.');
    await signIn(page, TOKEN);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('drec.authorization')), `Bearer ${TOKEN}`);
  });

  it('overview: totals, per-day chart, top, trending and recently pushed', async () => {
    await settled(page);
    const from = dayOf(new Date(todayMidnight - 29 * DAY));
    const to = dayOf(new Date(todayMidnight));
    const summary = await api(`/api/v1/summary?from=${from}&to=${to}`);

    // Totals: what the feed implies, and what the API says.
    const isGetPull = (e) => e.action === 'pull' && e.request.method === 'GET';
    const pulls = generated.filter(isGetPull).length + exampleGetPulls.length;
    assert.equal(summary.totals.numpulls, pulls);
    assert.equal(await page.textContent('#total-numpulls .stat-value'), fmt(pulls));
    assert.equal(await page.textContent('#total-repositories .stat-value'), fmt(summary.totals.repositories));
    assert.equal(await page.textContent('#total-numpushs .stat-value'), fmt(summary.totals.numpushs));
    assert.equal(await page.textContent('#total-numchecks .stat-value'), fmt(summary.totals.numchecks));
    // cosign's signature: one attachment push, one attachment pull (its verification).
    assert.equal(summary.totals.numattachmentpushes, 1);
    assert.equal(summary.totals.numattachmentpulls, 1);
    assert.equal(await page.textContent('#total-numattachmentpushes .stat-value'), '1');
    assert.equal(await page.textContent('#total-numattachmentpulls .stat-value'), '1');
    // One registry: no selector, no registry column.
    assert.equal(await page.isVisible('#registry-picker'), false);
    assert.equal(await page.locator('#registries-table').count(), 0);

    // The chart draws the API's zero-filled days.
    const chart = await chartData(page, '#overview-chart');
    assert.equal(chart.labels.length, 30);
    assert.equal(chart.labels.at(-1), to);
    const [pullSeries, pushSeries] = chart.datasets;
    assert.equal(pullSeries.counter, 'numpulls');
    assert.deepEqual(
      pullSeries.data,
      summary.days.map((d) => d.numpulls),
    );
    assert.deepEqual(
      pushSeries.data,
      summary.days.map((d) => d.numpushs),
    );
    const inWindow =
      generated.filter((e) => isGetPull(e) && e.timestamp.slice(0, 10) >= from).length +
      exampleGetPulls.filter((p) => p.day >= from && p.day <= to).length;
    assert.equal(
      pullSeries.data.reduce((a, b) => a + b, 0),
      inWindow,
    );

    // Top repositories: base/debian leads with 60; team/app has 4.
    const top = await rows(page, '#top-table');
    assert.deepEqual(top[0].slice(0, 2), ['base/debian', '60']);
    assert.deepEqual(top.find((r) => r[0] === APP)?.slice(0, 2), [APP, '4']);
    // Trending: pulls of the last 30 days, as the API counts them.
    const trending = await api('/api/v1/repositories?window=30d&sort=-window.numpulls&limit=10');
    const shown = await rows(page, '#trending-table');
    const expected = trending.repositories.filter((r) => r.window.numpulls > 0);
    assert.deepEqual(
      shown.map((r) => [r[0], r[1]]),
      expected.map((r) => [r.repositoryname, fmt(r.window.numpulls)]),
    );
    assert.equal(shown.find((r) => r[0] === APP)?.[1], String(3 + examplePulls.filter((d) => d >= from).length));
    // Recently pushed, newest first.
    const recent = await api('/api/v1/repositories?sort=-lastpushed&limit=10');
    assert.deepEqual(
      (await rows(page, '#recent-table')).map((r) => r[0]),
      recent.repositories.filter((r) => r.lastpushed).map((r) => r.repositoryname),
    );
    await screenshot('overview');
  });

  it('search filters repositories by prefix', async () => {
    await page.fill('#search', 'team/');
    await page.waitForURL(/#\/repositories\?prefix=team%2F/);
    await page.waitForFunction(() => document.querySelector('#repositories-total')?.textContent.includes('team/'));
    const names = (await rows(page, '#repositories-table')).map((r) => r[0]);
    assert.deepEqual(names, [APP, CRANE, 'team/multi', SIGNED]);
    await page.fill('#search', 'platform/');
    await page.waitForFunction(() => document.querySelector('#repositories-total')?.textContent.includes('platform/'));
    assert.deepEqual(
      (await rows(page, '#repositories-table')).map((r) => r[0]),
      ['platform/api', 'platform/web'],
    );
    await screenshot('search');
  });

  it('repository page: counters, per-day chart, tags and actors', async () => {
    await page.goto(`${base()}/#/`);
    await page.waitForSelector('#top-table');
    await page.click(`#top-table a:text-is("${APP}")`);
    await page.waitForSelector('#repository');
    await settled(page);
    assert.equal(await page.textContent('#repository-name'), APP);
    const repo = await api('/api/v1/repositories/team/app');
    assert.equal(repo.numpulls, 4);
    assert.equal(await page.textContent('#repo-numpulls .stat-value'), '4');
    assert.equal(await page.textContent('#repo-numpushs .stat-value'), fmt(repo.numpushs));
    assert.equal(await page.textContent('#repo-numchecks .stat-value'), fmt(repo.numchecks));

    // Per day: 1 pull two days ago, 2 yesterday (plus the examples' own, on their day).
    const chart = await chartData(page, '#repository-chart');
    assert.equal(chart.labels.length, 30);
    const pullsOn = (day) => chart.datasets[0].data[chart.labels.indexOf(day)];
    const expectedOn = (d) =>
      appPulls.filter((t) => dayOf(t) === d).length + examplePulls.filter((x) => x === d).length;
    for (const d of [dayOf(at(2)), dayOf(at(1))]) assert.equal(pullsOn(d), expectedOn(d), `pulls on ${d}`);
    assert.equal(
      chart.datasets[0].data.reduce((a, b) => a + b, 0),
      [...chart.labels].reduce((a, d) => a + expectedOn(d), 0),
    );

    // Tags: v1 pulled 4 times, live, its digest in full in the title.
    const tags = await rows(page, '#tags-table');
    const v1 = tags.find((r) => r[0] === 'v1');
    assert.ok(v1, `v1 in ${JSON.stringify(tags)}`);
    assert.equal(v1[2], 'live');
    assert.equal(v1[3], '4');
    assert.equal(await page.getAttribute('#tags-table tbody tr:first-child code', 'title'), APP_DIGEST);
    // Actors: bob pulled 3 times.
    const bob = (await rows(page, '#actors-table')).find((r) => r[0] === 'bob');
    assert.deepEqual(bob?.slice(0, 3), ['bob', '3', '0']);
    await screenshot('repository');

    // Another range re-reads the daily series.
    await page.click('.segmented a:text-is("90 days")');
    await page.waitForURL(/days=90/);
    await settled(page);
    assert.equal((await chartData(page, '#repository-chart')).labels.length, 90);
  });

  it('repository page: signatures & attachments apart; attachment tags only on demand', async () => {
    const scenario = SCENARIOS.flatMap((name) => readScenario(name)).flatMap((envelope) => envelope.events);
    const signature = scenario.filter((e) => e.target.repository === SIGNED && isAttachmentTag(e.target.tag));
    const sigTag = signature[0].target.tag;
    const attachmentPushes = signature.filter((e) => e.action === 'push').length;
    const attachmentPulls = signature.filter((e) => e.action === 'pull' && e.request.method === 'GET').length;
    assert.deepEqual([attachmentPushes, attachmentPulls], [1, 1], 'cosign signed once and verified once');
    const repo = await api(`/api/v1/repositories/${SIGNED}`);
    assert.equal(repo.numattachmentpushes, attachmentPushes);
    assert.equal(repo.numattachmentpulls, attachmentPulls);

    // From the list, sorted by attachment pulls (the API sorts: sort=-numattachmentpulls).
    await page.goto(`${base()}/#/repositories`);
    await page.waitForSelector('#repositories-table a[data-sort="numattachmentpulls"]');
    await page.click('#repositories-table a[data-sort="numattachmentpulls"]');
    await page.waitForURL(/sort=-numattachmentpulls/);
    await page.waitForFunction(() =>
      document.querySelector('#repositories-table th a[data-sort="numattachmentpulls"]')?.textContent.endsWith('↓'),
    );
    const listed = await api('/api/v1/repositories?sort=-numattachmentpulls&limit=50');
    const shown = await rows(page, '#repositories-table');
    assert.deepEqual(
      shown.map((r) => r[0]),
      listed.repositories.map((r) => r.repositoryname),
    );
    assert.equal(shown[0][0], SIGNED);
    await page.click(`#repositories-table a.repo:text-is("${SIGNED}")`);
    await page.waitForSelector('#repository');
    await settled(page);

    // Images and attachments in separate groups.
    assert.equal(await page.textContent('#repository-counters #repo-numpulls .stat-value'), fmt(repo.numpulls));
    assert.equal(await page.textContent('#repository-counters #repo-numpushs .stat-value'), fmt(repo.numpushs));
    assert.equal(
      await page.textContent('#repository-attachments #repo-numattachmentpushes .stat-value'),
      fmt(attachmentPushes),
    );
    assert.equal(
      await page.textContent('#repository-attachments #repo-numattachmentpulls .stat-value'),
      fmt(attachmentPulls),
    );
    assert.equal(await page.locator('#repository-counters #repo-numattachmentpulls').count(), 0);
    assert.match(await page.textContent('#attachments-heading'), /Signatures & attachments/);

    // Tags: image tags only (cosign signs by digest: there are none), the signature's tag once asked for.
    assert.equal(await page.textContent('#tags-table'), 'No image tags seen.');
    assert.equal(await page.isChecked('#show-attachments'), false);
    await page.check('#show-attachments');
    await page.waitForURL(/attachments=include/);
    await page.waitForSelector('#tags-table tbody');
    const tags = await rows(page, '#tags-table');
    assert.equal(tags.length, 1, JSON.stringify(tags));
    assert.equal(await page.textContent('#tags-table tbody .tag'), sigTag);
    assert.equal(await page.textContent('#tags-table tbody .badge.attachment'), 'attachment');
    const header = await page.locator('#tags-table th').allTextContents();
    assert.equal(tags[0][header.indexOf('Att. pulls')], fmt(attachmentPulls));
    assert.equal(await page.isChecked('#show-attachments'), true);
    await screenshot('attachments');
    await page.uncheck('#show-attachments');
    await page.waitForFunction(() => document.querySelector('#tags-table')?.tagName === 'P');
  });

  it('repository page: counters per traffic class, and the daily chart of one class', async () => {
    // team/app: skopeo and this test's user agent, class `other` alone.
    await page.goto(`${base()}/#/r/${APP}`);
    await page.waitForSelector('#classes-table');
    await settled(page);
    const app = await rows(page, '#classes-table');
    assert.deepEqual(
      app.map((r) => r.slice(0, 2)),
      [['other', '4']],
    );
    assert.equal(app[0].at(-2), '100 %');

    // team/crane: crane (`ci`) and a containerd pull (`production`).
    await page.goto(`${base()}/#/r/${CRANE}`);
    await page.waitForSelector('#classes-table');
    await settled(page);
    const classes = await api(`/api/v1/repositories/${CRANE}/-/classes`);
    const byClass = Object.fromEntries(classes.classes.map((c) => [c.class, c]));
    assert.equal(byClass.ci?.numpulls, 1, JSON.stringify(classes));
    assert.equal(byClass.production?.numpulls, 1, JSON.stringify(classes));
    const header = await page.locator('#classes-table th').allTextContents();
    const shown = await rows(page, '#classes-table');
    assert.deepEqual(shown.map((r) => r[0]).sort(), ['ci', 'production']);
    for (const r of shown) {
      for (const [title, counter] of [
        ['Pulls', 'numpulls'],
        ['Pushes', 'numpushs'],
        ['Checks', 'numchecks'],
      ]) {
        assert.equal(r[header.indexOf(title)], fmt(byClass[r[0]][counter]), `${r[0]} ${counter}`);
      }
    }
    await screenshot('classes');

    // All classes: crane's pull today and containerd's yesterday; class ci: crane's alone.
    const all = await chartData(page, '#repository-chart');
    const cranePullDay = readScenario('crane-pull')[0].events[0].timestamp.slice(0, 10);
    const pullsOn = (chart, day) => chart.datasets[0].data[chart.labels.indexOf(day)] ?? 0;
    // The capture's day is in the chart for 30 days after it was captured.
    const craneInChart = all.labels.includes(cranePullDay) ? 1 : 0;
    // The day after the capture, crane's own pull falls on containerd's day.
    const craneOnContainerdDay = cranePullDay === dayOf(cranePull) ? 1 : 0;
    assert.equal(sum(all.datasets[0].data), 1 + craneInChart);
    assert.equal(pullsOn(all, dayOf(cranePull)), 1 + craneOnContainerdDay);
    assert.deepEqual(await page.locator('#daily-class option').evaluateAll((os) => os.map((o) => o.value)), [
      '',
      'ci',
      'production',
    ]);
    await page.selectOption('#daily-class', 'ci');
    await page.waitForURL(/class=ci/);
    await page.waitForFunction(() => document.querySelector('#daily-heading')?.textContent.includes('class ci'));
    const ci = await chartData(page, '#repository-chart');
    const daily = await api(
      `/api/v1/repositories/${CRANE}/-/daily?class=ci&from=${ci.labels[0]}&to=${ci.labels.at(-1)}`,
    );
    assert.deepEqual(
      ci.datasets[0].data,
      daily.days.map((d) => d.numpulls),
    );
    assert.equal(sum(ci.datasets[0].data), craneInChart);
    assert.equal(pullsOn(ci, dayOf(cranePull)), craneOnContainerdDay, "containerd's pull is not ci");
    assert.equal(await page.inputValue('#daily-class'), 'ci');
    // The range keeps the class.
    await page.click('.segmented a:text-is("90 days")');
    await page.waitForURL(/days=90/);
    assert.match(page.url(), /class=ci/);
    // A class row links to its daily chart too.
    await page.click('#classes-table a.class:text-is("production")');
    await page.waitForURL(/class=production/);
    await page.waitForFunction(() =>
      document.querySelector('#daily-heading')?.textContent.includes('class production'),
    );
    assert.equal(sum((await chartData(page, '#repository-chart')).datasets[0].data), 1);
  });

  it('cleanup lists what was not pulled for N days', async () => {
    await page.goto(`${base()}/#/cleanup?days=90`);
    await page.waitForSelector('#cleanup-table');
    await settled(page);
    const shown = await rows(page, '#cleanup-table');
    const names = shown.map((r) => r[0]);
    assert.ok(names.includes('legacy/old-app'), names.join());
    assert.ok(names.includes('sandbox/never'), names.join());
    assert.ok(!names.includes(APP));
    assert.equal(shown.find((r) => r[0] === 'sandbox/never')[2], 'never pulled');
    // This drec has no retention policy: one line says how to configure one, and no plan shows.
    const hint = await page.textContent('#retention-hint');
    assert.match(hint, /retention\.policy_file/);
    assert.match(hint, /docs\/retention\.md/);
    assert.equal(await page.locator('#retention-deletions').count(), 0);
    const idle = Math.floor((Date.now() - at(150, 13).getTime()) / DAY);
    assert.equal(shown.find((r) => r[0] === 'legacy/old-app')[2], `${idle} days`);
    const api90 = await api('/api/v1/repositories?not_pulled_since=90d&sort=lastpulled&limit=50');
    assert.deepEqual(
      names,
      api90.repositories.map((r) => r.repositoryname),
    );
    await screenshot('cleanup');

    await page.fill('#cleanup-days', '160');
    await page.click('#cleanup-form button');
    await page.waitForURL(/days=160/);
    await page.waitForFunction(() => !document.querySelector('#cleanup-table')?.textContent.includes('legacy/old-app'));
  });

  it('a 401 brings back the sign-in form; basic auth signs in too', async () => {
    await page.evaluate(() => sessionStorage.setItem('drec.authorization', 'Bearer revoked'));
    await page.goto(`${base()}/#/`);
    await page.waitForSelector('#signin .error:not([hidden])');
    assert.match(await page.textContent('#signin .error'), /not accepted/);

    await page.click('#signin-mode-basic');
    await page.fill('#signin-user', BASIC_USER);
    await page.fill('#signin-password', BASIC_PASSWORD);
    await page.click('#signin-submit');
    await page.waitForSelector('#overview #top-table');
    const stored = await page.evaluate(() => sessionStorage.getItem('drec.authorization'));
    assert.equal(stored, `Basic ${Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`).toString('base64')}`);

    await page.click('#signout');
    await page.waitForSelector('#signin .notice');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('drec.authorization')), null);
  });

  it('no script errors and no Content-Security-Policy violations', () => {
    assert.deepEqual(problems, []);
  });
});

describe('dashboard of a drec serving two registries', { timeout: 120_000 }, () => {
  // team/app in both registries, with different pulls; library/nginx in hub only.
  const HUB_PULLS = 5;
  const DEFAULT_PULLS = 1;
  const pulls = (repository, n, tag = 'v1') => [
    event({ action: 'push', repository, tag, time: at(3), actor: 'ci-bot' }),
    ...Array.from({ length: n }, (_, i) => event({ repository, tag, time: at(1, 1 + i), actor: 'alice' })),
  ];

  before(async () => {
    await startDrec(['--registries', 'hub']);
    await postEvents(pulls(APP, DEFAULT_PULLS));
    await postEvents([...pulls(APP, HUB_PULLS), ...pulls('library/nginx', 2, 'latest')], '/events/hub');
    ({ context, page, problems } = await launchBrowser(path.join(workdir, 'chromium-profile')));
  });

  after(shutDown);

  it('the selector offers all registries or one; the overview spans all', async () => {
    const { registries } = await api('/api/v1/registries');
    assert.deepEqual(
      registries.map((r) => [r.registry, r.repositories, r.numpulls]),
      [
        ['default', 1, DEFAULT_PULLS],
        ['hub', 2, HUB_PULLS + 2],
      ],
    );
    await page.goto(`${base()}/`);
    await signIn(page, TOKEN);
    await settled(page);
    assert.equal(await page.isVisible('#registry-picker'), true);
    assert.deepEqual(
      await page.locator('#registry option').evaluateAll((os) => os.map((o) => [o.value, o.textContent])),
      [
        ['', 'All registries'],
        ['default', 'default'],
        ['hub', 'hub'],
      ],
    );
    assert.equal(await page.inputValue('#registry'), '');
    assert.equal(await page.textContent('#total-repositories .stat-value'), '3');
    assert.equal(await page.textContent('#total-numpulls .stat-value'), fmt(DEFAULT_PULLS + HUB_PULLS + 2));
    assert.deepEqual(
      (await rows(page, '#registries-table')).map((r) => r.slice(0, 3)),
      [
        ['default', '1', fmt(DEFAULT_PULLS)],
        ['hub', '2', fmt(HUB_PULLS + 2)],
      ],
    );
    const top = await rows(page, '#top-table');
    assert.deepEqual(
      top.map((r) => r.slice(0, 3)),
      [
        [APP, 'hub', fmt(HUB_PULLS)],
        ['library/nginx', 'hub', '2'],
        [APP, 'default', fmt(DEFAULT_PULLS)],
      ],
    );
    await screenshot('registries-overview');
  });

  it("the list of all registries shows each row's registry and links to that registry's repository", async () => {
    await page.click('nav a[data-nav="repositories"]');
    await page.waitForSelector('#repositories-table');
    await settled(page);
    const header = await page.locator('#repositories-table th').allTextContents();
    assert.deepEqual(header.slice(0, 2), ['Repository ↑', 'Registry']);
    // Sorted by name; the two team/app in either order.
    const shown = (await rows(page, '#repositories-table')).map((r) => r.slice(0, 3));
    assert.deepEqual(shown.toSorted(), [
      ['library/nginx', 'hub', '2'],
      [APP, 'default', fmt(DEFAULT_PULLS)],
      [APP, 'hub', fmt(HUB_PULLS)],
    ]);
    assert.equal(shown[0][0], 'library/nginx');
    await screenshot('registries-list');
    const rowOf = (registry) =>
      page
        .locator('#repositories-table tbody tr')
        .filter({ has: page.locator(`a.repo:text-is("${APP}")`) })
        .filter({ has: page.locator(`span.registry:text-is("${registry}")`) })
        .locator('a.repo');

    // The hub's team/app, not the default registry's of the same name.
    await rowOf('hub').click();
    await page.waitForURL(/#\/r\/team\/app\?registry=hub/);
    await page.waitForSelector('#repository');
    await settled(page);
    assert.equal(await page.textContent('#repo-numpulls .stat-value'), fmt(HUB_PULLS));
    assert.equal(await page.textContent('#repository-registry'), 'registry hub');
    assert.equal(await page.inputValue('#registry'), 'hub');
    const [tag] = await rows(page, '#tags-table');
    assert.deepEqual([tag[0], tag[2], tag[3]], ['v1', 'live', fmt(HUB_PULLS)]);
    // A range keeps the registry.
    await page.click('.segmented a:text-is("90 days")');
    await page.waitForURL(/days=90/);
    assert.match(page.url(), /registry=hub/);
    await settled(page);
    assert.equal(await page.textContent('#repo-numpulls .stat-value'), fmt(HUB_PULLS));

    // The default registry's team/app: no registry in the link.
    await page.goto(`${base()}/#/repositories`);
    await page.waitForSelector('#repositories-table');
    await rowOf('default').click();
    await page.waitForURL(/#\/r\/team\/app$/);
    await page.waitForSelector('#repository');
    await settled(page);
    assert.equal(await page.textContent('#repo-numpulls .stat-value'), fmt(DEFAULT_PULLS));
    assert.equal(await page.textContent('#repository-registry'), 'registry default');
  });

  it('choosing one registry narrows the list and the overview to it', async () => {
    await page.goto(`${base()}/#/repositories`);
    await page.waitForSelector('#repositories-table');
    await page.selectOption('#registry', 'hub');
    await page.waitForURL(/registry=hub/);
    await page.waitForFunction(() => document.querySelector('#scope')?.textContent === 'registry hub');
    await settled(page);
    const header = await page.locator('#repositories-table th').allTextContents();
    assert.ok(!header.includes('Registry'), 'one registry: no registry column');
    assert.deepEqual(
      (await rows(page, '#repositories-table')).map((r) => r.slice(0, 2)),
      [
        ['library/nginx', '2'],
        [APP, fmt(HUB_PULLS)],
      ],
    );
    // Its rows still open the hub's repository; the navigation keeps the registry.
    assert.match(await page.getAttribute(`#repositories-table a.repo:text-is("${APP}")`, 'href'), /registry=hub/);
    await page.click('nav a[data-nav="overview"]');
    await page.waitForURL(/#\/\?registry=hub/);
    await page.waitForSelector('#overview #totals');
    await settled(page);
    assert.equal(await page.textContent('#total-repositories .stat-value'), '2');
    assert.equal(await page.textContent('#total-numpulls .stat-value'), fmt(HUB_PULLS + 2));
    assert.equal(await page.locator('#registries-table').count(), 0);
    await screenshot('registries-hub');

    await page.selectOption('#registry', '');
    await page.waitForFunction(() => document.querySelector('#scope')?.textContent === 'all registries');
    assert.equal(await page.textContent('#total-repositories .stat-value'), '3');
  });

  it('no script errors and no Content-Security-Policy violations', () => {
    assert.deepEqual(problems, []);
  });
});
