// Activities in a real browser against a real gcrm demo: a rep opens one of their records,
// logs a meeting with "Log activity" in the details drawer, sees it in the list and the
// count, and the cube's activities measure counts it at once; a marketer has no button.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startGcrm, launchBrowser, watchPage, waitForMapIdle, apiHeaders, repoRoot } from './harness.mjs';

const shots = path.resolve(repoRoot, process.env.GCRM_E2E_SCREENSHOTS || 'test-results/screenshots');
const REP = { email: 'rep1@demo.gcrm', password: 'gcrm-demo' };
const MARKETER = { email: 'marketer@demo.gcrm', password: 'gcrm-demo' };

let gcrm;
let browser;
let page;
let problems;

before(async () => {
  gcrm = await startGcrm({ customers: Number(process.env.GCRM_E2E_CUSTOMERS || 2000) });
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  problems = watchPage(page, new URL(gcrm.url).origin);
}, { timeout: 15 * 60_000 });

after(async () => {
  await browser?.close();
  await gcrm?.stop();
}, { timeout: 2 * 60_000 });

async function getJSON(p, headers) {
  const res = await fetch(`${gcrm.url}${p}`, { headers });
  assert.equal(res.status, 200, `${p}: ${res.status} ${await res.clone().text()}`);
  return res.json();
}

async function signIn(user) {
  await page.goto(`${gcrm.url}/`);
  await page.waitForSelector('#signin', { state: 'visible' });
  problems.clear(); // the first /auth/me is a 401 by design
  await page.fill('#signin-email', user.email);
  await page.fill('#signin-password', user.password);
  await page.click('#signin-submit');
  await page.waitForSelector('#signin', { state: 'hidden' });
  await waitForMapIdle(page);
}

test('a rep logs a meeting on their record from the details drawer; the cube counts it', async () => {
  const rep = await apiHeaders(gcrm.url, REP);
  const list = await getJSON('/api/v1/customers?limit=5', rep); // the rep's own records only
  const rec = list.features.find((f) => f.geometry);
  assert.ok(rec && rec.properties.owner === REP.email, 'a located record of the rep');
  const cell = (await getJSON(`/api/v1/cube?measures=records&by=h3:9&bbox=${rec.geometry.coordinates.join(',')},${rec.geometry.coordinates.join(',')}`, rep)).rows[0][0];
  const cubeBefore = await getJSON(`/api/v1/cube?measures=activities&filter=h3:${cell}`, rep);
  const before0 = rec.properties.activities;

  await signIn(REP);
  await page.goto(`${gcrm.url}/#sel=${rec.id}`);
  await page.waitForSelector(`#drawer[data-state="ready"][data-id="${rec.id}"]`);
  assert.equal(Number(await page.locator('#d-act-count').textContent()), before0);
  await page.click('#d-act-open');
  await page.selectOption('#d-act-kind', 'meeting');
  await page.fill('#d-act-note', 'Walked the site with the owner');
  await page.click('#d-act-save');
  await page.waitForFunction((n) => document.querySelector('#d-act-count')?.textContent === String(n), before0 + 1);
  await page.waitForFunction(() => /meeting/.test(document.querySelector('#d-act-list li')?.textContent || ''));
  assert.match(await page.locator('#d-act-list li').first().textContent(), /meeting.*rep1@demo\.gcrm.*Walked the site with the owner/s);
  assert.ok(await page.locator('#d-act-form').isHidden(), 'the form closes after saving');

  // Stored, and counted by the cube at once (the record's rev carried the new count).
  const acts = await getJSON(`/api/v1/customers/${rec.id}/activities`, rep);
  assert.equal(acts.activities.length, Math.min(before0 + 1, 100));
  assert.deepEqual([acts.activities[0].kind, acts.activities[0].owner, acts.activities[0].note], ['meeting', REP.email, 'Walked the site with the owner']);
  const cubeAfter = await getJSON(`/api/v1/cube?measures=activities&filter=h3:${cell}`, rep);
  assert.equal(cubeAfter.rows[0][0], cubeBefore.rows[0][0] + 1);
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, 'activity.png') });

  // A bad time is refused with the server's reason, in the form.
  await page.click('#d-act-open');
  await page.fill('#d-act-when', '1850-01-01T10:00');
  await page.click('#d-act-save');
  await page.waitForSelector('#d-act-error:not([hidden])');
  assert.match(await page.locator('#d-act-error').textContent(), /occurred_at/);
  problems.clear(); // the 400 was the point
  assert.deepEqual(problems.console, []);
});

test('a marketer sees the activities but has no Log activity button', async () => {
  const rep = await apiHeaders(gcrm.url, REP);
  const rec = (await getJSON('/api/v1/customers?limit=5', rep)).features.find((f) => f.geometry);
  await page.close();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 }); // a new context: signed out
  problems = watchPage(page, new URL(gcrm.url).origin);
  await signIn(MARKETER);
  await page.goto(`${gcrm.url}/#sel=${rec.id}`);
  await page.waitForSelector(`#drawer[data-state="ready"][data-id="${rec.id}"]`);
  await page.waitForFunction(() => document.querySelectorAll('#d-act-list li').length > 0);
  assert.match(await page.locator('#d-act-list').textContent(), /meeting/);
  assert.equal(await page.locator('#d-act-open').count(), 0);
  assert.deepEqual(problems.console, []);
  assert.deepEqual(problems.failed, []);
});
