// The geocoding review: the records without a location (with the geocoder's reason) and
// those placed with low confidence, for the roles that edit records. The user fixes one by
// searching an address and picking a candidate, or by dragging its pin, then saves: the
// record is stored with precision "manual" (PATCH /api/v1/customers/{id} with lat/lon),
// leaves the list and shows on the map.
//
// app.js calls initReview once the map has loaded and hands over what it shares: the map,
// api(), toast(), openDetails(id), refreshTiles(), the signed-in `me`, writeHash() and the
// list of hash writers (the open panel is "review=1" in the URL).
// API: GET /api/v1/geocode/review, GET /api/v1/geocode/search?q=, PATCH /api/v1/customers/{id}.
import { Marker } from './vendor/maplibre-gl.mjs';
import { el } from './dom.js';

const PAGE = 50;

const rv = {
  ctx: null,
  open: false,
  items: [], // review features
  next: '',
  selected: null, // the feature being fixed
  marker: null,
  loading: null,
  reverse: null, // the pending reverse-geocode of the pin
};

/** initReview adds the Review button and panel when the role may fix records. */
export function initReview(ctx) {
  rv.ctx = ctx;
  if (!ctx.me?.can?.['geocode.review']) return; // the server would refuse the list
  buildUI();
  ctx.hashExtras?.push((p) => { if (rv.open) p.set('review', '1'); }); // absent: the panel is not in the URL
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && rv.open && rv.selected && document.getElementById('drawer')?.hidden !== false) select(null);
  });
  if (new URLSearchParams(location.hash.slice(1)).get('review') === '1') toggle(true);
}

function buildUI() {
  const button = el('button', { type: 'button', id: 'review-toggle', className: 'review-toggle', title: 'Records to place on the map: ungeocoded and low-confidence' }, 'Review');
  button.setAttribute('aria-controls', 'review');
  button.setAttribute('aria-expanded', 'false');
  button.addEventListener('click', () => toggle(!rv.open));
  const right = document.querySelector('.topbar-right');
  right?.insertBefore(button, right.firstChild);

  const panel = el('aside', { id: 'review', className: 'review-panel', hidden: true },
    el('header', {},
      el('h2', {}, 'Geocoding review'),
      el('span', { id: 'rv-count', className: 'rv-count' }),
      el('button', { type: 'button', className: 'close', id: 'rv-close', title: 'Close the review', ariaLabel: 'Close the review' }, '×')),
    el('p', { className: 'rv-help' }, 'Records without a location, then those placed with low confidence. Pick one, search its address or drag its pin, and save.'),
    el('ol', { id: 'rv-list', className: 'rv-list' }),
    el('button', { type: 'button', id: 'rv-more', className: 'rv-more', hidden: true }, 'Show more'));
  panel.setAttribute('aria-label', 'Geocoding review');
  document.querySelector('main.stage')?.append(panel);
  panel.querySelector('#rv-close').addEventListener('click', () => toggle(false));
  panel.querySelector('#rv-more').addEventListener('click', () => load(true));
}

function toggle(open) {
  rv.open = open;
  document.getElementById('review').hidden = !open;
  const b = document.getElementById('review-toggle');
  b.setAttribute('aria-expanded', String(open));
  b.classList.toggle('active', open);
  if (open) load(false);
  else select(null);
  rv.ctx.writeHash();
}

async function load(more) {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (more && rv.next) q.set('cursor', rv.next);
  rv.loading?.abort();
  const ctl = new AbortController();
  rv.loading = ctl;
  let page;
  try {
    page = await rv.ctx.api(`/api/v1/geocode/review?${q}`, { signal: ctl.signal });
  } catch (err) {
    if (err.name !== 'AbortError') rv.ctx.toast(`Review: ${err.message}`);
    return;
  }
  rv.items = more ? rv.items.concat(page.features) : page.features;
  rv.next = page.next_cursor || '';
  render();
}

function addressOf(c) {
  const cityLine = [c.city, [c.region, c.postcode].filter(Boolean).join(' ')].filter(Boolean).join(', ');
  return [c.street, cityLine, c.country].filter(Boolean).join(', ');
}

function pct(x) {
  return `${Math.round((x || 0) * 100)} %`;
}

function render() {
  const list = document.getElementById('rv-list');
  document.getElementById('rv-count').textContent = `${rv.items.length}${rv.next ? '+' : ''}`;
  document.getElementById('rv-more').hidden = !rv.next;
  if (!rv.items.length) {
    list.replaceChildren(el('li', { className: 'rv-empty' }, 'Nothing to review: every record is on the map.'));
    return;
  }
  list.replaceChildren(...rv.items.map((f) => {
    const c = f.properties;
    const g = c.geocode || {};
    const status = f.geocode_status === 'ungeocoded'
      ? el('span', { className: 'rv-badge ungeocoded' }, 'ungeocoded')
      : el('span', { className: 'rv-badge low' }, `${g.precision || '?'} · ${pct(g.confidence)}`);
    const reason = g.error || (f.geocode_status === 'low_confidence' ? `placed by ${g.source || 'the geocoder'} with low confidence` : '');
    const li = el('li', { className: 'rv-item', dataset: { id: String(f.id), status: f.geocode_status } },
      el('button', { type: 'button', className: 'rv-pick' },
        el('span', { className: 'rv-name' }, c.name, ' ', status),
        el('span', { className: 'rv-addr' }, addressOf(c) || 'no address'),
        reason ? el('span', { className: 'rv-reason' }, reason) : ''));
    li.querySelector('.rv-pick').addEventListener('click', () => select(rv.selected?.id === f.id ? null : f));
    if (rv.selected?.id === f.id) {
      li.classList.add('selected');
      li.append(fixTools(f));
    }
    return li;
  }));
}

function select(f) {
  rv.selected = f;
  rv.marker?.remove();
  rv.marker = null;
  render();
  if (!f) return;
  rv.ctx.openDetails(f.id, { fly: Boolean(f.geometry) });
  if (f.geometry) setPin(f.geometry.coordinates, { fly: false });
}

/** fixTools is the search box, its candidates, the pin's position and Save for f. */
function fixTools(f) {
  const c = f.properties;
  const input = el('input', { type: 'search', id: 'rv-q', value: addressOf(c), placeholder: 'Address, city or ZIP', autocomplete: 'off' });
  input.setAttribute('aria-label', 'Address to search');
  const form = el('form', { className: 'rv-search', id: 'rv-search' }, input, el('button', { type: 'submit' }, 'Search'));
  const cands = el('ul', { className: 'rv-cands', id: 'rv-cands' });
  const pin = el('p', { className: 'rv-pin', id: 'rv-pin' });
  const here = el('button', { type: 'button', className: 'link', id: 'rv-here' }, 'put a pin at the map centre');
  const save = el('button', { type: 'button', id: 'rv-save', className: 'primary', disabled: true }, 'Save location');
  form.addEventListener('submit', (e) => { e.preventDefault(); search(input.value, cands); });
  here.addEventListener('click', () => { const m = rv.ctx.map.getCenter(); setPin([m.lng, m.lat], { fly: false }); });
  save.addEventListener('click', () => saveFix(f, save));
  const box = el('div', { className: 'rv-fix' }, form, cands, pin, el('div', { className: 'rv-actions' }, here, save));
  queueMicrotask(() => showPin());
  return box;
}

async function search(text, list) {
  text = text.trim();
  if (!text) return;
  list.replaceChildren(el('li', { className: 'muted' }, 'Searching…'));
  let res;
  try {
    res = await rv.ctx.api(`/api/v1/geocode/search?${new URLSearchParams({ q: text })}`);
  } catch (err) {
    list.replaceChildren(el('li', { className: 'error' }, err.message));
    return;
  }
  if (!res.candidates.length) {
    list.replaceChildren(el('li', { className: 'muted' }, res.reason || 'Nothing found: try a ZIP code or "city, state".'));
    return;
  }
  list.replaceChildren(...res.candidates.map((cand, i) => {
    const b = el('button', { type: 'button', className: 'rv-cand', dataset: { i: String(i) } },
      el('span', {}, cand.label),
      el('span', { className: 'muted' }, ` ${cand.precision} · ${pct(cand.confidence)} · ${cand.provider}`));
    b.addEventListener('click', () => {
      for (const o of list.querySelectorAll('.rv-cand')) o.classList.toggle('picked', o === b);
      setPin([cand.lon, cand.lat], { fly: true, precision: cand.precision });
    });
    return el('li', {}, b);
  }));
}

/** setPin puts the draggable pin at lngLat (and flies there). */
function setPin(lngLat, { fly, precision } = {}) {
  const map = rv.ctx.map;
  if (!rv.marker) {
    rv.marker = new Marker({ draggable: true, color: '#ffb000' }).setLngLat(lngLat).addTo(map);
    rv.marker.getElement().id = 'rv-marker';
    rv.marker.getElement().title = 'Drag to the right place, then save';
    rv.marker.on('dragend', showPin);
  } else {
    rv.marker.setLngLat(lngLat);
  }
  if (fly) map.jumpTo({ center: lngLat, zoom: Math.max(map.getZoom(), { postcode: 12, city: 11, region: 6 }[precision] || 15) });
  showPin();
}

function showPin() {
  const pin = document.getElementById('rv-pin');
  const save = document.getElementById('rv-save');
  if (!pin || !save) return;
  if (!rv.marker) {
    pin.textContent = 'No pin yet: search an address, or put a pin at the map centre and drag it.';
    save.disabled = true;
    return;
  }
  const p = rv.marker.getLngLat();
  pin.textContent = `Pin at ${p.lat.toFixed(5)}, ${p.lng.toFixed(5)} — drag it to adjust.`;
  save.disabled = false;
  describePin(p, pin);
}

/** describePin adds where the pin is (GET /api/v1/geocode/reverse): nearest place, regions, ZIP. */
async function describePin(p, out) {
  rv.reverse?.abort();
  const ctl = new AbortController();
  rv.reverse = ctl;
  let r;
  try {
    r = await rv.ctx.api(`/api/v1/geocode/reverse?${new URLSearchParams({ lat: p.lat.toFixed(6), lon: p.lng.toFixed(6) })}`, { signal: ctl.signal });
  } catch {
    return; // 503 while the geocoder loads, or aborted by a newer pin: the coordinates stay
  }
  if (ctl.signal.aborted || !out.isConnected) return;
  const parts = [];
  if (r.place) parts.push(`${Math.round(r.place_meters / 100) / 10} km from ${r.place.name}${r.place.admin1 ? `, ${r.place.admin1}` : ''}`);
  const regions = (r.regions || []).map((x) => x.name || x.code).filter(Boolean);
  if (regions.length) parts.push(regions.join(' › '));
  if (r.postcode) {
    // Without ZIP polygons the ZIP is the one whose centroid is nearest: say so.
    parts.push(r.postcode_basis === 'polygon' ? `ZIP ${r.postcode.code}`
      : `ZIP ${r.postcode.code} (nearest ZIP centroid, ${Math.round((r.postcode_meters || 0) / 100) / 10} km)`);
  }
  if (parts.length) out.append(el('span', { className: 'rv-where', id: 'rv-where' }, parts.join(' · ')));
}

async function saveFix(f, button) {
  if (!rv.marker) return;
  const p = rv.marker.getLngLat();
  button.disabled = true;
  try {
    await rv.ctx.api(`/api/v1/customers/${f.id}`, {
      method: 'PATCH', body: { version: f.properties.version, lat: p.lat, lon: p.lng },
    });
  } catch (err) {
    button.disabled = false;
    rv.ctx.toast(err.status === 409 ? 'Someone changed this record meanwhile: reopen the review and try again.' : err.message);
    return;
  }
  rv.items = rv.items.filter((x) => x.id !== f.id);
  rv.selected = null;
  rv.marker?.remove();
  rv.marker = null;
  render();
  rv.ctx.toast(`${f.properties.name} placed by hand (precision manual).`, 'info');
  rv.ctx.refreshTiles();
  rv.ctx.openDetails(f.id, { fly: true });
}
