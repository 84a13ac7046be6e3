// Browser test of the dashboard of a drec configured without credentials (anonymous, which
// drec allows on loopback: what scripts/run.sh starts). The page must try the API without
// credentials and go straight to the overview: no sign-in form, ever, and no Sign out.
//
//   DREC_BINARY=build/release/drec DREC_NODE_MODULES=build/release/web/node_modules \
//     node --test tests/browser/anonymous_dashboard.test.mjs
//
// Environment: DREC_BINARY (the drec executable) and those of support.mjs:
// DREC_NODE_MODULES, DREC_BROWSER_OUTPUT (screenshots and drec's log), CHROMIUM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { httpsRequest, launchBrowser, OUTPUT, repoRoot, rows, screenshot, settled } from './support.mjs';

const DREC = path.resolve(process.env.DREC_BINARY ?? path.join(repoRoot, 'build', 'release', 'drec'));
const SCREENSHOTS = path.join(OUTPUT, 'screenshots');
const DRECLOG = path.join(OUTPUT, 'drec-anonymous.log');
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

// One tagged push and two pulls of anon/app an hour ago: the overview's top table lists it.
function events() {
  const at = (minutes) => new Date(Date.now() - minutes * 60_000).toISOString();
  return ['push', 'pull', 'pull'].map((action, i) => ({
    id: `0a7f3e2c-0000-4000-8000-00000000000${i}`,
    timestamp: at(60 - i),
    action,
    target: {
      mediaType: OCI_MANIFEST,
      size: 345,
      digest: DIGEST,
      repository: 'anon/app',
      tag: 'v1',
      url: 'http://registry.test/v2/anon/app/manifests/v1',
    },
    request: {
      id: `req-${i}`,
      addr: '127.0.0.1:40000',
      host: 'registry.test',
      method: action === 'push' ? 'PUT' : 'GET',
    },
    actor: {},
    source: { addr: 'registry.test:5000' },
  }));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

describe('dashboard of a drec without credentials', { timeout: 120_000 }, () => {
  let workdir;
  let port;
  let ca;
  let drec;
  let drecExit;
  let context;
  let page;
  let problems;
  const base = () => `https://127.0.0.1:${port}`;
  const request = (method, target, options = {}) => httpsRequest(`${base()}${target}`, { method, ca, ...options });

  before(async () => {
    workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'drec-browser-anonymous-'));
    port = await freePort();
    fs.mkdirSync(OUTPUT, { recursive: true });
    const log = fs.openSync(DRECLOG, 'w');
    // No --auth-tokens, no --auth-basic: anonymous, which drec accepts on a loopback address.
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
      ],
      { stdio: ['ignore', log, log] },
    );
    drecExit = new Promise((resolve) => drec.on('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (drec.exitCode !== null) throw new Error(`drec exited with ${drec.exitCode}; see ${DRECLOG}`);
      const certificate = path.join(workdir, 'tls', 'cert.pem');
      if (fs.existsSync(certificate)) {
        ca = fs.readFileSync(certificate);
        const ready = await request('GET', '/readyz').catch(() => null);
        if (ready?.status === 200) break;
      }
      if (Date.now() > deadline) throw new Error(`drec not ready after 20 s; see ${DRECLOG}`);
      await new Promise((r) => setTimeout(r, 100)); // polling drec's start, bounded by the deadline
    }
    const posted = await request('POST', '/events', {
      body: JSON.stringify({ events: events() }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(posted.status, 200, `POST /events without credentials: ${posted.body}`);
    ({ context, page, problems } = await launchBrowser(path.join(workdir, 'chromium-profile')));
  });

  after(async () => {
    await context?.close().catch(() => {});
    if (drec && drec.exitCode === null) {
      drec.kill('SIGTERM');
      let timer;
      const stopped = await Promise.race([drecExit, new Promise((r) => (timer = setTimeout(() => r(null), 15_000)))]);
      clearTimeout(timer);
      if (!stopped) {
        drec.kill('SIGKILL');
        await drecExit;
      }
    }
    if (workdir) fs.rmSync(workdir, { recursive: true, force: true });
  });

  it('the API answers without credentials', async () => {
    const res = await request('GET', '/api/v1/repositories');
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(
      JSON.parse(res.body).repositories.map((r) => [r.repositoryname, r.numpulls, r.numpushs]),
      [['anon/app', 2, 1]],
    );
  });

  it('opens on the overview without any sign-in form', async () => {
    // Records, from before the page's own script runs, whether a sign-in form ever appears.
    await page.addInitScript(() => {
      window.__signinSeen = false;
      new MutationObserver(() => {
        if (document.getElementById('signin')) window.__signinSeen = true;
      }).observe(document, { childList: true, subtree: true });
    });
    await page.goto(`${base()}/`);
    await page.waitForSelector('#overview #top-table');
    await settled(page);
    await screenshot(page, SCREENSHOTS, 'anonymous-overview');

    assert.equal(await page.evaluate(() => window.__signinSeen), false, 'a sign-in form was shown');
    assert.equal(await page.locator('#signin').count(), 0);
    assert.equal(await page.evaluate(() => document.body.classList.contains('signed-out')), false);
    assert.equal(await page.isVisible('.topbar'), true, 'the navigation shows');
    assert.equal(await page.isVisible('#signout'), false, 'nothing to sign out of');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('drec.authorization')), null);
    assert.equal(await page.textContent('#total-repositories .stat-value'), '1');
    assert.equal(await page.textContent('#total-numpulls .stat-value'), '2');
    const top = await rows(page, '#top-table');
    assert.equal(top.length, 1);
    assert.equal(top[0][0], 'anon/app');
  });

  it('navigates to the repository page without credentials too', async () => {
    await page.goto(`${base()}/#/r/anon/app`);
    await page.waitForSelector('#repository-counters');
    assert.equal(await page.textContent('#repo-numpulls .stat-value'), '2');
    assert.equal(await page.textContent('#repo-numpushs .stat-value'), '1');
    assert.equal(await page.evaluate(() => window.__signinSeen), false, 'a sign-in form was shown');
  });

  it('no script errors, no failed requests, no Content-Security-Policy violations', () => {
    assert.deepEqual(problems, []);
  });
});
