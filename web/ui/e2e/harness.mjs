// Shared set-up for the browser tests: a real gcrm (its own PostgreSQL under a temporary data
// directory, demo data) and Debian's Chromium driven by playwright-core.
//
// GCRM_BIN=path uses that binary; GCRM_E2E_URL=http://… uses a running server; otherwise the current tree is built into a temporary
// directory, so the test always sees the UI files as they are now (go:embed).
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, chmodSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const chromiumArgs = [
  '--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync',
];

function log(...a) {
  if (process.env.GCRM_E2E_VERBOSE) console.error('[e2e]', ...a);
}

/** buildGcrm returns the path of a gcrm binary built from the working tree. */
function buildGcrm(dir) {
  if (process.env.GCRM_BIN) return path.resolve(process.env.GCRM_BIN);
  const bin = path.join(dir, 'gcrm');
  log('go build', bin);
  execFileSync('go', ['build', '-o', bin, './cmd/gcrm'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  return bin;
}

/**
 * startGcrm runs `gcrm demo --customers N [args…]` on a free loopback port with a fresh data
 * directory and resolves to { url, stop, output } once it prints its URL. When the binary has
 * no demo command yet, it runs `gcrm serve` and creates `seed` customers through the API.
 */
export async function startGcrm({ customers = 20000, seed = 400, timeoutMs = 10 * 60_000, args: extraArgs = [] } = {}) {
  // GCRM_E2E_URL points the tests at a server that is already running (while developing).
  if (process.env.GCRM_E2E_URL) {
    const url = process.env.GCRM_E2E_URL.replace(/\/$/, '');
    const user = process.env.GCRM_E2E_EMAIL ? { email: process.env.GCRM_E2E_EMAIL, password: process.env.GCRM_E2E_PASSWORD } : null;
    return { url, stop: async () => {}, demo: true, user, headers: await apiHeaders(url, user) };
  }
  // The private PostgreSQL runs as user postgres when we are root: every directory above
  // its data directory must be traversable by it, so use a 0755 directory under /tmp.
  const root = mkdtempSync(path.join(tmpdir(), 'gcrm-e2e-'));
  chmodSync(root, 0o755);
  const dataDir = path.join(root, 'data');
  const binDir = path.join(root, 'bin');
  mkdirSync(binDir);
  let bin;
  let help;
  try {
    bin = buildGcrm(binDir);
    help = execFileSync(bin, ['help'], { encoding: 'utf8' });
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  const hasDemo = /^\s+demo\s/m.test(help);
  const args = hasDemo
    ? ['demo', '--customers', String(customers), '--addr', '127.0.0.1:0', '--data-dir', dataDir, ...extraArgs]
    : ['serve', '--addr', '127.0.0.1:0', '--data-dir', dataDir];
  log('start', bin, args.join(' '));
  const env = { ...process.env };
  delete env.DATABASE_URL; // always a private cluster: tests never touch a real database
  // From the repository root, where the demo finds web/ui/node_modules (us-atlas, cities).
  const child = spawn(bin, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let exited = null;
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));
  const onExit = () => { if (!exited) child.kill('SIGKILL'); };
  process.on('exit', onExit);

  const url = await new Promise((resolve, reject) => {
    exit.then(() => rmSync(root, { recursive: true, force: true })); // also when it never served
    const timer = setTimeout(() => reject(new Error(`gcrm did not print its URL within ${timeoutMs / 1000}s:\n${output}`)), timeoutMs);
    const onData = (chunk) => {
      output += chunk;
      const m = /gcrm: serving on (http:\/\/\S+?)\/?\s/.exec(output);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', (c) => {
      if (process.env.GCRM_E2E_VERBOSE) process.stderr.write(c);
      // keep the tail for error messages; request logs are many
      output = (output + c).slice(-20000);
    });
    exit.then((e) => { clearTimeout(timer); reject(new Error(`gcrm exited (${JSON.stringify(e)}) before serving:\n${output}`)); });
  });
  log('serving at', url);

  async function stop() {
    process.off('exit', onExit);
    if (!exited) {
      child.kill('SIGTERM'); // lets gcrm stop its PostgreSQL
      const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exit;
      clearTimeout(t);
    }
    rmSync(root, { recursive: true, force: true });
  }

  let user = null;
  let headers = {};
  try {
    if (/^\s+user\s/m.test(help)) {
      // An admin for the tests, added while the server runs (it shares the private cluster).
      user = { email: 'e2e-admin@example.com', password: 'e2e-' + Math.random().toString(36).slice(2) + '-Pw9!' };
      execFileSync(bin, ['user', 'add', user.email, '--role', 'admin', '--name', 'E2E Admin', '--password-stdin', '--data-dir', dataDir],
        { input: user.password + '\n', env, stdio: ['pipe', 'ignore', 'pipe'] });
      headers = await apiHeaders(url, user);
    }
    if (!hasDemo) await seedCustomers(url, seed, headers);
  } catch (err) {
    await stop();
    throw new Error(`${err.message}\n${output}`);
  }
  return { url, stop, demo: hasDemo, user, headers };
}

/**
 * apiHeaders signs user in and returns the headers (session cookie, CSRF token) that let
 * Node's fetch call the API as that user; {} when there is no user (a server without
 * sign-in).
 */
export async function apiHeaders(url, user) {
  if (!user) return {};
  const res = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(user),
  });
  if (!res.ok) throw new Error(`signing in as ${user.email}: ${res.status} ${await res.text()}`);
  const me = await res.json();
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  return { Cookie: cookie, 'X-CSRF-Token': me.csrf_token || '' };
}

/** seedCustomers creates n customers spread over the contiguous US (no demo command). */
async function seedCustomers(url, n, headers) {
  const kinds = ['customer', 'prospect', 'lead'];
  const statuses = ['active', 'churned', 'new'];
  const segments = ['enterprise', 'smb', 'public'];
  let s = 1;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  const hubs = [[-74.0, 40.7], [-87.6, 41.9], [-118.2, 34.1], [-95.4, 29.8], [-122.4, 37.8], [-84.4, 33.7], [-104.99, 39.74]];
  for (let i = 0; i < n; i++) {
    const [hx, hy] = hubs[i % hubs.length];
    const body = {
      name: `Seed Customer ${i + 1}`, kind: kinds[i % 3], status: statuses[(i >> 1) % 3], segment: segments[(i >> 2) % 3],
      owner: `rep${i % 5}`, revenue: Math.round(rnd() * 100000), street: `${i + 1} Main St`, city: 'Testville',
      region: 'TX', postcode: '75001', country: 'US', email: `c${i}@example.com`, phone: '+1 555 0100',
      lon: hx + (rnd() - 0.5) * 3, lat: hy + (rnd() - 0.5) * 2,
    };
    const res = await fetch(`${url}/api/v1/customers`, {
      method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`seeding customer ${i}: ${res.status} ${await res.text()}`);
  }
}

/** launchBrowser starts Chromium with a fresh profile (playwright makes a temporary one). */
export async function launchBrowser() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: chromiumArgs, headless: true });
}

/**
 * watchPage records what a user would call broken: console errors, uncaught exceptions,
 * failed requests and requests that leave the origin.
 */
export function watchPage(page, origin) {
  const problems = { console: [], failed: [], offsite: [] };
  page.on('console', (m) => { if (m.type() === 'error') problems.console.push(m.text()); });
  page.on('pageerror', (e) => problems.console.push(`uncaught: ${e.message}`));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!['data:', 'blob:'].includes(u.protocol) && u.origin !== origin) problems.offsite.push(r.url());
  });
  page.on('requestfailed', (r) => {
    const err = r.failure()?.errorText || '';
    if (!/ERR_ABORTED|NS_BINDING_ABORTED/.test(err)) problems.failed.push(`${r.url()}: ${err}`);
  });
  page.on('response', (r) => { if (r.status() >= 400) problems.failed.push(`${r.url()}: ${r.status()}`); });
  problems.clear = () => { problems.console.length = 0; problems.failed.length = 0; problems.offsite.length = 0; };
  return problems;
}

/**
 * useDemo is a test file's set-up: it registers node:test hooks that start `gcrm demo` with
 * GCRM_E2E_CUSTOMERS records (else `customers`) and `args`, launch Chromium with one watched
 * 1280×800 page, and stop both after the file's tests. It returns the session, whose gcrm,
 * browser, page and problems are set once its before hook has run. setup(demo), when given,
 * runs in that hook once all is up (Node 20 does not wait for one root before hook to end
 * before it starts the next, so a file's own hook cannot rely on the demo).
 */
export function useDemo({ customers = 20000, args = [], setup } = {}) {
  const demo = {
    gcrm: null,
    browser: null,
    page: null,
    problems: null, // watchPage's record of the current page
    // Screenshots go to test-results/ (ignored by git); GCRM_E2E_SCREENSHOTS=docs/screenshots
    // refreshes the README's pictures.
    shots: path.resolve(repoRoot, process.env.GCRM_E2E_SCREENSHOTS || 'test-results/screenshots'),

    /** newPage closes the page and opens a watched one in a new browser context (signed out). */
    async newPage() {
      await demo.page?.close();
      demo.page = await demo.browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, acceptDownloads: true });
      demo.problems = watchPage(demo.page, new URL(demo.gcrm.url).origin);
      return demo.page;
    },

    /** getJSON GETs path from the server as the harness's admin (or with headers) and asserts a 200. */
    async getJSON(p, headers = demo.gcrm.headers) {
      const res = await fetch(`${demo.gcrm.url}${p}`, { headers });
      assert.equal(res.status, 200, `${p}: ${res.status} ${await res.clone().text()}`);
      return res.json();
    },

    /** signIn opens `at` signed out, signs user in from the form and waits for the map. */
    async signIn(user, at = '/') {
      const { page } = demo;
      await page.goto(`${demo.gcrm.url}${at}`);
      await page.waitForSelector('#signin', { state: 'visible' });
      demo.problems.clear(); // the first /auth/me is a 401 by design
      await page.fill('#signin-email', user.email);
      await page.fill('#signin-password', user.password);
      await page.click('#signin-submit');
      await page.waitForSelector('#signin', { state: 'hidden' });
      await waitForMapIdle(page);
    },

    /** assertNoProblems fails when the page logged errors, had requests fail or leave the origin. */
    assertNoProblems(where) {
      assert.deepEqual(demo.problems.console, [], `${where}: console errors`);
      assert.deepEqual(demo.problems.failed, [], `${where}: failed requests`);
      assert.deepEqual(demo.problems.offsite, [], `${where}: requests that left the origin`);
    },
  };

  before(async () => {
    demo.gcrm = await startGcrm({ customers: Number(process.env.GCRM_E2E_CUSTOMERS || customers), args });
    demo.browser = await launchBrowser();
    await demo.newPage();
    await setup?.(demo);
  }, { timeout: 15 * 60_000 });

  after(async () => {
    await demo.browser?.close();
    await demo.gcrm?.stop();
  }, { timeout: 2 * 60_000 });

  return demo;
}

/** waitForMapIdle waits until the map has loaded, stopped moving and drawn every tile. */
export async function waitForMapIdle(page, timeout = 60_000) {
  await page.waitForFunction(() => {
    const m = window.gcrm?.map;
    return Boolean(m && m.loaded() && m.areTilesLoaded() && !m.isMoving() && m.isStyleLoaded() && !window.gcrm.busy());
  }, null, { timeout, polling: 100 });
  // One more frame so that queryRenderedFeatures sees what was just drawn.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

/** mapToPage converts a lon/lat to page coordinates for mouse clicks. */
export async function mapToPage(page, lngLat) {
  return page.evaluate((ll) => {
    const m = window.gcrm.map;
    const p = m.project(ll);
    const r = m.getCanvas().getBoundingClientRect();
    return { x: r.left + p.x, y: r.top + p.y };
  }, lngLat);
}
