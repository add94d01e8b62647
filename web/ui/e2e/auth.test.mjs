// Signing in as a rep in a real browser against `gcrm demo`: the rep sees only the records
// they own — in the list the UI loads, in the vector tiles the map draws (decoded here, every
// feature id checked, cluster counts summed), and a record of another rep answers 404.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Pbf from 'pbf';
import { VectorTile } from '@mapbox/vector-tile';
import { useDemo, waitForMapIdle } from './harness.mjs';

const REP = { email: 'rep1@demo.gcrm', password: process.env.GCRM_E2E_DEMO_PASSWORD || 'gcrm-demo' };

let everyone; // every record, as the harness's admin lists them: [{id, owner, lon, lat}]
const demo = useDemo({
  customers: 3000,
  setup: async ({ gcrm }) => {
    everyone = await listAll((path) => fetch(gcrm.url + path, { headers: gcrm.headers }).then((r) => r.json()));
  },
});

/** listAll pages through GET /api/v1/customers with get(path) → decoded JSON. */
async function listAll(get) {
  const out = [];
  let cursor = '';
  for (;;) {
    const fc = await get(`/api/v1/customers?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const f of fc.features) {
      out.push({ id: f.id, owner: f.properties.owner, lon: f.geometry?.coordinates[0], lat: f.geometry?.coordinates[1] });
    }
    if (!fc.next_cursor) return out;
    cursor = fc.next_cursor;
  }
}

/** tileOf returns the z/x/y of the tile holding lon/lat. */
function tileOf(lon, lat, z) {
  const n = 2 ** z;
  const x = Math.floor(((lon + 180) / 360) * n);
  const r = (lat * Math.PI) / 180;
  const y = Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
  return [z, Math.min(n - 1, x), Math.min(n - 1, y)];
}

/** tileFeatures fetches a customer tile with the browser's session cookie and decodes it. */
async function tileFeatures(cookie, [z, x, y]) {
  const res = await fetch(`${demo.gcrm.url}/tiles/customers/${z}/${x}/${y}.mvt`, { headers: { Cookie: cookie } });
  assert.equal(res.status, 200, `tile ${z}/${x}/${y}: ${res.status}`);
  const vt = new VectorTile(new Pbf(new Uint8Array(await res.arrayBuffer())));
  const out = [];
  for (const name of Object.keys(vt.layers)) {
    const layer = vt.layers[name];
    for (let i = 0; i < layer.length; i++) {
      const f = layer.feature(i);
      out.push({ id: f.id, cluster: Boolean(f.properties.cluster), count: Number(f.properties.count ?? 1) });
    }
  }
  return out;
}

test('a rep signs in from the map and sees only their own records', { timeout: 5 * 60_000 }, async () => {
  const mine = new Set(everyone.filter((c) => c.owner === REP.email).map((c) => c.id));
  assert.ok(mine.size > 0 && mine.size < everyone.length, `the demo gives ${REP.email} ${mine.size} of ${everyone.length} records`);

  await demo.page.goto(demo.gcrm.url + '/');
  await demo.page.waitForSelector('#signin:not([hidden])', { timeout: 60_000 });
  // A wrong password says nothing about which part was wrong.
  await demo.page.fill('#signin-email', REP.email);
  await demo.page.fill('#signin-password', 'not the password');
  await demo.page.click('#signin-submit');
  await demo.page.waitForSelector('#signin-error:not([hidden])');
  assert.match(await demo.page.textContent('#signin-error'), /e-mail or password/i);
  demo.problems.clear(); // the 401 of that attempt is expected

  await demo.page.fill('#signin-password', REP.password);
  await demo.page.click('#signin-submit');
  await demo.page.waitForSelector('#user-name', { timeout: 60_000 });
  const badge = await demo.page.textContent('#user-slot');
  assert.match(badge, /rep/);
  await waitForMapIdle(demo.page);

  // The list the UI gets holds only the rep's records.
  const listed = await demo.page.evaluate(async () => {
    const out = [];
    let cursor = '';
    for (;;) {
      const fc = await window.gcrm.api(`/api/v1/customers?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      for (const f of fc.features) out.push({ id: f.id, owner: f.properties.owner });
      if (!fc.next_cursor) return out;
      cursor = fc.next_cursor;
    }
  });
  assert.equal(listed.length, mine.size, 'the rep lists as many records as they own');
  for (const c of listed) assert.equal(c.owner, REP.email, `record ${c.id} of ${c.owner} listed to the rep`);

  // What the map draws: every single record on screen is the rep's — zoomed in on one of
  // theirs, where records are drawn one by one.
  const located = everyone.filter((c) => mine.has(c.id) && c.lon !== undefined);
  await demo.page.evaluate(([lon, lat]) => window.gcrm.map.jumpTo({ center: [lon, lat], zoom: 15 }), [located[0].lon, located[0].lat]);
  await waitForMapIdle(demo.page);
  await demo.page.waitForTimeout(200); // the view source is rebuilt 40 ms after tiles arrive
  await waitForMapIdle(demo.page);
  // (The map's view source re-clusters the tiles; a record's id is its "rec" property.)
  const drawn = await demo.page.evaluate(() => window.gcrm.map.queryRenderedFeatures({ layers: ['points'] })
    .map((f) => f.properties.rec));
  assert.ok(drawn.length > 0, 'the map draws some single records');
  for (const id of drawn) assert.ok(mine.has(Number(id)), `the map draws record ${id} of someone else`);

  assert.deepEqual(demo.problems.console, [], 'console errors');
  assert.deepEqual(demo.problems.failed, [], 'failed requests');
  assert.deepEqual(demo.problems.offsite, [], 'requests that left the origin');

  // Another rep's record answers 404, as if it did not exist.
  const other = everyone.find((c) => c.owner && c.owner !== REP.email);
  const status = await demo.page.evaluate((id) => window.gcrm.api(`/api/v1/customers/${id}`, { quiet401: true })
    .then(() => 200, (e) => e.status), other.id);
  assert.equal(status, 404, `the rep reading ${other.owner}'s record ${other.id}`);

  // The tiles the browser gets: the world tile's counts add up to the rep's located records,
  // and every feature of the deep tiles around the rep's and another rep's records is theirs.
  const cookie = (await demo.page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  const world = await tileFeatures(cookie, [0, 0, 0]);
  assert.equal(world.reduce((s, f) => s + f.count, 0), located.length, 'records counted in the z0 tile');
  for (const f of world) if (!f.cluster) assert.ok(mine.has(f.id), `z0 tile shows record ${f.id} of someone else`);
  const otherLocated = everyone.find((c) => c.owner && c.owner !== REP.email && c.lon !== undefined);
  for (const c of [located[0], located[located.length - 1], otherLocated]) {
    const feats = await tileFeatures(cookie, tileOf(c.lon, c.lat, 14));
    for (const f of feats) {
      assert.ok(!f.cluster, 'z14 is not clustered');
      assert.ok(mine.has(f.id), `z14 tile near record ${c.id} shows record ${f.id} of someone else`);
    }
  }

  // The Export button downloads the rep's records only.
  const [download] = await Promise.all([demo.page.waitForEvent('download'), demo.page.click('#export-csv')]);
  const csv = readFileSync(await download.path(), 'utf8').trim().split('\n').slice(1);
  assert.equal(csv.length, mine.size, 'rows in the rep\'s export');
  for (const line of csv) assert.ok(mine.has(Number(line.split(',')[0])), `export row of someone else: ${line}`);

  // Signing out ends the session: the form is back and the API answers 401.
  await demo.page.click('#signout');
  await demo.page.waitForSelector('#signin:not([hidden])', { timeout: 30_000 });
  const after = await fetch(`${demo.gcrm.url}/api/v1/auth/me`, { headers: { Cookie: cookie } });
  assert.equal(after.status, 401, 'the old session cookie after sign-out');
});

test('the UI hides what a role may not use', { timeout: 2 * 60_000 }, async () => {
  // A planner may not export: no Export button (and the server would refuse it anyway).
  await demo.page.fill('#signin-email', 'planner@demo.gcrm');
  await demo.page.fill('#signin-password', REP.password);
  await demo.page.click('#signin-submit');
  await demo.page.waitForSelector('#user-name', { timeout: 60_000 });
  assert.match(await demo.page.textContent('#user-slot'), /planner/);
  assert.equal(await demo.page.$('#export-csv'), null, 'a planner is offered Export');
  const status = await demo.page.evaluate(() => fetch('/api/v1/customers/export.csv').then((r) => r.status));
  assert.equal(status, 403, 'a planner exporting');
});
