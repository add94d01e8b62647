// Activities in a real browser against a real gcrm demo: a rep opens one of their records,
// logs a meeting with "Log activity" in the details drawer, sees it in the list and the
// count, and the cube's activities measure counts it at once; a marketer has no button.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { useDemo, apiHeaders } from './harness.mjs';

const REP = { email: 'rep1@demo.gcrm', password: 'gcrm-demo' };
const MARKETER = { email: 'marketer@demo.gcrm', password: 'gcrm-demo' };

const demo = useDemo({ customers: 2000 });
const { getJSON, signIn } = demo;

test('a rep logs a meeting on their record from the details drawer; the cube counts it', async () => {
  const rep = await apiHeaders(demo.gcrm.url, REP);
  const list = await getJSON('/api/v1/customers?limit=5', rep); // the rep's own records only
  const rec = list.features.find((f) => f.geometry);
  assert.ok(rec && rec.properties.owner === REP.email, 'a located record of the rep');
  const cell = (await getJSON(`/api/v1/cube?measures=records&by=h3:9&bbox=${rec.geometry.coordinates.join(',')},${rec.geometry.coordinates.join(',')}`, rep)).rows[0][0];
  const cubeBefore = await getJSON(`/api/v1/cube?measures=activities&filter=h3:${cell}`, rep);
  const before0 = rec.properties.activities;

  await signIn(REP);
  await demo.page.goto(`${demo.gcrm.url}/#sel=${rec.id}`);
  await demo.page.waitForSelector(`#drawer[data-state="ready"][data-id="${rec.id}"]`);
  assert.equal(Number(await demo.page.locator('#d-act-count').textContent()), before0);
  await demo.page.click('#d-act-open');
  await demo.page.selectOption('#d-act-kind', 'meeting');
  await demo.page.fill('#d-act-note', 'Walked the site with the owner');
  await demo.page.click('#d-act-save');
  await demo.page.waitForFunction((n) => document.querySelector('#d-act-count')?.textContent === String(n), before0 + 1);
  await demo.page.waitForFunction(() => /meeting/.test(document.querySelector('#d-act-list li')?.textContent || ''));
  assert.match(await demo.page.locator('#d-act-list li').first().textContent(), /meeting.*rep1@demo\.gcrm.*Walked the site with the owner/s);
  assert.ok(await demo.page.locator('#d-act-form').isHidden(), 'the form closes after saving');

  // Stored, and counted by the cube at once (the record's rev carried the new count).
  const acts = await getJSON(`/api/v1/customers/${rec.id}/activities`, rep);
  assert.equal(acts.activities.length, Math.min(before0 + 1, 100));
  assert.deepEqual([acts.activities[0].kind, acts.activities[0].owner, acts.activities[0].note], ['meeting', REP.email, 'Walked the site with the owner']);
  const cubeAfter = await getJSON(`/api/v1/cube?measures=activities&filter=h3:${cell}`, rep);
  assert.equal(cubeAfter.rows[0][0], cubeBefore.rows[0][0] + 1);
  mkdirSync(demo.shots, { recursive: true });
  await demo.page.screenshot({ path: path.join(demo.shots, 'activity.png') });

  // A bad time is refused with the server's reason, in the form.
  await demo.page.click('#d-act-open');
  await demo.page.fill('#d-act-when', '1850-01-01T10:00');
  await demo.page.click('#d-act-save');
  await demo.page.waitForSelector('#d-act-error:not([hidden])');
  assert.match(await demo.page.locator('#d-act-error').textContent(), /occurred_at/);
  demo.problems.clear(); // the 400 was the point
  assert.deepEqual(demo.problems.console, []);
});

test('a marketer sees the activities but has no Log activity button', async () => {
  const rep = await apiHeaders(demo.gcrm.url, REP);
  const rec = (await getJSON('/api/v1/customers?limit=5', rep)).features.find((f) => f.geometry);
  await demo.newPage(); // a new context: signed out
  await signIn(MARKETER);
  await demo.page.goto(`${demo.gcrm.url}/#sel=${rec.id}`);
  await demo.page.waitForSelector(`#drawer[data-state="ready"][data-id="${rec.id}"]`);
  await demo.page.waitForFunction(() => document.querySelectorAll('#d-act-list li').length > 0);
  assert.match(await demo.page.locator('#d-act-list').textContent(), /meeting/);
  assert.equal(await demo.page.locator('#d-act-open').count(), 0);
  assert.deepEqual(demo.problems.console, []);
  assert.deepEqual(demo.problems.failed, []);
});
