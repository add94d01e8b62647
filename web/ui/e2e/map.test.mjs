// The map at / in a real browser against a real gcrm with demo data. One server and one
// browser for the whole file (they are the slow part); the tests run in order and each
// leaves the page where the next one starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { useDemo, waitForMapIdle, mapToPage } from './harness.mjs';

let all; // every located record from the API: [{id, name, kind, lon, lat}]
const demo = useDemo({
  customers: 20000,
  setup: async ({ gcrm }) => { all = await listAll(gcrm.url, gcrm.headers); },
});
const { assertNoProblems } = demo;

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

/**
 * rendered returns what the map draws for customers: clusters with their count and records.
 * The view source holds the server's tile features re-clustered in the browser (app.js):
 * n is how many records a feature stands for, total the sum of n over a browser cluster.
 */
async function rendered(layers = ['clusters', 'points']) {
  return demo.page.evaluate((layers) => window.gcrm.map.queryRenderedFeatures({ layers }).map((f) => {
    const p = f.properties;
    const count = Number(p.total ?? p.n);
    return { cluster: p.point_count !== undefined || count > 1, count, id: p.rec, fid: f.id, kind: p.kind, lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1] };
  }), layers);
}

async function jump(view) {
  await demo.page.evaluate((v) => window.gcrm.map.jumpTo(v), view);
  await waitForMapIdle(demo.page);
}

test('signing in shows the map with no console errors, failed or off-site requests', async () => {
  const res = await demo.page.goto(demo.gcrm.url + '/');
  assert.equal(res.status(), 200);
  assert.equal(await demo.page.locator('.brand').textContent(), 'gcrm');
  if (demo.gcrm.user) {
    // Not signed in: the sign-in form, after the one expected 401 of "who am I".
    await demo.page.waitForSelector('#signin', { state: 'visible' });
    assert.deepEqual(demo.problems.failed.map((f) => f.replace(demo.gcrm.url, '')), ['/api/v1/auth/me: 401']);
    demo.problems.clear();
    await demo.page.fill('#signin-email', demo.gcrm.user.email);
    await demo.page.fill('#signin-password', 'not the password');
    await demo.page.click('#signin-submit');
    await demo.page.waitForSelector('#signin-error', { state: 'visible' });
    assert.match(await demo.page.locator('#signin-error').textContent(), /wrong e-mail or password/i);
    demo.problems.clear(); // the refused sign-in is a 401 by design
    await demo.page.fill('#signin-password', demo.gcrm.user.password);
    await demo.page.click('#signin-submit');
    await demo.page.waitForSelector('#signin', { state: 'hidden' });
    assert.match(await demo.page.locator('#user-slot').textContent(), /Signed in as/);
  }
  await waitForMapIdle(demo.page);
  assert.match(await demo.page.evaluate(() => location.hash), /^#map=[\d.]+\/-?[\d.]+\/-?[\d.]+/);
  assertNoProblems('first load');
});

test('clusters render with counts that add up to every located record', async () => {
  assert.ok(all.length > 0, 'the API lists no located customers');
  const lons = all.map((c) => c.lon);
  const lats = all.map((c) => c.lat);
  await demo.page.evaluate((b) => window.gcrm.map.fitBounds(b, { padding: 40, animate: false, maxZoom: 3 }),
    [[Math.min(...lons), Math.min(...lats)], [Math.max(...lons), Math.max(...lats)]]);
  await waitForMapIdle(demo.page);
  const fs = await rendered();
  const clusters = fs.filter((f) => f.cluster);
  assert.ok(clusters.length > 0, 'no cluster drawn');
  for (const c of clusters) assert.ok(c.count > 0, `cluster with count ${c.count}`);
  const sum = fs.reduce((s, f) => s + (f.cluster ? f.count : 1), 0);
  assert.equal(sum, all.length, `counts drawn at z${await demo.page.evaluate(() => window.gcrm.map.getZoom())}`);
  // Each cluster carries a text label with its count.
  const labels = await demo.page.evaluate(() => window.gcrm.map.queryRenderedFeatures({ layers: ['cluster-count'] }).length);
  assert.ok(labels >= clusters.length, `${labels} labels for ${clusters.length} clusters`);

  // The view a user first sees, for the README.
  await jump({ center: [-96.5, 38.3], zoom: 4 });
  mkdirSync(demo.shots, { recursive: true });
  await demo.page.screenshot({ path: path.join(demo.shots, 'map.png') });
  assertNoProblems('clusters');
});

test('the filter bar re-requests tiles with the filter', async () => {
  const before = (await rendered()).reduce((s, f) => s + (f.cluster ? f.count : 1), 0);
  const tileRequest = demo.page.waitForRequest((r) => /\/tiles\/customers\/.*[?&]kind=lead/.test(r.url()));
  await demo.page.selectOption('#f-kind', 'lead');
  await tileRequest;
  await waitForMapIdle(demo.page);
  const leads = all.filter((c) => c.kind === 'lead').length;
  const after = (await rendered()).reduce((s, f) => s + (f.cluster ? f.count : 1), 0);
  assert.ok(after < before || leads === all.length, `filtered ${after}, unfiltered ${before}`);
  assert.match(await demo.page.evaluate(() => location.hash), /kind=lead/);
  // The pickers count from the cube: the chosen kind's count is the count badge's.
  await demo.page.waitForFunction(() => /^lead \(/.test(document.querySelector('#f-kind').selectedOptions[0].textContent));
  const [picked, badge] = await demo.page.evaluate(() => [document.querySelector('#f-kind').selectedOptions[0].textContent, document.querySelector('#f-count').textContent]);
  assert.equal(picked.replace(/^lead \((.*)\)$/, '$1 records'), badge);
  await demo.page.selectOption('#f-kind', '');
  await waitForMapIdle(demo.page);
  assert.doesNotMatch(await demo.page.evaluate(() => location.hash), /kind=/);
  assertNoProblems('filters');
});

test('clicking a cluster zooms in to it', async () => {
  const clusters = (await rendered(['clusters'])).sort((a, b) => b.count - a.count);
  assert.ok(clusters.length > 0, 'no cluster to click');
  const z0 = await demo.page.evaluate(() => window.gcrm.map.getZoom());
  const target = clusters[0];
  const at = await mapToPage(demo.page, [target.lon, target.lat]);
  await demo.page.mouse.move(at.x, at.y);
  // Hover highlights what is under the pointer (feature-state on the view source).
  const hover = await demo.page.evaluate((ll) => {
    const m = window.gcrm.map;
    const [f] = m.queryRenderedFeatures(m.project(ll), { layers: ['clusters', 'points'] });
    return f && m.getFeatureState({ source: 'view', id: f.id }).hover;
  }, [target.lon, target.lat]);
  assert.equal(hover, true, 'the cluster under the pointer is not highlighted');
  await demo.page.mouse.click(at.x, at.y);
  await demo.page.waitForFunction((z) => window.gcrm.map.getZoom() > z + 0.5, z0, { timeout: 10_000 });
  await waitForMapIdle(demo.page);
  const c = await demo.page.evaluate(() => window.gcrm.map.getCenter().toArray());
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
  const at = await mapToPage(demo.page, [target.lon, target.lat]);
  await demo.page.mouse.move(at.x, at.y);
  await demo.page.mouse.click(at.x, at.y);
  const drawer = demo.page.locator('#drawer');
  await demo.page.waitForSelector('#drawer[data-state="ready"]', { timeout: 10_000 });
  const id = Number(await drawer.getAttribute('data-id'));
  const want = await (await fetch(`${demo.gcrm.url}/api/v1/customers/${id}`, { headers: demo.gcrm.headers })).json();
  assert.equal(await demo.page.locator('#d-name').textContent(), want.properties.name);
  const text = await demo.page.locator('#d-body').textContent();
  for (const v of [want.properties.kind, want.properties.status, want.properties.segment, want.properties.owner]) {
    if (v) assert.ok(text.includes(v), `details lack ${v}`);
  }
  assert.match(await demo.page.evaluate(() => location.hash), new RegExp(`[#&]sel=${id}(&|$)`));
  // Step back to street level, where the neighbours show, for the README's picture.
  const [lon, lat] = want.geometry.coordinates;
  const zoom = 10;
  await jump({ center: [lon + (200 * 360) / (512 * 2 ** zoom), lat], zoom }); // 200 px left of centre, clear of the drawer
  await demo.page.screenshot({ path: path.join(demo.shots, 'details.png') });
  assertNoProblems('customer click');
});

test('reloading the link restores the view and the selection; Esc closes the drawer', async () => {
  const before = await demo.page.evaluate(() => ({ hash: location.hash, zoom: window.gcrm.map.getZoom(), center: window.gcrm.map.getCenter().toArray(), sel: window.gcrm.state.sel }));
  await demo.page.reload();
  await waitForMapIdle(demo.page);
  await demo.page.waitForSelector('#drawer[data-state="ready"]', { timeout: 10_000 });
  const now = await demo.page.evaluate(() => ({ zoom: window.gcrm.map.getZoom(), center: window.gcrm.map.getCenter().toArray(), sel: window.gcrm.state.sel }));
  assert.equal(now.sel, before.sel);
  assert.ok(Math.abs(now.zoom - before.zoom) < 0.01, `zoom ${now.zoom} vs ${before.zoom}`);
  assert.ok(Math.abs(now.center[0] - before.center[0]) < 1e-4 && Math.abs(now.center[1] - before.center[1]) < 1e-4, `center ${now.center} vs ${before.center}`);
  assert.equal(Number(await demo.page.locator('#drawer').getAttribute('data-id')), before.sel);

  await demo.page.keyboard.press('Escape');
  await demo.page.waitForSelector('#drawer', { state: 'hidden' });
  assert.doesNotMatch(await demo.page.evaluate(() => location.hash), /sel=/);
  assertNoProblems('reload');
});
