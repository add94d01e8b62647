// The map at / in a real browser against a real gcrm with demo data. One server and one
// browser for the whole file (they are the slow part); the tests run in order and each
// leaves the page where the next one starts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startGcrm, launchBrowser, watchPage, waitForMapIdle, mapToPage, repoRoot } from './harness.mjs';

const CUSTOMERS = Number(process.env.GCRM_E2E_CUSTOMERS || 20000);
// Screenshots go to test-results/ (ignored by git); GCRM_E2E_SCREENSHOTS=docs/screenshots
// refreshes the README's pictures.
const shots = path.resolve(repoRoot, process.env.GCRM_E2E_SCREENSHOTS || 'test-results/screenshots');

let gcrm;
let browser;
let page;
let problems;
let all; // every located record from the API: [{id, name, kind, lon, lat}]

before(async () => {
  gcrm = await startGcrm({ customers: CUSTOMERS });
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  problems = watchPage(page, new URL(gcrm.url).origin);
  all = await listAll(gcrm.url, gcrm.headers);
}, { timeout: 15 * 60_000 });

after(async () => {
  await browser?.close();
  await gcrm?.stop();
}, { timeout: 2 * 60_000 });

/** listAll pages through the customers API. */
async function listAll(base, headers) {
  const out = [];
  let cursor = '';
  for (;;) {
    const res = await fetch(`${base}/api/v1/customers?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers });
    assert.equal(res.status, 200, `listing customers: ${res.status}`);
    const fc = await res.json();
    for (const f of fc.features) {
      if (f.geometry) out.push({ id: f.id, name: f.properties.name, kind: f.properties.kind, lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1] });
    }
    if (!fc.next_cursor) return out;
    cursor = fc.next_cursor;
  }
}

function assertNoProblems(where) {
  assert.deepEqual(problems.console, [], `${where}: console errors`);
  assert.deepEqual(problems.failed, [], `${where}: failed requests`);
  assert.deepEqual(problems.offsite, [], `${where}: requests that left the origin`);
}

/**
 * rendered returns what the map draws for customers: clusters with their count and records.
 * The view source holds the server's tile features re-clustered in the browser (app.js):
 * n is how many records a feature stands for, total the sum of n over a browser cluster.
 */
async function rendered(layers = ['clusters', 'points']) {
  return page.evaluate((layers) => window.gcrm.map.queryRenderedFeatures({ layers }).map((f) => {
    const p = f.properties;
    const count = Number(p.total ?? p.n);
    return { cluster: p.point_count !== undefined || count > 1, count, id: p.rec, fid: f.id, kind: p.kind, lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1] };
  }), layers);
}

async function jump(view) {
  await page.evaluate((v) => window.gcrm.map.jumpTo(v), view);
  await waitForMapIdle(page);
}

test('signing in shows the map with no console errors, failed or off-site requests', async () => {
  const res = await page.goto(gcrm.url + '/');
  assert.equal(res.status(), 200);
  assert.equal(await page.locator('.brand').textContent(), 'gcrm');
  if (gcrm.user) {
    // Not signed in: the sign-in form, after the one expected 401 of "who am I".
    await page.waitForSelector('#signin', { state: 'visible' });
    assert.deepEqual(problems.failed.map((f) => f.replace(gcrm.url, '')), ['/api/v1/auth/me: 401']);
    problems.clear();
    await page.fill('#signin-email', gcrm.user.email);
    await page.fill('#signin-password', 'not the password');
    await page.click('#signin-submit');
    await page.waitForSelector('#signin-error', { state: 'visible' });
    assert.match(await page.locator('#signin-error').textContent(), /wrong e-mail or password/i);
    problems.clear(); // the refused sign-in is a 401 by design
    await page.fill('#signin-password', gcrm.user.password);
    await page.click('#signin-submit');
    await page.waitForSelector('#signin', { state: 'hidden' });
    assert.match(await page.locator('#user-slot').textContent(), /Signed in as/);
  }
  await waitForMapIdle(page);
  assert.match(await page.evaluate(() => location.hash), /^#map=[\d.]+\/-?[\d.]+\/-?[\d.]+/);
  assertNoProblems('first load');
});

test('clusters render with counts that add up to every located record', async () => {
  assert.ok(all.length > 0, 'the API lists no located customers');
  const lons = all.map((c) => c.lon);
  const lats = all.map((c) => c.lat);
  await page.evaluate((b) => window.gcrm.map.fitBounds(b, { padding: 40, animate: false, maxZoom: 3 }),
    [[Math.min(...lons), Math.min(...lats)], [Math.max(...lons), Math.max(...lats)]]);
  await waitForMapIdle(page);
  const fs = await rendered();
  const clusters = fs.filter((f) => f.cluster);
  assert.ok(clusters.length > 0, 'no cluster drawn');
  for (const c of clusters) assert.ok(c.count > 0, `cluster with count ${c.count}`);
  const sum = fs.reduce((s, f) => s + (f.cluster ? f.count : 1), 0);
  assert.equal(sum, all.length, `counts drawn at z${await page.evaluate(() => window.gcrm.map.getZoom())}`);
  // Each cluster carries a text label with its count.
  const labels = await page.evaluate(() => window.gcrm.map.queryRenderedFeatures({ layers: ['cluster-count'] }).length);
  assert.ok(labels >= clusters.length, `${labels} labels for ${clusters.length} clusters`);

  // The view a user first sees, for the README.
  await jump({ center: [-96.5, 38.3], zoom: 4 });
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, 'map.png') });
  assertNoProblems('clusters');
});

test('the filter bar re-requests tiles with the filter', async () => {
  const before = (await rendered()).reduce((s, f) => s + (f.cluster ? f.count : 1), 0);
  const tileRequest = page.waitForRequest((r) => /\/tiles\/customers\/.*[?&]kind=lead/.test(r.url()));
  await page.selectOption('#f-kind', 'lead');
  await tileRequest;
  await waitForMapIdle(page);
  const leads = all.filter((c) => c.kind === 'lead').length;
  const after = (await rendered()).reduce((s, f) => s + (f.cluster ? f.count : 1), 0);
  assert.ok(after < before || leads === all.length, `filtered ${after}, unfiltered ${before}`);
  assert.match(await page.evaluate(() => location.hash), /kind=lead/);
  // The pickers count from the cube: the chosen kind's count is the count badge's.
  await page.waitForFunction(() => /^lead \(/.test(document.querySelector('#f-kind').selectedOptions[0].textContent));
  const [picked, badge] = await page.evaluate(() => [document.querySelector('#f-kind').selectedOptions[0].textContent, document.querySelector('#f-count').textContent]);
  assert.equal(picked.replace(/^lead \((.*)\)$/, '$1 records'), badge);
  await page.selectOption('#f-kind', '');
  await waitForMapIdle(page);
  assert.doesNotMatch(await page.evaluate(() => location.hash), /kind=/);
  assertNoProblems('filters');
});

test('clicking a cluster zooms in to it', async () => {
  const clusters = (await rendered(['clusters'])).sort((a, b) => b.count - a.count);
  assert.ok(clusters.length > 0, 'no cluster to click');
  const z0 = await page.evaluate(() => window.gcrm.map.getZoom());
  const target = clusters[0];
  const at = await mapToPage(page, [target.lon, target.lat]);
  await page.mouse.move(at.x, at.y);
  // Hover highlights what is under the pointer (feature-state on the view source).
  const hover = await page.evaluate((ll) => {
    const m = window.gcrm.map;
    const [f] = m.queryRenderedFeatures(m.project(ll), { layers: ['clusters', 'points'] });
    return f && m.getFeatureState({ source: 'view', id: f.id }).hover;
  }, [target.lon, target.lat]);
  assert.equal(hover, true, 'the cluster under the pointer is not highlighted');
  await page.mouse.click(at.x, at.y);
  await page.waitForFunction((z) => window.gcrm.map.getZoom() > z + 0.5, z0, { timeout: 10_000 });
  await waitForMapIdle(page);
  const c = await page.evaluate(() => window.gcrm.map.getCenter().toArray());
  assert.ok(Math.abs(c[0] - target.lon) < 1 && Math.abs(c[1] - target.lat) < 1, `centred on ${c}, cluster at ${target.lon},${target.lat}`);
  assertNoProblems('cluster click');
});

test('clicking a customer opens its details', async () => {
  // Go close to a known record, where records are drawn one by one.
  const pick = all[Math.floor(all.length / 2)];
  await jump({ center: [pick.lon, pick.lat], zoom: 16 });
  let points = await rendered(['points']);
  for (let z = 17; points.length === 0 && z <= 19; z++) {
    await jump({ center: [pick.lon, pick.lat], zoom: z });
    points = await rendered(['points']);
  }
  assert.ok(points.length > 0, 'no single customer drawn at high zoom');
  // The one nearest the centre: clear of the legend and the controls in the corners.
  const d = (p) => (p.lon - pick.lon) ** 2 + (p.lat - pick.lat) ** 2;
  const target = points.find((p) => p.id === pick.id) || points.sort((a, b) => d(a) - d(b))[0];
  const at = await mapToPage(page, [target.lon, target.lat]);
  await page.mouse.move(at.x, at.y);
  await page.mouse.click(at.x, at.y);
  const drawer = page.locator('#drawer');
  await page.waitForSelector('#drawer[data-state="ready"]', { timeout: 10_000 });
  const id = Number(await drawer.getAttribute('data-id'));
  const want = await (await fetch(`${gcrm.url}/api/v1/customers/${id}`, { headers: gcrm.headers })).json();
  assert.equal(await page.locator('#d-name').textContent(), want.properties.name);
  const text = await page.locator('#d-body').textContent();
  for (const v of [want.properties.kind, want.properties.status, want.properties.segment, want.properties.owner]) {
    if (v) assert.ok(text.includes(v), `details lack ${v}`);
  }
  assert.match(await page.evaluate(() => location.hash), new RegExp(`[#&]sel=${id}(&|$)`));
  // Step back to street level, where the neighbours show, for the README's picture.
  const [lon, lat] = want.geometry.coordinates;
  const zoom = 10;
  await jump({ center: [lon + (200 * 360) / (512 * 2 ** zoom), lat], zoom }); // 200 px left of centre, clear of the drawer
  await page.screenshot({ path: path.join(shots, 'details.png') });
  assertNoProblems('customer click');
});

test('reloading the link restores the view and the selection; Esc closes the drawer', async () => {
  const before = await page.evaluate(() => ({ hash: location.hash, zoom: window.gcrm.map.getZoom(), center: window.gcrm.map.getCenter().toArray(), sel: window.gcrm.state.sel }));
  await page.reload();
  await waitForMapIdle(page);
  await page.waitForSelector('#drawer[data-state="ready"]', { timeout: 10_000 });
  const now = await page.evaluate(() => ({ zoom: window.gcrm.map.getZoom(), center: window.gcrm.map.getCenter().toArray(), sel: window.gcrm.state.sel }));
  assert.equal(now.sel, before.sel);
  assert.ok(Math.abs(now.zoom - before.zoom) < 0.01, `zoom ${now.zoom} vs ${before.zoom}`);
  assert.ok(Math.abs(now.center[0] - before.center[0]) < 1e-4 && Math.abs(now.center[1] - before.center[1]) < 1e-4, `center ${now.center} vs ${before.center}`);
  assert.equal(Number(await page.locator('#drawer').getAttribute('data-id')), before.sel);

  await page.keyboard.press('Escape');
  await page.waitForSelector('#drawer', { state: 'hidden' });
  assert.doesNotMatch(await page.evaluate(() => location.hash), /sel=/);
  assertNoProblems('reload');
});
