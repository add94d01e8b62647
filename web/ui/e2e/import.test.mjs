// The Import dialog in a real browser against a real gcrm demo: an admin uploads a small CSV
// (3 good rows, one of them placed by the offline gazetteer from its city/postcode, and 2
// bad ones), the dialog shows the counts and the rejects with their row numbers and
// reasons, the full rejects CSV downloads, the good rows are in the API; then reference data
// from the same dialog — boundaries of a new region level (one shape repaired), their
// population (one unknown code listed), footfall counts — shows in Explore's pickers and
// penetration choropleth; and a rep (whom the policy refuses every import) has no Import button.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { useDemo, waitForMapIdle } from './harness.mjs';

const REP = { email: process.env.GCRM_E2E_REP || 'rep1@demo.gcrm', password: process.env.GCRM_E2E_DEMO_PASSWORD || 'gcrm-demo' };

const tag = `E2E Import ${Date.now().toString(36)}`; // unique names, so a rerun on a live server still checks its own rows
const header = 'external_id,name,kind,lat,lon,street,city,region,postcode,country,segment,status,owner,revenue,email,phone,consent_email';
const rows = [
  // row 2: coordinates given
  `${tag}-1,${tag} Riverside Bakery,customer,30.2672,-97.7431,100 Congress Ave,Austin,TX,78701,US,smb,active,rep1,12000,bakery@example.com,+1 512 555 0101,true`,
  // row 3: no coordinates: the gazetteer places it from Austin, TX / 73301
  `${tag}-2,${tag} Hill Country Tools,prospect,,,,Austin,TX,73301,US,smb,new,rep1,5000,,,false`,
  // row 4: lat out of range
  `${tag}-3,${tag} Upside Down Ltd,customer,123,-97.7,1 Main St,Austin,TX,78701,US,smb,active,rep1,100,,,false`,
  // row 5: unknown kind
  `${tag}-4,${tag} Little Green Men,alien,30.3,-97.7,2 Main St,Austin,TX,78701,US,smb,active,rep1,100,,,false`,
  // row 6: coordinates given
  `${tag}-5,${tag} Lakeside Dental,lead,30.2849,-97.7341,200 Guadalupe St,Austin,TX,78705,US,enterprise,new,rep1,30000,,,false`,
];
const good = [`${tag} Riverside Bakery`, `${tag} Hill Country Tools`, `${tag} Lakeside Dental`];

const demo = useDemo({ customers: 3000 });
const { getJSON, signIn, assertNoProblems } = demo;
let tmp;
let csvPath;

before(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'gcrm-import-e2e-'));
  csvPath = path.join(tmp, 'new-customers.csv');
  writeFileSync(csvPath, `${header}\n${rows.join('\n')}\n`);
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('the policy lets admins import', async () => {
  const me = await getJSON('/api/v1/auth/me');
  assert.equal(me.can.imports, true, 'admin may not import');
});

test('an admin imports a CSV from the dialog and sees what landed and what was rejected', { timeout: 5 * 60_000 }, async () => {
  await signIn(demo.gcrm.user);
  const button = demo.page.locator('#import-open');
  await button.waitFor({ state: 'visible' });
  await button.click();
  const dialog = demo.page.locator('#import');
  await dialog.waitFor({ state: 'visible' });
  assert.match(await dialog.locator('[data-kind="customers"] .im-help').innerText(), /external_id,name,kind,lat,lon,street,city,region,postcode,country,segment,status,owner,revenue,email,phone,consent_email/);

  // Esc closes it; the button opens it again.
  await demo.page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  await button.click();
  await dialog.waitFor({ state: 'visible' });

  // A file the server refuses: its problem+json detail is shown in the dialog.
  const empty = path.join(tmp, 'empty.csv');
  writeFileSync(empty, '');
  await demo.page.setInputFiles('#im-file', empty);
  await demo.page.click('#im-submit');
  await demo.page.waitForSelector('#im-error:not([hidden])');
  assert.match(await demo.page.locator('#im-error').innerText(), /The import failed: the file is empty/);
  demo.problems.clear(); // that 400 was the point

  // The upload shows a progress bar (XMLHttpRequest upload events) and sends the CSRF header.
  // A small file can finish before a poll sees the bar, so the page itself records that the
  // bar was shown.
  await demo.page.evaluate(() => {
    window.__sawProgress = false;
    const bar = document.getElementById('im-status');
    new MutationObserver(() => { if (!bar.hidden) window.__sawProgress = true; })
      .observe(bar, { attributes: true, attributeFilter: ['hidden'] });
  });
  const sawProgress = demo.page.waitForFunction(() => window.__sawProgress, null, { timeout: 30_000 });
  await demo.page.setInputFiles('#im-file', csvPath);
  const answer = demo.page.waitForResponse((r) => r.url().includes('/api/v1/imports') && r.request().method() === 'POST', { timeout: 4 * 60_000 });
  await demo.page.click('#im-submit');
  await sawProgress;
  const res = await answer;
  // After the answer the map reloads its customer tiles, so the new records show.
  const tilesAfter = demo.page.waitForRequest((r) => r.url().includes('/tiles/customers/'), { timeout: 15_000 });
  assert.equal(res.status(), 201, `import: ${res.status()} ${await res.text()}`);
  assert.ok(res.request().headers()['x-csrf-token'], 'no CSRF header on the upload');
  const body = await res.json();

  await demo.page.waitForSelector('#im-result:not([hidden])');
  assert.equal(await demo.page.locator('#im-error').isHidden(), true, 'the earlier error is still shown');
  const count = async (k) => (await demo.page.locator(`#im-counts [data-k="${k}"] dd`).innerText()).trim();
  assert.equal(await count('landed'), '3');
  assert.equal(await count('rejected'), '2');
  assert.equal(await count('new'), '3');
  assert.equal(body.rows, 5);
  assert.equal(body.inserted, 3);
  assert.equal(body.rejected, 2);

  const table = await demo.page.locator('#im-rejects tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.equal(table.length, 2, JSON.stringify(table));
  assert.equal(table[0][0], '4');
  assert.match(table[0][1], /lat 123 is outside -90\.\.90/);
  assert.equal(table[1][0], '5');
  assert.match(table[1][1], /kind "?alien"? is not one of customer, prospect, lead/);
  await tilesAfter;
  await waitForMapIdle(demo.page);
  assertNoProblems('after the import');

  mkdirSync(demo.shots, { recursive: true });
  await demo.page.screenshot({ path: path.join(demo.shots, 'import.png') });

  // The full rejects CSV: the file's columns plus _row and _reason, one line per reject.
  const link = demo.page.locator('#im-rejects-csv');
  assert.match(await link.getAttribute('href'), /^\/api\/v1\/imports\/\d+\/rejects\.csv$/);
  const [download] = await Promise.all([demo.page.waitForEvent('download'), link.click()]);
  const file = path.join(tmp, 'rejects.csv');
  await download.saveAs(file);
  const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/);
  assert.equal(lines.length, 3, lines.join('\n'));
  assert.equal(lines[0], `${header},_row,_reason`);
  assert.ok(lines[1].startsWith(`${rows[2]},4,`), lines[1]);
  assert.match(lines[1], /outside -90\.\.90/);
  assert.ok(lines[2].startsWith(`${rows[3]},5,`), lines[2]);
  assert.match(lines[2], /alien/);

  // Esc closes the dialog and the map is still there.
  await demo.page.keyboard.press('Escape');
  await demo.page.locator('#import').waitFor({ state: 'hidden' });
});

test('the good rows are stored, the one without coordinates placed by the gazetteer', async () => {
  for (const name of good) {
    const fc = await getJSON(`/api/v1/customers?${new URLSearchParams({ q: name })}`);
    const hit = fc.features.find((f) => f.properties.name === name);
    assert.ok(hit, `${name} not found: ${JSON.stringify(fc).slice(0, 400)}`);
    assert.ok(hit.geometry, `${name} has no location`);
    const [lon, lat] = hit.geometry.coordinates;
    assert.ok(Math.abs(lat - 30.3) < 0.5 && Math.abs(lon + 97.75) < 0.5, `${name} at ${lat},${lon}, not in Austin`);
  }
  const placed = await getJSON(`/api/v1/customers?${new URLSearchParams({ q: good[1] })}`);
  const g = placed.features.find((f) => f.properties.name === good[1]).properties.geocode || {};
  assert.notEqual(g.source, 'import', 'the row without coordinates was not geocoded');
  for (const bad of [`${tag} Upside Down Ltd`, `${tag} Little Green Men`]) {
    const fc = await getJSON(`/api/v1/customers?${new URLSearchParams({ q: bad })}`);
    assert.ok(!fc.features.some((f) => f.properties.name === bad), `${bad} was imported`);
  }
});

test('reference data from the dialog: a region level, its population and footfall, then the level in Explore', { timeout: 5 * 60_000 }, async () => {
  const { page } = demo;
  const level = 'e2e-district';
  const square = (code, w, s, e, n) => ({
    type: 'Feature', properties: { code, name: `District ${code}` },
    geometry: { type: 'Polygon', coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] },
  });
  // A and B hold the Austin rows imported above; C is a bow-tie (self-intersecting) that
  // ST_MakeValid repairs into two triangles.
  const bowtie = { type: 'Feature', properties: { code: 'C', name: 'District C' },
    geometry: { type: 'Polygon', coordinates: [[[-97.6, 30.22], [-97.5, 30.32], [-97.5, 30.22], [-97.6, 30.32], [-97.6, 30.22]]] } };
  const geojson = path.join(tmp, 'districts.geojson');
  writeFileSync(geojson, JSON.stringify({ type: 'FeatureCollection', features: [square('A', -97.8, 30.22, -97.7, 30.32), square('B', -97.7, 30.22, -97.6, 30.32), bowtie] }));
  const popCSV = path.join(tmp, 'district-population.csv');
  writeFileSync(popCSV, 'code,residents\nA,1000\nB,2000\nZZ,5\n');
  const footfallCSV = path.join(tmp, 'austin-footfall.csv');
  writeFileSync(footfallCSV, 'sensor_id,lat,lon,timestamp,count\ne2e-austin-1,30.2672,-97.7431,2024-03-04 09:00,120\ne2e-austin-1,30.2672,-97.7431,2024-03-11 09:00,undefined\ne2e-austin-1,30.2672,-97.7431,someday,7\n');

  await page.click('#import-open');
  await page.locator('#import').waitFor({ state: 'visible' });
  const count = async (k) => (await page.locator(`#im-counts [data-k="${k}"] dd`).innerText()).trim();
  // The answers are read from the dialog (what the user sees); the status from the network.
  const submit = async (file, url) => {
    await page.setInputFiles('#im-file', file);
    const answer = page.waitForResponse((r) => r.url().includes(url) && r.request().method() === 'POST', { timeout: 4 * 60_000 });
    await page.click('#im-submit');
    assert.equal((await answer).status(), 200, `${url}: ${await page.locator('#im-error').innerText()}`);
    await page.waitForSelector('#im-result:not([hidden])');
  };

  // 1. Boundaries.
  await page.selectOption('#im-kind', 'regions');
  assert.equal(await page.locator('[data-kind="customers"]').isHidden(), true, 'the customer fields are still shown');
  await page.fill('#im-level', level);
  await page.fill('#im-code-prop', 'code');
  await submit(geojson, '/api/v1/regions');
  assert.equal(await count('new'), '3');
  assert.equal(await count('repaired'), '1');
  assert.ok(Number(await count('customers in')) >= 3, `customers in: ${await count('customers in')}`);
  assert.match(await page.locator('#im-issues').innerText(), /code "C".*repaired/);

  // 2. Their population (an unknown code is listed with its row, the good rows land).
  await page.selectOption('#im-kind', 'attributes');
  await page.waitForSelector(`#im-attr-level option[value="${level}"]`, { state: 'attached' });
  await page.selectOption('#im-attr-level', level);
  await page.fill('#im-code-col', 'code');
  await page.fill('#im-columns', 'residents=population');
  await submit(popCSV, `/api/v1/regions/${level}/attributes`);
  assert.equal(await count('regions updated'), '2');
  assert.equal(await count('rejected'), '1');
  assert.match(await page.locator('#im-result').innerText(), /Merged into the e2e-district regions: population/);
  const reject = await page.locator('#im-rejects tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.equal(reject.length, 1);
  assert.equal(reject[0][0], '4');
  assert.match(reject[0][1], /ZZ/);
  // The cube has the population as soon as the import answered (it syncs the cube before
  // answering): customers per 1,000 of the imported residents.
  const cube = await getJSON(`/api/v1/cube?${new URLSearchParams({ measures: 'customers,penetration', by: `region:${level}` })}`);
  const row = (code) => cube.rows.find((r) => r[0] === code);
  assert.ok(row('A') && row('B'), JSON.stringify(cube.rows));
  assert.ok(Math.abs(Number(row('A')[2]) - Number(row('A')[1])) < 1e-6, `A: ${row('A')}: penetration is not customers per 1,000 of 1,000`);
  assert.ok(Math.abs(Number(row('B')[2]) - Number(row('B')[1]) / 2) < 1e-6, `B: ${row('B')}`);

  // 3. Footfall counts (a missing value stays missing; a bad date is listed).
  await page.selectOption('#im-kind', 'footfall');
  await page.fill('#im-tz', 'America/Chicago');
  await submit(footfallCSV, '/api/v1/footfall');
  assert.equal(await count('hourly values'), '2');
  assert.equal(await count('missing'), '1');
  assert.equal(await count('rejected'), '1');
  assert.equal(await count('sensors'), '1');
  mkdirSync(demo.shots, { recursive: true });
  await page.screenshot({ path: path.join(demo.shots, 'import-reference.png') });
  await page.keyboard.press('Escape');
  const measured = await getJSON('/api/v1/footfall?how=all&estimates=false');
  assert.ok(measured.values.some((v) => v.mean === 120), `no Austin footfall: ${JSON.stringify(measured).slice(0, 300)}`);

  // 4. Explore offers the new level (the cube was re-keyed before the import answered; the
  // dialog re-reads the cube's levels after each import) and colours it by
  // penetration; the values are the cube's: customers per 1,000 of the imported residents.
  await page.waitForSelector(`#x-by option[value="${level}"]`, { state: 'attached', timeout: 60_000 });
  await page.selectOption('#x-measure', 'penetration');
  await page.selectOption('#x-by', level);
  await page.waitForFunction((l) => document.querySelector('#x-legend h3')?.textContent.includes(`by ${l}`), level, { timeout: 30_000 });
  assert.match(await page.locator('#x-legend h3').textContent(), /customers per 1,000 residents by e2e-district/);
  await page.evaluate(() => window.gcrm.map.jumpTo({ center: [-97.65, 30.27], zoom: 9 }));
  await waitForMapIdle(page);
  const drawn = await page.evaluate((l) => window.gcrm.map.queryRenderedFeatures({ layers: [`explore-${l}-fill`] }).map((f) => f.properties.code), level);
  assert.ok(drawn.includes('A') && drawn.includes('B'), `the map does not draw the districts: ${drawn}`);
  assertNoProblems('after the reference imports');
});

test('a rep, whom the policy refuses imports, has no Import button', { timeout: 3 * 60_000 }, async () => {
  const login = await fetch(`${demo.gcrm.url}/api/v1/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(REP),
  });
  assert.equal(login.status, 200, `rep sign-in: ${await login.clone().text()}`);
  const me = await login.json();
  assert.equal(me.user.role, 'rep');
  assert.equal(me.can.imports, false, 'the policy lets reps import: this test expects it not to');

  await demo.page.context().clearCookies();
  await signIn(REP);
  await demo.page.waitForSelector('#user-name');
  assert.equal(await demo.page.locator('#import-open').count(), 0, 'a rep sees the Import button');
  assert.equal(await demo.page.locator('#import').count(), 0);
  assertNoProblems('as a rep');
});
