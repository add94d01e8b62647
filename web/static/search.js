// The map's search box: one field for records (name, external id, e-mail, city, postcode —
// GET /api/v1/customers?q=, within the user's scope), regions of any level (GET
// /api/v1/regions?q=) and places (GET /api/v1/geocode/search?q=: ZIP, "city, state",
// street addresses from the offline geocoder). Picking a record opens its details; a region
// frames it and opens its breakdown in Explore; a place flies there with a marker.
// Keyboard: ↓/↑ move through the results, Enter picks, Esc clears.
//
// app.js calls initSearch once the map has loaded with { map, api, openDetails, showRegion }.
import { el } from './dom.js';
import { Marker } from './vendor/maplibre-gl.mjs';

const sr = { ctx: null, timer: 0, abort: null, items: [], active: -1, marker: null };

/** initSearch adds the search box over the map. */
export function initSearch(ctx) {
  sr.ctx = ctx;
  const input = el('input', {
    type: 'search', id: 'search', placeholder: 'Search records, regions, places…', autocomplete: 'off',
    role: 'combobox', ariaExpanded: 'false', ariaAutoComplete: 'list', title: 'A name, ZIP code, "city, state", address or region',
  });
  input.setAttribute('aria-controls', 'search-results');
  const list = el('ul', { id: 'search-results', className: 'search-results', role: 'listbox', hidden: true });
  document.querySelector('main.stage')?.append(el('div', { className: 'search', role: 'search' }, input, list));
  input.addEventListener('input', () => {
    clearTimeout(sr.timer);
    sr.timer = setTimeout(() => run(input.value), 250);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (sr.items.length) move(e.key === 'ArrowDown' ? 1 : -1);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      clearTimeout(sr.timer);
      if (sr.active >= 0) pick(sr.items[sr.active]);
      else run(input.value, { pickFirst: true });
    } else if (e.key === 'Escape') {
      e.stopPropagation(); // the map's own Esc (clear the selection) stays for the map
      input.value = '';
      show([]);
    }
  });
  document.addEventListener('click', (e) => { if (!e.target.closest?.('.search')) show(sr.items, { open: false }); });
  input.addEventListener('focus', () => { if (sr.items.length) show(sr.items); });
}

const enc = (q) => new URLSearchParams(q);

/** run asks the three sources at once and lists what they found, records first. */
async function run(text, { pickFirst = false } = {}) {
  text = text.trim();
  sr.abort?.abort();
  if (text.length < 2) { show([]); return; }
  const ctl = new AbortController();
  sr.abort = ctl;
  const { signal } = ctl;
  const get = (path) => sr.ctx.api(path, { signal }).catch((err) => (err.name === 'AbortError' ? null : { error: err }));
  const [recs, regions, places] = await Promise.all([
    get(`/api/v1/customers?${enc({ q: text, limit: '5' })}`),
    get(`/api/v1/regions?${enc({ q: text })}`),
    get(`/api/v1/geocode/search?${enc({ q: text })}`),
  ]);
  if (signal.aborted) return;
  const items = [];
  for (const f of recs?.features || []) {
    const p = f.properties;
    items.push({ kind: 'record', label: p.name, detail: [p.kind, p.city, p.region].filter(Boolean).join(' · '), id: f.id ?? p.id });
  }
  for (const r of regions?.regions || []) items.push({ kind: 'region', label: r.name, detail: `${r.level} ${r.code}`, region: r });
  for (const c of (places?.candidates || []).slice(0, 5)) items.push({ kind: 'place', label: c.label, detail: c.precision, place: c });
  const failed = [recs, regions, places].find((x) => x?.error);
  show(items, { empty: failed ? failed.error.message : `Nothing found for "${text}"` });
  if (pickFirst && items.length) pick(items[0]);
}

function show(items, { open = true, empty = '' } = {}) {
  sr.items = items;
  sr.active = -1;
  const list = document.getElementById('search-results');
  const input = document.getElementById('search');
  const groups = { record: 'Records', region: 'Regions', place: 'Places' };
  let last = '';
  const rows = [];
  items.forEach((it, i) => {
    if (it.kind !== last) rows.push(el('li', { className: 'search-group', role: 'presentation' }, groups[it.kind]));
    last = it.kind;
    const li = el('li', { id: `search-item-${i}`, className: 'search-item', role: 'option', dataset: { kind: it.kind } },
      el('span', { className: 'search-label' }, it.label), el('span', { className: 'search-detail' }, it.detail));
    li.addEventListener('mousedown', (e) => { e.preventDefault(); pick(it); });
    rows.push(li);
  });
  if (!items.length && empty) rows.push(el('li', { className: 'search-empty' }, empty));
  list.replaceChildren(...rows);
  list.hidden = !open || !rows.length;
  input.setAttribute('aria-expanded', String(!list.hidden));
  input.removeAttribute('aria-activedescendant');
}

function move(step) {
  const n = sr.items.length;
  sr.active = (sr.active + step + n) % n;
  for (const li of document.querySelectorAll('#search-results .search-item')) li.classList.toggle('active', li.id === `search-item-${sr.active}`);
  document.getElementById('search').setAttribute('aria-activedescendant', `search-item-${sr.active}`);
}

function pick(it) {
  const { map } = sr.ctx;
  show(sr.items, { open: false });
  sr.marker?.remove();
  sr.marker = null;
  if (it.kind === 'record') {
    sr.ctx.openDetails(it.id, { fly: true });
  } else if (it.kind === 'region') {
    const [w, s, e, n] = it.region.bbox;
    map.fitBounds([[w, s], [e, n]], { padding: 40, duration: 0, maxZoom: 12 });
    sr.ctx.showRegion?.(it.region.level, it.region.code);
  } else {
    const c = it.place;
    const zoom = { postcode: 12, city: 11, region: 6 }[c.precision] || 16;
    map.jumpTo({ center: [c.lon, c.lat], zoom });
    sr.marker = new Marker({ color: '#1d2733' }).setLngLat([c.lon, c.lat]).addTo(map);
    sr.marker.getElement().id = 'search-marker';
    sr.marker.getElement().title = c.label;
  }
}
