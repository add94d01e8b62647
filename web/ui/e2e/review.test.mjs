// The geocoding review in a real browser against a real gcrm demo (which adds records
// without a location and with low confidence): open the list, fix one record by searching
// an address and picking a candidate, fix another by dragging its pin, and check through the
// API that both are stored with precision "manual" and a location and left the list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { useDemo, waitForMapIdle } from './harness.mjs';

const demo = useDemo({ customers: 5000 });
const { getJSON, signIn, assertNoProblems } = demo;

/** reviewAll pages through the review list. */
async function reviewAll() {
  const out = [];
  let cursor = '';
  for (;;) {
    const batch = await getJSON(`/api/v1/geocode/review?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...batch.features);
    if (!batch.next_cursor) return out;
    cursor = batch.next_cursor;
  }
}

/** waitForSearch waits until the server's geocoder has loaded (it loads in the background). */
async function waitForSearch() {
  for (let i = 0; i < 240; i++) {
    const res = await fetch(`${demo.gcrm.url}/api/v1/geocode/search?q=Austin%2C+TX`, { headers: demo.gcrm.headers });
    if (res.status === 200) return;
    assert.equal(res.status, 503, `search: ${res.status} ${await res.text()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.fail('the geocoder did not load within 2 minutes');
}

let before0; // the review list before the fixes

test('the review list shows ungeocoded and low-confidence records', async () => {
  before0 = await reviewAll();
  assert.ok(before0.some((f) => f.geocode_status === 'ungeocoded' && !f.geometry && f.properties.geocode.error), 'no ungeocoded record with a reason');
  assert.ok(before0.some((f) => f.geocode_status === 'low_confidence' && f.geometry), 'no low-confidence record');
  await waitForSearch();

  await signIn(demo.gcrm.user);
  await demo.page.click('#review-toggle');
  await demo.page.waitForSelector('#rv-list .rv-item');
  const shown = await demo.page.locator('#rv-list .rv-item').count();
  assert.equal(shown, Math.min(50, before0.length));
  assert.match(await demo.page.evaluate(() => location.hash), /review=1/);
  const first = demo.page.locator('#rv-list .rv-item').first();
  assert.equal(await first.getAttribute('data-status'), 'ungeocoded');
  assert.match(await first.locator('.rv-reason').textContent(), /not in the offline gazetteer/);
  assertNoProblems('review list');
});

let searched;
let dragged;

test('fix a record by searching an address and picking a candidate', async () => {
  const f = before0.find((x) => x.geocode_status === 'ungeocoded');
  searched = f.id;
  await demo.page.click(`#rv-list .rv-item[data-id="${f.id}"] .rv-pick`);
  await demo.page.waitForSelector('#drawer[data-state="ready"]');
  assert.equal(await demo.page.locator('#rv-save').isDisabled(), true, 'Save is enabled without a pin');
  await demo.page.fill('#rv-q', 'Springfield, IL'); // the record's city is misspelled: the user types it right
  await demo.page.click('#rv-search button[type=submit]');
  await demo.page.waitForSelector('#rv-cands .rv-cand');
  const label = await demo.page.locator('#rv-cands .rv-cand').first().textContent();
  assert.match(label, /(city|postcode).*%.*gazetteer/);
  await demo.page.click('#rv-cands .rv-cand >> nth=0');
  await demo.page.waitForSelector('#rv-marker');
  await demo.page.click('#rv-save');
  await demo.page.waitForSelector(`#rv-list .rv-item[data-id="${f.id}"]`, { state: 'detached' });
  const got = await getJSON(`/api/v1/customers/${f.id}`);
  assert.equal(got.properties.geocode.precision, 'manual');
  assert.ok(got.geometry, 'no location after the fix');
  await demo.page.waitForSelector(`#drawer[data-id="${f.id}"][data-state="ready"]`);
  assert.match(await demo.page.locator('#d-body').textContent(), /manual/);
  assertNoProblems('search fix');
});

test('fix a record by dragging its pin', async () => {
  const f = before0.find((x) => x.geocode_status === 'low_confidence');
  dragged = f.id;
  const [lon0, lat0] = f.geometry.coordinates;
  // Low-confidence records come after the ungeocoded ones: page on with "Show more".
  const item = demo.page.locator(`#rv-list .rv-item[data-id="${f.id}"]`);
  while (await item.count() === 0) {
    const n = await demo.page.locator('#rv-list .rv-item').count();
    assert.ok(await demo.page.locator('#rv-more').isVisible(), `record ${f.id} not in the list and no more pages`);
    await demo.page.click('#rv-more');
    await demo.page.waitForFunction((k) => document.querySelectorAll('#rv-list .rv-item').length > k, n);
  }
  await demo.page.click(`#rv-list .rv-item[data-id="${f.id}"] .rv-pick`);
  await demo.page.waitForSelector('#rv-marker');
  await demo.page.waitForSelector(`#drawer[data-id="${f.id}"][data-state="ready"]`);
  await waitForMapIdle(demo.page);
  const box = await demo.page.locator('#rv-marker').boundingBox();
  const x = box.x + box.width / 2;
  const y = box.y + box.height - 4; // the pin's tip area
  await demo.page.mouse.move(x, y);
  await demo.page.mouse.down();
  for (let i = 1; i <= 10; i++) await demo.page.mouse.move(x + 8 * i, y + 5 * i);
  await demo.page.mouse.up();
  assert.match(await demo.page.locator('#rv-pin').textContent(), /Pin at/);
  // Where the pin now is, reverse geocoded: nearest place, state › county, ZIP.
  await demo.page.waitForSelector('#rv-where');
  assert.match(await demo.page.locator('#rv-where').textContent(), /km from .+ · .+ › .+ · ZIP \d{5} \(nearest ZIP centroid, \d+(\.\d)? km\)/);
  await demo.page.waitForTimeout(200);
  mkdirSync(demo.shots, { recursive: true });
  await demo.page.screenshot({ path: path.join(demo.shots, 'review.png') });
  await demo.page.click('#rv-save');
  await demo.page.waitForSelector(`#rv-list .rv-item[data-id="${f.id}"]`, { state: 'detached' });
  const got = await getJSON(`/api/v1/customers/${f.id}`);
  assert.equal(got.properties.geocode.precision, 'manual');
  const [lon1, lat1] = got.geometry.coordinates;
  assert.ok(Math.abs(lon1 - lon0) > 1e-4 && Math.abs(lat1 - lat0) > 1e-4, `the pin did not move: ${lon0},${lat0} → ${lon1},${lat1}`);
  assert.ok(lon1 > lon0 && lat1 < lat0, 'dragged right and down, the point should be east and south');
  assertNoProblems('drag fix');
});

test('both fixed records left the review list', async () => {
  const after = await reviewAll();
  const ids = new Set(after.map((f) => f.id));
  assert.ok(!ids.has(searched) && !ids.has(dragged), 'a fixed record is still listed');
  assert.equal(after.length, before0.length - 2);
});
