// Browser test of the retention plan in the dashboard's cleanup view (issue 12: "the
// dashboard's cleanup view shows the same plan"). Starts drec with a policy file (keep the most
// recently pulled tag of every repository, no registry url: the plan is drec's view only), feeds
// it pushes and pulls with known order, and checks that the page shows exactly the plan that
// GET /api/v1/retention/plan answers: the deletions by digest, the tags that are not simply kept
// with their decisions, the decision filter, evaluation at another day, and the error message of
// a broken policy file. The 404 hint of a drec without a policy is checked by dashboard.test.mjs.
//
//   DREC_BINARY=build/release/drec DREC_NODE_MODULES=build/release/web/node_modules \
//     node --test tests/browser/retention_dashboard.test.mjs
//
// Environment: DREC_BINARY (the drec executable), and those of support.mjs: DREC_NODE_MODULES,
// DREC_BROWSER_OUTPUT (screenshots and drec's log), CHROMIUM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { httpsRequest, launchBrowser, OUTPUT, repoRoot, rows, screenshot, settled, signIn } from './support.mjs';

const DREC = path.resolve(process.env.DREC_BINARY ?? path.join(repoRoot, 'build', 'release', 'drec'));
const SCREENSHOTS = path.join(OUTPUT, 'screenshots');
const TOKEN = 'retention-dashboard-token';
const DAY = 86_400_000;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

const POLICY = `# keep the most recently pulled tag of every repository
rules:
  - name: keep-one
    repositories: "**"
    keep:
      most_recently_pulled: 1
`;

// ------------------------------------------------------------------------ the feed

const todayMidnight = Math.floor(Date.now() / DAY) * DAY;
const at = (daysAgo, hour = 12) => new Date(todayMidnight - daysAgo * DAY + hour * 3_600_000);
const digestOf = (text) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

let seq = 0;
function event({ action = 'pull', repository, tag, digest, time }) {
  seq += 1;
  const n = String(seq).padStart(12, '0');
  return {
    id: `7e1e0a2d-0000-4000-8000-${n}`,
    timestamp: time.toISOString(),
    action,
    target: {
      mediaType: OCI_MANIFEST,
      size: 345,
      length: 345,
      digest,
      repository,
      url: `http://registry.test/v2/${repository}/manifests/${tag}`,
      tag,
    },
    request: {
      id: `req-${n}`,
      addr: '127.0.0.1:40000',
      host: 'registry.test',
      method: action === 'push' ? 'PUT' : 'GET',
      useragent: 'drec-retention-browser-test',
    },
    actor: {},
    source: { addr: 'registry.test:5000', instanceID: 'drec-retention-browser-test' },
  };
}

// ci/app: b1..b4, each its own digest, pulled in that order: b4 is kept, b1 and b2 are
// deleted, b3 is held by limits.max_share (default 0.5 of 4 tags). ci/lib: x1 and x2 share one
// digest, x1 pulled, x2 never: x2 is held by the shared digest. Nothing else.
const APP = 'ci/app';
const LIB = 'ci/lib';
const APP_TAGS = ['b1', 'b2', 'b3', 'b4'];
const LIB_DIGEST = digestOf('ci/lib');
function feed() {
  const events = [];
  APP_TAGS.forEach((tag, i) => {
    const digest = digestOf(`${APP}:${tag}`);
    events.push(event({ action: 'push', repository: APP, tag, digest, time: at(30 - i) }));
    events.push(event({ repository: APP, tag, digest, time: at(10 - i) }));
  });
  for (const tag of ['x1', 'x2'])
    events.push(event({ action: 'push', repository: LIB, tag, digest: LIB_DIGEST, time: at(20) }));
  events.push(event({ repository: LIB, tag: 'x1', digest: LIB_DIGEST, time: at(2) }));
  return events;
}

// ------------------------------------------------------------------------ drec and the browser

let workdir;
let policyFile;
let port;
let ca;
let drec;
let drecExit;
let context;
let page;
let problems;

const base = () => `https://127.0.0.1:${port}`;
const request = (method, target, { body, headers } = {}) =>
  httpsRequest(`${base()}${target}`, { method, body, headers, ca });
const auth = { Authorization: `Bearer ${TOKEN}` };

async function api(target) {
  const res = await request('GET', target, { headers: auth });
  assert.equal(res.status, 200, `${target}: ${res.body}`);
  return JSON.parse(res.body);
}

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

async function startDrec() {
  port = await freePort();
  fs.mkdirSync(OUTPUT, { recursive: true });
  const log = fs.openSync(path.join(OUTPUT, 'drec-retention.log'), 'w');
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
      '--retention-policy-file',
      policyFile,
    ],
    { stdio: ['ignore', log, log] },
  );
  drecExit = new Promise((resolve) => drec.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (drec.exitCode !== null) throw new Error(`drec exited with ${drec.exitCode}; see ${OUTPUT}/drec-retention.log`);
    const certificate = path.join(workdir, 'tls', 'cert.pem');
    if (fs.existsSync(certificate)) {
      ca = fs.readFileSync(certificate);
      const ready = await request('GET', '/readyz').catch(() => null);
      if (ready?.status === 200) return;
    }
    if (Date.now() > deadline) throw new Error(`drec not ready after 20 s; see ${OUTPUT}/drec-retention.log`);
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

// What the page should show of a plan: the deletions' rows, and [repository, tag, decision]
// of the tags (and untagged manifests) a decision filter selects.
const short = (digest) => `${digest.split(':')[0]}:${digest.split(':')[1].slice(0, 12)}`;
const expectedDeletions = (plan) =>
  plan.deletions.map((d) => [d.repository, short(d.digest), d.tags.join(', ') || 'untagged', d.rule, d.reason]);
function expectedTags(plan, wanted) {
  const out = [];
  for (const repo of plan.repositories) {
    for (const t of repo.tags) if (wanted(t.decision)) out.push([repo.repository, t.tag, t.decision]);
    for (const m of repo.manifests)
      if (!m.tags.length && wanted(m.decision)) out.push([repo.repository, 'untagged', m.decision]);
  }
  return out;
}
const tagRows = async () => (await rows(page, '#retention-tags')).map((r) => r.slice(0, 3));

// Loads the page afresh at the cleanup view `hash` and waits for it to have rendered (a hash
// change alone would leave the previous view on the page until the new one replaces it).
async function openCleanup(hash) {
  await page.goto(`${base()}/${hash}`);
  await page.reload();
  await page.waitForSelector('#cleanup-table');
  await settled(page);
}

// ------------------------------------------------------------------------ the tests

describe('cleanup view with a retention policy', { timeout: 180_000 }, () => {
  before(async () => {
    workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'drec-retention-browser-'));
    policyFile = path.join(workdir, 'policy.yml');
    fs.writeFileSync(policyFile, POLICY);
    await startDrec();
    const res = await request('POST', '/events', {
      body: JSON.stringify({ events: feed() }),
      headers: { 'Content-Type': 'application/json', ...auth },
    });
    assert.equal(res.status, 200, `POST /events: ${res.body}`);
    ({ context, page, problems } = await launchBrowser(path.join(workdir, 'chromium-profile')));
    await page.goto(`${base()}/`);
    await signIn(page, TOKEN);
  });

  after(async () => {
    await context?.close().catch(() => {});
    await stopDrec();
    if (workdir) fs.rmSync(workdir, { recursive: true, force: true });
  });

  it('shows the deletions and the tags not simply kept, as the API plans them', async () => {
    await openCleanup('#/cleanup');
    await page.waitForSelector('#retention-deletions');
    const plan = await api('/api/v1/retention/plan');

    // The feed decides the plan; the page must show the plan's digests, and exactly those.
    const planned = plan.deletions.map((d) => d.digest).sort();
    assert.deepEqual(planned, [digestOf(`${APP}:b1`), digestOf(`${APP}:b2`)].sort());
    assert.deepEqual(await rows(page, '#retention-deletions'), expectedDeletions(plan));
    const shownDigests = await page
      .locator('#retention-deletions tbody td:nth-child(2) code')
      .evaluateAll((codes) => codes.map((c) => c.title));
    assert.deepEqual(shownDigests.sort(), planned);

    const notKept = expectedTags(plan, (d) => d !== 'keep');
    assert.deepEqual(
      [...notKept].sort(),
      [
        [APP, 'b1', 'delete'],
        [APP, 'b2', 'delete'],
        [APP, 'b3', 'held'],
        [LIB, 'x2', 'held'],
      ].sort(),
    );
    const shown = await rows(page, '#retention-tags');
    assert.deepEqual(
      shown.map((r) => r.slice(0, 3)),
      notKept,
    );
    // Last pulled, last pushed, pulls, rule and reason of b1, as the plan has them.
    const b1 = plan.repositories.find((r) => r.repository === APP).tags.find((t) => t.tag === 'b1');
    const b1Row = shown.find((r) => r[1] === 'b1');
    assert.equal(b1Row[4], `${b1.lastpulled.slice(0, 10)} ${b1.lastpulled.slice(11, 16)}`);
    assert.equal(b1Row[5], `${b1.lastpushed.slice(0, 10)} ${b1.lastpushed.slice(11, 16)}`);
    assert.deepEqual(b1Row.slice(6), [String(b1.numpulls), b1.rule, b1.reason]);

    const s = plan.summary;
    const statValue = (id) => page.textContent(`#${id} .stat-value`);
    assert.equal(await statValue('retention-delete-manifests'), String(s.delete_manifests));
    assert.equal(await statValue('retention-delete-tags'), String(s.delete_tags));
    assert.equal(await statValue('retention-held'), String(s.held_by_limits));
    assert.equal(await statValue('retention-kept'), String(s.kept));
    assert.equal(await statValue('retention-tags-total'), String(s.tags));
    assert.equal(plan.checked_against_registry, false);
    assert.match(await page.textContent('#retention-checked'), /not checked against the registry/);
    // The list of repositories not pulled recently is still there, below the plan.
    assert.equal(await page.locator('#retention + .page-head #cleanup-form').count(), 1);
    await screenshot(page, SCREENSHOTS, 'cleanup-retention');
  });

  it('filters the tags by decision', async () => {
    const plan = await api('/api/v1/retention/plan');
    for (const decision of ['keep', 'held', 'delete', 'all']) {
      await page.click(`#retention-filter a[data-decision="${decision}"]`);
      await page.waitForURL(new RegExp(`decision=${decision}`));
      await page.waitForSelector(`#retention-filter a.active[data-decision="${decision}"]`);
      await settled(page);
      const expected = expectedTags(plan, (d) => decision === 'all' || d === decision);
      assert.ok(expected.length > 0, decision);
      assert.deepEqual(await tagRows(), expected, decision);
    }
    assert.deepEqual(
      expectedTags(plan, (d) => d === 'keep').sort(),
      [
        [APP, 'b4', 'keep'],
        [LIB, 'x1', 'keep'],
      ].sort(),
    );
  });

  it('evaluates the plan at another day', async () => {
    await openCleanup('#/cleanup');
    const day = at(3).toISOString().slice(0, 10);
    await page.fill('#retention-at', day);
    await page.click('#retention-form button');
    await page.waitForURL(new RegExp(`at=${day}`));
    const isoAt = `${day}T00:00:00.000Z`;
    await page.waitForFunction(
      (t) => document.querySelector('#retention-meta time')?.getAttribute('datetime') === t,
      isoAt,
    );
    const plan = await api(`/api/v1/retention/plan?at=${day}T00:00:00Z`);
    assert.equal(plan.at, isoAt);
    assert.deepEqual(await rows(page, '#retention-deletions'), expectedDeletions(plan));
    assert.deepEqual(
      await tagRows(),
      expectedTags(plan, (d) => d !== 'keep'),
    );
    // "now" drops the day again.
    await page.click('#retention-now');
    await page.waitForURL((url) => !url.hash.includes('at='));
    await page.waitForFunction(
      (t) => document.querySelector('#retention-meta time')?.getAttribute('datetime') !== t,
      isoAt,
    );
  });

  it("shows the API's error message: a bad time, a broken policy file", async () => {
    const before = problems.length;
    await openCleanup('#/cleanup?at=2026-13-45');
    await page.waitForSelector('#retention-error .error');
    assert.match(await page.textContent('#retention-error'), /at: not an RFC 3339 time \(HTTP 400\)/);
    assert.equal(await page.locator('#retention-deletions').count(), 0);

    fs.writeFileSync(policyFile, 'rules: [\n');
    try {
      const answer = await request('GET', '/api/v1/retention/plan', { headers: auth });
      assert.equal(answer.status, 500, answer.body);
      const { error } = JSON.parse(answer.body);
      await openCleanup('#/cleanup');
      await page.waitForSelector('#retention-error .error');
      assert.equal(await page.textContent('#retention-error'), `${error} (HTTP 500)`);
      await screenshot(page, SCREENSHOTS, 'cleanup-retention-error');
    } finally {
      fs.writeFileSync(policyFile, POLICY);
    }
    // The failed plan requests (each page is loaded twice, see openCleanup) are the only
    // console errors these pages caused.
    const caused = problems.splice(before);
    const statuses = caused.map((p) => p.match(/^console: Failed to load resource: .* status of (\d+)/)?.[1]);
    assert.deepEqual([...new Set(statuses)], ['400', '500'], caused.join('\n'));
  });

  it('no script errors and no Content-Security-Policy violations', () => {
    assert.deepEqual(problems, []);
  });
});
