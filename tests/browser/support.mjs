// What the browser tests share: where things are, HTTPS requests to drec, launching
// Debian's headless Chromium through playwright-core, signing in, and reading the
// dashboard's tables and charts.
//
// Environment: DREC_NODE_MODULES (where `npm ci` put playwright-core), DREC_BROWSER_OUTPUT
// (screenshots and logs), CHROMIUM (default /usr/bin/chromium).
import fs from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const NODE_MODULES = path.resolve(process.env.DREC_NODE_MODULES ?? path.join(repoRoot, 'web', 'node_modules'));
export const OUTPUT = path.resolve(process.env.DREC_BROWSER_OUTPUT ?? path.join(os.tmpdir(), 'drec-browser'));
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

// One HTTPS request to `url`; without `ca` the certificate is not verified.
export function httpsRequest(url, { method = 'GET', body, headers = {}, ca } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      // agent: false, one connection per request: none is left open when drec is stopped.
      url,
      { method, headers, ca, rejectUnauthorized: Boolean(ca), timeout: 10_000, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

// Headless Chromium with a fresh profile in `profileDir`. `problems` collects page errors
// and console errors other than the expected ones (CSP violations are console errors): 401s,
// and the 404 of the retention plan of a drec without a policy (the cleanup view asks).
export async function launchBrowser(profileDir) {
  const require = createRequire(path.join(NODE_MODULES, '..', 'noop.js'));
  const { chromium } = require('playwright-core');
  // A persistent context is how Playwright takes a --user-data-dir.
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    ignoreHTTPSErrors: true, // drec's certificate is self-signed or from a test CA
    viewport: { width: 1280, height: 800 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  // On SIGTERM (the e2e test or ctest stopping the run) Playwright closes the browser but
  // leaves this process waiting for whatever the test awaited: end it once the browser is gone.
  process.once('SIGTERM', () => {
    setTimeout(() => process.exit(128 + 15), 5_000).unref();
    context
      .close()
      .catch(() => {})
      .finally(() => process.exit(128 + 15));
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    const text = message.text();
    const noPolicy = /status of 404/.test(text) && message.location().url.includes('/api/v1/retention/plan');
    if (message.type() === 'error' && !/status of 401/.test(text) && !noPolicy) problems.push(`console: ${text}`);
  });
  return { context, page, problems };
}

// Signs in with a bearer token on the sign-in form the page shows; waits for the overview.
export async function signIn(page, token) {
  await page.waitForSelector('#signin');
  await page.fill('#signin-token', token);
  await page.click('#signin-submit');
  await page.waitForSelector('#overview');
}

// Waits until the current view has rendered.
export async function settled(page) {
  await page.waitForSelector('main[aria-busy="false"]');
}

// What a chart draws: {labels, datasets: [{counter, label, data}]} from its data-chart.
export async function chartData(page, selector) {
  // Chart.js sizes the canvas once it is attached; then the chart is drawn.
  await page.waitForFunction((s) => document.querySelector(s)?.style.width !== '', selector);
  return JSON.parse(await page.locator(selector).getAttribute('data-chart'));
}

// Rows of a table as arrays of cell texts.
export async function rows(page, selector) {
  return page
    .locator(`${selector} tbody tr`)
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim())));
}

// A full-page screenshot as `dir`/`name`.png.
export async function screenshot(page, dir, name) {
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

// A number as the dashboard shows it.
export const fmt = (n) => new Intl.NumberFormat('en-US').format(n);

export const sum = (values) => values.reduce((a, b) => a + b, 0);
