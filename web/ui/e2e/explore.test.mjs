// The manager's Explore workspace (web/static/explore.js) in a real browser against a real
// gcrm demo: pick a measure, colour counties, read the legend, click a county and read its
// breakdown (checked against the cube API), export it as CSV, climb back by the breadcrumb.
// One server and one browser for the file; the tests run in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { useDemo, waitForMapIdle, apiHeaders, repoRoot } from './harness.mjs';

// The demo's regional manager (gcrm demo adds one user per role).
const MANAGER = { email: process.env.GCRM_E2E_MANAGER || 'manager@demo.gcrm', password: process.env.GCRM_E2E_MANAGER_PASSWORD || 'gcrm-demo' };

let headers; // the manager's, for the API
const demo = useDemo({
  customers: 20000,
  setup: async ({ gcrm }) => { headers = await apiHeaders(gcrm.url, MANAGER); },
});
const { signIn, assertNoProblems } = demo;
let county; // { code, name, state, stateName, customers, records }
// Melbourne's pedestrian sensors (the shared data): gcrm demo loads them by default when they
// exist, with a few thousand records around Melbourne's CBD.
const FOOTFALL = path.resolve(repoRoot, '../shared/data/footfall/melbourne/hourly_counts_January_2019_long_with_latlon.csv');
const hasFootfall = existsSync(FOOTFALL);

/** getJSON GETs path as the manager. */
const getJSON = (p) => demo.getJSON(p, headers);

const digits = (s) => Number(String(s).replace(/[^\d.-]/g, ''));
async function jump(view) {
  await demo.page.evaluate((v) => window.gcrm.map.jumpTo(v), view);
  await waitForMapIdle(demo.page);
}

const hashParams = () => demo.page.evaluate(() => Object.fromEntries(new URLSearchParams(location.hash.slice(1))));

/**
 * hexOnScreen scans the map between the left panel and the breakdown, margin px clear of the
 * top and bottom, every step px, for a hexagon of at least minCount records: its page point
 * and H3 cell, or null.
 */
const hexOnScreen = (margin, step, minCount) => demo.page.evaluate(([margin, step, minCount]) => {
  const m = window.gcrm.map;
  const c = m.getCanvas();
  const r = c.getBoundingClientRect();
  for (let y = margin; y < c.clientHeight - margin; y += step) {
    for (let x = 340; x < c.clientWidth - 400; x += step) {
      const f = m.queryRenderedFeatures([x, y], { layers: ['explore-hex-fill'] })[0];
      if (f && f.properties.count >= minCount) return { x: r.left + x, y: r.top + y, h3: f.properties.h3 };
    }
  }
  return null;
}, [margin, step, minCount]);

test('the manager signs in and sees the Explore pickers, with measures from the cube', async () => {
  await signIn(MANAGER, '/#map=4/38.3/-96.5');
  await demo.page.waitForSelector('#x-measure option[value="customers"]', { state: 'attached' });
  const meta = await getJSON('/api/v1/cube/meta');
  const options = await demo.page.$$eval('#x-measure option', (os) => os.map((o) => o.value));
  for (const m of ['customers', 'prospects', 'leads', 'revenue', 'won', 'lost', 'conversion_rate', 'revenue_per_customer']) {
    assert.ok(options.includes(m), `measure ${m} is offered (${options})`);
    assert.ok(meta.measures.some((x) => x.name === m), `the cube lists ${m}`);
  }
  // The demo loads county population, so penetration is offered.
  assert.deepEqual(meta.population_levels, ['county']);
  assert.ok(options.includes('penetration'), 'penetration is offered when population exists');
  assertNoProblems('sign-in');
});

test('picking a measure and "by county" colours the counties with a quantile legend', async () => {
  await demo.page.selectOption('#x-measure', 'customers');
  await demo.page.selectOption('#x-by', 'county');
  await demo.page.waitForSelector('#x-legend:not([hidden]) #x-legend-classes li', { state: 'attached' });
  await waitForMapIdle(demo.page);
  const classes = await demo.page.$$eval('#x-legend-classes li', (ls) => ls.map((l) => l.textContent));
  assert.ok(classes.length >= 3, `legend classes: ${classes}`);
  assert.match(await demo.page.locator('#x-legend h3').textContent(), /customers by county/);
  const h = await hashParams();
  assert.equal(h.measure, 'customers');
  assert.equal(h.by, 'county');
  // Counties are drawn with their value as feature-state, and the customer dots make way.
  const drawn = await demo.page.evaluate(() => {
    const m = window.gcrm.map;
    const fs = m.queryRenderedFeatures({ layers: ['explore-county-fill'] });
    return { n: fs.length, withValue: fs.filter((f) => typeof f.state.v === 'number').length, dots: m.getLayoutProperty('points', 'visibility') };
  });
  assert.ok(drawn.n > 500, `${drawn.n} county features drawn`);
  assert.ok(drawn.withValue > 100, `${drawn.withValue} counties carry a value`);
  assert.equal(drawn.dots, 'none');
  assertNoProblems('county choropleth');
});

test('clicking a county zooms in and opens its breakdown, whose totals match the cube', async () => {
  // The county with the most customers, from the API.
  const byCounty = await getJSON('/api/v1/cube?measures=customers,records&by=region:county');
  const [code, customers, records] = byCounty.rows.filter((r) => r[0]).sort((a, b) => b[1] - a[1])[0];
  const feature = await getJSON(`/api/v1/regions/county/${code}`);
  const state = await getJSON(`/api/v1/regions/state/${code.slice(0, 2)}`);
  county = { code, name: feature.properties.name, stateName: state.properties.name, customers, records };

  // Bring it into view, then click a pixel that lies inside it.
  const [w, s, e, n] = feature.bbox;
  await demo.page.evaluate((b) => window.gcrm.map.fitBounds(b, { padding: 200, animate: false, maxZoom: 8 }), [[w, s], [e, n]]);
  await waitForMapIdle(demo.page);
  const at = await demo.page.evaluate((code) => {
    const m = window.gcrm.map;
    const c = m.getCanvas();
    const r = c.getBoundingClientRect();
    for (let y = 10; y < c.clientHeight; y += 6) {
      for (let x = 340; x < c.clientWidth - 10; x += 6) {
        const f = m.queryRenderedFeatures([x, y], { layers: ['explore-county-fill'] })[0];
        if (f && f.properties.code === code) return { x: r.left + x, y: r.top + y };
      }
    }
    return null;
  }, code);
  assert.ok(at, `county ${code} is on screen`);
  await demo.page.mouse.click(at.x, at.y);
  await demo.page.waitForSelector(`#x-panel[data-state="ready"][data-at="county:${code}"]`);
  await waitForMapIdle(demo.page);
  assert.equal(await demo.page.locator('#x-title').textContent(), county.name);
  const crumbs = await demo.page.locator('#x-crumbs').textContent();
  assert.equal(crumbs, `USA›${county.stateName}›${county.name}`);

  // Totals: the same numbers as GET /api/v1/cube for that county.
  const api = await getJSON(`/api/v1/cube?measures=customers,records,revenue,penetration&by=region:county&filter=region:county:${code}`);
  const [, apiCustomers, apiRecords, apiRevenue, apiPen] = api.rows[0];
  assert.equal(apiCustomers, customers);
  assert.equal(digits(await demo.page.locator('#x-totals dd[data-measure="customers"]').textContent()), apiCustomers);
  assert.equal(digits(await demo.page.locator('#x-totals dd[data-measure="records"]').textContent()), apiRecords);
  assert.equal(digits(await demo.page.locator('#x-totals dd[data-measure="revenue"]').textContent()), Math.round(Number(apiRevenue)));
  assert.ok(apiPen > 0, `penetration of ${code}: ${apiPen}`);
  assert.equal(digits(await demo.page.locator('#x-totals dd[data-measure="penetration"]').textContent()), Number(apiPen.toPrecision(3)));
  assert.equal(api.rows[0][2], records);

  // The bar charts split the measure (customers) by segment, status and month.
  for (const id of ['x-by-segment', 'x-by-status', 'x-by-month']) {
    const values = await demo.page.$$eval(`#${id} .x-bar-value`, (vs) => vs.map((v) => v.textContent));
    assert.ok(values.length > 0, `${id} has bars`);
    assert.equal(values.reduce((sum, v) => sum + digits(v), 0), apiCustomers, `${id} adds up to the total`);
  }
  const h = await hashParams();
  assert.equal(h.at, `county:${code}`);
  // The map zoomed in to the county.
  assert.ok(await demo.page.evaluate(() => window.gcrm.map.getZoom()) >= 6);

  // "Where are we under-penetrated?": customers per 1,000 residents, counties and breakdown.
  await demo.page.selectOption('#x-measure', 'penetration');
  await demo.page.waitForFunction(() => document.querySelector('#x-by-segment h3')?.textContent.startsWith('customers per 1,000 residents'));
  await demo.page.waitForSelector('#x-panel[data-state="ready"]');
  assert.match(await demo.page.locator('#x-legend h3').textContent(), /customers per 1,000 residents by county/);
  await waitForMapIdle(demo.page);
  mkdirSync(demo.shots, { recursive: true });
  await demo.page.screenshot({ path: path.join(demo.shots, 'explore.png') });
  assertNoProblems('drill into a county');
});

test('Export CSV downloads the breakdown by segment, status and month', async () => {
  const [download] = await Promise.all([demo.page.waitForEvent('download'), demo.page.click('#x-export')]);
  assert.match(download.suggestedFilename(), /\.csv$/); // the server names it (Content-Disposition)
  const text = readFileSync(await download.path(), 'utf8');
  const [header, ...rows] = text.trim().split('\n').map((l) => l.split(','));
  assert.deepEqual(header.slice(0, 4), ['region:county', 'segment', 'status', 'month']);
  const ci = header.indexOf('customers');
  const ri = header.indexOf('records');
  assert.ok(ci > 0 && ri > 0, `columns: ${header}`);
  assert.ok(rows.length > 1, 'the CSV has rows');
  for (const r of rows) assert.equal(r[0], county.code);
  assert.equal(rows.reduce((s, r) => s + Number(r[ci]), 0), county.customers);
  assert.equal(rows.reduce((s, r) => s + Number(r[ri]), 0), county.records);
  assertNoProblems('export');
});

test('a link to the drill-down opens the same breakdown after a reload', async () => {
  await demo.page.reload();
  await demo.page.waitForSelector(`#x-panel[data-state="ready"][data-at="county:${county.code}"]`);
  assert.equal(await demo.page.locator('#x-title').textContent(), county.name);
  assert.equal(await demo.page.inputValue('#x-measure'), 'penetration');
  assert.equal(await demo.page.inputValue('#x-by'), 'county');
  await waitForMapIdle(demo.page);
  assertNoProblems('reload');
});

test('the breadcrumb climbs back to the state, then to the whole country', async () => {
  await demo.page.click('#x-crumbs .crumb >> text=' + county.stateName);
  await demo.page.waitForSelector(`#x-panel[data-state="ready"][data-at="state:${county.code.slice(0, 2)}"]`);
  assert.equal(await demo.page.locator('#x-title').textContent(), county.stateName);
  assert.equal(await demo.page.locator('#x-crumbs').textContent(), `USA›${county.stateName}`);
  const stateApi = await getJSON(`/api/v1/cube?measures=customers&filter=region:state:${county.code.slice(0, 2)}`);
  assert.equal(digits(await demo.page.locator('#x-totals dd[data-measure="customers"]').textContent()), stateApi.rows[0][0]);
  await demo.page.click('#x-crumbs .crumb >> text=USA');
  await demo.page.waitForSelector('#x-panel', { state: 'hidden' });
  await waitForMapIdle(demo.page);
  assert.equal((await hashParams()).at, undefined);
  assert.ok(await demo.page.evaluate(() => window.gcrm.map.getZoom()) < 5);
  assertNoProblems('breadcrumb');
});

test('hexagons at an automatic resolution, and the footfall hour-of-week control', async () => {
  await demo.page.selectOption('#x-measure', 'customers'); // penetration is per region only
  await demo.page.selectOption('#x-by', 'hex');
  await waitForMapIdle(demo.page);
  await demo.page.waitForFunction(() => document.querySelector('#x-legend h3')?.textContent.includes('by hexagon'));
  const hexes = await demo.page.evaluate(() => window.gcrm.map.queryRenderedFeatures({ layers: ['explore-hex-fill'] }).length);
  assert.ok(hexes > 10, `${hexes} hexagons drawn`);
  // Click a hexagon: its breakdown, under the county that holds it (USA › state › county › cell).
  const hit = await hexOnScreen(200, 8, 21);
  assert.ok(hit, 'a hexagon with records is on screen');
  await demo.page.mouse.click(hit.x, hit.y);
  await demo.page.waitForSelector(`#x-panel[data-state="ready"][data-at="h3:${hit.h3}"]`);
  const cellApi = await getJSON(`/api/v1/cube?measures=records&filter=h3:${hit.h3}`);
  assert.equal(digits(await demo.page.locator('#x-totals dd[data-measure="records"]').textContent()), cellApi.rows[0][0]);
  assert.match(await demo.page.locator('#x-crumbs').textContent(), new RegExp(`^USA›.+›.+›cell ${hit.h3}$`));
  await waitForMapIdle(demo.page);
  // Footfall: the control sets the hour of week (day × 24 + hour) in the URL; the demo has
  // no sensors, which the panel says.
  await demo.page.check('#x-ff');
  await demo.page.selectOption('#x-ff-day', '4'); // Friday
  await demo.page.locator('#x-ff-hour').fill('17');
  await demo.page.locator('#x-ff-hour').dispatchEvent('change');
  await demo.page.waitForFunction(() => new URLSearchParams(location.hash.slice(1)).get('ff') === String(4 * 24 + 17));
  const meta = await getJSON('/api/v1/cube/meta');
  if (!meta.footfall_cells) {
    assert.ok(!hasFootfall, 'the demo loaded footfall, the cube has none');
    await demo.page.waitForSelector('#x-note:not([hidden])');
    assert.match(await demo.page.locator('#x-note').textContent(), /No footfall/);
  } else {
    // The footfall tiles of that hour: sensor cells and estimated cells, told apart on the
    // map and in the legend, which counts the cells in view.
    await jump({ center: [144.9631, -37.8136], zoom: 14 });
    await demo.page.waitForFunction(() => /sensor cell \([1-9]/.test(document.querySelector('#x-ff-legend')?.textContent || ''));
    const legend = await demo.page.locator('#x-ff-legend').textContent();
    assert.match(legend, /Friday 17:00/);
    assert.match(legend, /estimated, no sensor \([1-9]/);
    const drawn = await demo.page.evaluate(() => {
      const fs = window.gcrm.map.queryRenderedFeatures({ layers: ['explore-footfall-fill'] });
      return { sensor: fs.filter((f) => !f.properties.estimated).length, estimated: fs.filter((f) => f.properties.estimated).length };
    });
    assert.ok(drawn.sensor > 0 && drawn.estimated > 0, `footfall cells drawn: ${JSON.stringify(drawn)}`);
    const tiles = await demo.page.evaluate(() => window.gcrm.map.getSource('explore-footfall').tiles);
    assert.match(tiles[0], /\/tiles\/footfall\/\{z\}\/\{x\}\/\{y\}\.mvt\?how=hour-of-week&key=113$/, 'the footfall layer reads the footfall tiles of the chosen hour');
    const results = path.resolve(repoRoot, 'test-results/screenshots'); // not in the README
    mkdirSync(results, { recursive: true });
    await demo.page.screenshot({ path: path.join(results, 'explore-footfall.png') });
  }
  assertNoProblems('hexagons and footfall');
});

// The regional manager's question: where are we under-penetrated relative to foot traffic?
test('footfall penetration in Melbourne: hexagons and legend, the hour of week, a month range and the breakdown', async () => {
  assert.ok(hasFootfall, `the shared Melbourne footfall (${FOOTFALL}) is needed`);
  const meta = await getJSON('/api/v1/cube/meta');
  assert.ok(meta.footfall_cells > 0, 'the demo loaded the Melbourne footfall');
  // The breakdown closed, the footfall overlay off, footfall penetration picked (offered
  // because there is footfall).
  if (await demo.page.isVisible('#x-panel')) await demo.page.click('#x-close');
  if (await demo.page.isChecked('#x-ff')) await demo.page.uncheck('#x-ff');
  await waitForMapIdle(demo.page);
  const options = await demo.page.locator('#x-measure option').evaluateAll((os) => os.map((o) => o.value));
  assert.ok(options.includes('footfall_penetration') && options.includes('footfall'), `footfall measures offered (${options})`);
  await demo.page.selectOption('#x-measure', 'footfall_penetration');
  await demo.page.selectOption('#x-by', 'hex');
  await jump({ center: [144.9600, -37.8130], zoom: 14 });
  await demo.page.waitForFunction(() => document.querySelector('#x-legend h3')?.textContent.includes('per 1,000 daily footfall by hexagon'));
  const hexes = await demo.page.evaluate(() => window.gcrm.map.queryRenderedFeatures({ layers: ['explore-hex-fill'] })
    .map((f) => ({ h3: f.properties.h3, count: f.properties.count, v: f.properties.footfall_penetration })));
  const valued = hexes.filter((h) => typeof h.v === 'number');
  assert.ok(valued.length > 10, `${valued.length} hexagons with a footfall penetration`);
  assert.ok(new Set(valued.map((h) => h.v.toFixed(3))).size > 5, 'penetration varies from hexagon to hexagon');
  // White space: where people pass and no record is, the cube has a row of 0.
  const fine = await getJSON('/api/v1/cube?measures=records,footfall_penetration&by=h3:10&bbox=144.90,-37.86,145.02,-37.76');
  assert.ok(fine.rows.some((r) => r[1] === 0 && r[2] === 0), 'footfall cells without records have a penetration of 0');
  assert.ok(await demo.page.locator('#x-legend-classes li').count() >= 4, 'a legend with colour classes');
  // A hexagon's value is the cube's.
  const one = valued.find((h) => h.count > 0);
  const res = parseInt(one.h3[1], 16);
  const api = await getJSON(`/api/v1/cube?measures=records,footfall_penetration&by=h3:${res}&filter=h3:${one.h3}`);
  assert.equal(api.rows[0][1], one.count);
  assert.ok(Math.abs(api.rows[0][2] - one.v) < 1e-9 * Math.max(1, one.v), `hexagon ${one.h3}: tile ${one.v}, cube ${api.rows[0][2]}`);
  await waitForMapIdle(demo.page);
  mkdirSync(demo.shots, { recursive: true });
  await demo.page.screenshot({ path: path.join(demo.shots, 'explore-footfall-penetration.png') });

  // The hour-of-week control redraws the footfall layer: Monday 04:00, then Monday 13:00.
  const footfallAt = async (day, hour, label) => {
    if (!(await demo.page.isChecked('#x-ff'))) await demo.page.check('#x-ff');
    await demo.page.selectOption('#x-ff-day', String(day));
    await demo.page.locator('#x-ff-hour').fill(String(hour));
    await demo.page.locator('#x-ff-hour').dispatchEvent('change');
    await demo.page.waitForFunction((k) => new URLSearchParams(location.hash.slice(1)).get('ff') === k, String(day * 24 + hour));
    await waitForMapIdle(demo.page);
    await demo.page.waitForFunction((l) => (document.querySelector('#x-ff-legend')?.textContent || '').includes(l), label);
    return demo.page.evaluate(() => Object.fromEntries(window.gcrm.map.queryRenderedFeatures({ layers: ['explore-footfall-fill'] })
      .map((f) => [f.properties.h3, f.properties.mean])));
  };
  const night = await footfallAt(0, 4, 'Monday 04:00');
  const noon = await footfallAt(0, 13, 'Monday 13:00');
  const both = Object.keys(night).filter((h) => h in noon);
  assert.ok(both.length > 10, `${both.length} footfall cells drawn at both hours`);
  const busier = both.filter((h) => noon[h] > night[h]).length;
  assert.ok(busier > both.length / 2, `Monday 13:00 busier than 04:00 in ${busier} of ${both.length} cells`);
  assert.match(await demo.page.evaluate(() => window.gcrm.map.getSource('explore-footfall').tiles[0]), /how=hour-of-week&key=13$/);
  await demo.page.uncheck('#x-ff');

  // A month range: the records created in the last six months.
  const month = (d) => `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
  const now = new Date();
  const from = month(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 5, 1)));
  const to = month(now);
  await demo.page.locator('#x-month-from').fill(from);
  await demo.page.locator('#x-month-from').dispatchEvent('change');
  await demo.page.locator('#x-month-to').fill(to);
  await demo.page.locator('#x-month-to').dispatchEvent('change');
  await demo.page.waitForFunction((m) => new URLSearchParams(location.hash.slice(1)).get('months') === m, `${from}..${to}`);
  await waitForMapIdle(demo.page);
  const hit = await hexOnScreen(150, 6, 3);
  assert.ok(hit, 'a Melbourne hexagon with records created in the range is on screen');
  await demo.page.mouse.click(hit.x, hit.y);
  await demo.page.waitForSelector(`#x-panel[data-state="ready"][data-at="h3:${hit.h3}"]`);
  const filter = `month:${from}..${to},h3:${hit.h3}`;
  const totals = await getJSON(`/api/v1/cube?measures=records,footfall,footfall_penetration&filter=${filter}`);
  const all = await getJSON(`/api/v1/cube?measures=records&filter=h3:${hit.h3}`);
  assert.equal(digits(await demo.page.locator('#x-totals dd[data-measure="records"]').textContent()), totals.rows[0][0]);
  assert.ok(totals.rows[0][0] < all.rows[0][0], 'the month range leaves out older records');
  assert.equal(digits(await demo.page.locator('#x-totals dd[data-measure="footfall"]').textContent()), Math.round(totals.rows[0][1]));
  // The breakdown by segment: footfall penetration of each segment, as the cube says.
  const bySegment = await getJSON(`/api/v1/cube?measures=footfall_penetration&by=segment&filter=${filter}`);
  const shown = await demo.page.locator('#x-by-segment li').evaluateAll((ls) => ls.map((l) => l.getAttribute('title')));
  const want = bySegment.rows.filter((r) => r[1]).map((r) => r[0] || '(none)');
  assert.deepEqual(shown.map((t) => t.split(':')[0]).sort(), want.sort());
  assert.match(await demo.page.locator('#x-by-segment h3').textContent(), /per 1,000 daily footfall by segment/);
  assert.equal(await demo.page.locator('#x-crumbs').textContent(), `All›cell ${hit.h3}`, 'a cell outside every region sits under "All"');
  await demo.page.screenshot({ path: path.join(demo.shots, 'explore-footfall-breakdown.png') });
  assertNoProblems('footfall penetration');
});

test('the search box finds a county, a ZIP code and a record by name, and goes there', async () => {
  const { page } = demo;
  const search = async (text, kind, match) => {
    await page.fill('#search', text);
    const item = page.locator(`#search-results .search-item[data-kind="${kind}"]`, { hasText: match }).first();
    await item.waitFor({ state: 'visible' });
    return item;
  };
  // A county: framed, and its breakdown opens as if clicked.
  await (await search('Travis', 'region', 'county 48453')).click();
  await page.waitForSelector('#x-panel[data-state="ready"][data-at="county:48453"]');
  assert.equal(await page.locator('#x-title').textContent(), 'Travis');
  await waitForMapIdle(page);
  const inTravis = await page.evaluate(() => {
    const c = window.gcrm.map.getCenter();
    return c.lat > 30 && c.lat < 30.7 && c.lng > -98.2 && c.lng < -97.4;
  });
  assert.ok(inTravis, 'the map is not on Travis County');

  // A ZIP code from the offline geocoder: the map flies there and marks it (keyboard only).
  await page.fill('#search', '10001');
  await page.waitForSelector('#search-results .search-item[data-kind="place"]');
  const places = await page.locator('#search-results .search-item').evaluateAll((ls) => ls.map((l) => l.dataset.kind));
  for (let i = 0; i <= places.indexOf('place'); i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#search-marker');
  const at = await page.evaluate(() => window.gcrm.map.getCenter());
  assert.ok(Math.abs(at.lat - 40.75) < 0.05 && Math.abs(at.lng + 73.997) < 0.05, `10001 at ${at.lat},${at.lng}`);
  assert.equal(await page.locator('#search-results').isHidden(), true, 'the list stays open after a pick');

  // A record by its name (the manager's scope): its details open.
  const one = (await getJSON('/api/v1/customers?limit=1&kind=customer')).features[0];
  await (await search(one.properties.name, 'record', one.properties.name)).click();
  await page.waitForSelector(`#drawer[data-state="ready"][data-id="${one.id}"]`);
  assert.equal(await page.locator('#d-name').textContent(), one.properties.name);
  assert.equal(await page.locator('#x-panel').isHidden(), true, 'the breakdown still covers the details');
  await page.screenshot({ path: path.join(demo.shots, 'search.png') });

  // Esc clears the box; nothing found says so.
  await page.fill('#search', 'zzqqxx');
  await page.waitForSelector('#search-results .search-empty');
  assert.match(await page.locator('#search-results').textContent(), /Nothing found for "zzqqxx"/);
  await page.focus('#search');
  await page.keyboard.press('Escape');
  assert.equal(await page.inputValue('#search'), '');
  assertNoProblems('search');
});
