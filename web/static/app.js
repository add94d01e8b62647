// gcrm's map UI: one ES module, no framework, no request that leaves the origin.
//
// The page is built so that later parts slot in without a rewrite:
//   - every call to the API goes through api(), which sends the CSRF header and turns a 401
//     into auth.required() (the sign-in form hooks in there);
//   - the top bar has empty #workspace-slot and #user-slot for the workspace switcher and the
//     "signed in as" badge;
//   - all state that a link should carry lives in `state` and the URL hash (readHash/writeHash).
import { Map as MapLibreMap, NavigationControl, ScaleControl, setWorkerUrl } from './vendor/maplibre-gl.mjs';
import { applyCapabilities, exportButton } from './auth.js'; // what the role may use
import { activitiesSection } from './activities.js'; // the drawer's activities and Log activity
import { initReview } from './review.js'; // the geocoding review list
import { initExplore, reloadMeta, showRegion, closeBreakdown } from './explore.js'; // the manager's Explore workspace
import { initSearch } from './search.js'; // the search box over the map
import { initImport } from './import.js'; // the Import dialog (CSV upload)
import { el } from './dom.js';

// The worker is a same-origin module script, so a CSP of worker-src 'self' is enough.
setWorkerUrl(new URL('./vendor/maplibre-gl-worker.mjs', import.meta.url).href);

const KIND_COLORS = { customer: '#1b9e77', prospect: '#d95f02', lead: '#7570b3' }; // ColorBrewer Dark2
const CLUSTER_COLOR = '#3b6ea8';
const US_BOUNDS = [[-125, 24], [-66.5, 49.5]];
const FILTER_KEYS = ['kind', 'status', 'segment'];

// ---------------------------------------------------------------------------------------
// API access

/** ApiError is a failed API call; message is the server's problem+json detail. */
export class ApiError extends Error {
  constructor(status, message, problem) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }
}

/**
 * auth is the signed-in session as the UI knows it: who (GET /api/v1/auth/me), the CSRF token
 * that every API call sends, and required(), which runs whenever the server answers 401.
 */
export const auth = {
  me: null, // the /api/v1/auth/me answer: { user, via, csrf_token, can, workspaces }
  csrf: '',
  enabled: true, // false when this server has no sign-in (a build before auth)
  required() {
    auth.me = null;
    auth.csrf = '';
    renderUser();
    showSignIn('Your session has ended: please sign in again.');
  },
};

/**
 * api calls gcrm's JSON API on this origin with the session cookie and CSRF header.
 * It resolves to the decoded body (null for 204) and rejects with an ApiError; a 401 opens
 * the sign-in form unless quiet401 is set.
 */
export async function api(path, { method = 'GET', body, signal, quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (auth.csrf) headers['X-CSRF-Token'] = auth.csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method, headers, signal, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'gcrm cannot be reached: check that the server is running.');
  }
  if (res.status === 401 && !quiet401) {
    auth.required();
    throw new ApiError(401, 'Sign-in required.');
  }
  if (!res.ok) {
    let problem;
    try { problem = await res.json(); } catch { /* not JSON */ }
    throw new ApiError(res.status, problem?.detail || `${res.status} ${res.statusText}`, problem);
  }
  return res.status === 204 ? null : res.json();
}

// ---------------------------------------------------------------------------------------
// State and the URL: #map=zoom/lat/lon[/bearing/pitch]&sel=ID&kind=…&status=…&segment=…

const state = {
  sel: null, // selected record id (number) or null
  filters: { kind: '', status: '', segment: '' },
};

function readHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const out = { view: null, sel: null, filters: {} };
  const m = (params.get('map') || '').split('/').map(Number);
  if (m.length >= 3 && m.slice(0, 3).every(Number.isFinite)) {
    out.view = { zoom: m[0], center: [m[2], m[1]], bearing: m[3] || 0, pitch: m[4] || 0 };
  }
  const sel = Number(params.get('sel'));
  if (Number.isInteger(sel) && sel > 0) out.sel = sel;
  for (const k of FILTER_KEYS) out.filters[k] = params.get(k) || '';
  return out;
}

function writeHash() {
  if (!map) return;
  const c = map.getCenter();
  const z = map.getZoom();
  const digits = Math.max(2, Math.ceil((z * Math.LN2 + Math.log(512 / 360 / 0.5)) / Math.LN10));
  let view = `${round(z, 2)}/${round(c.lat, digits)}/${round(c.lng, digits)}`;
  const bearing = round(map.getBearing(), 1);
  const pitch = round(map.getPitch(), 0);
  if (bearing || pitch) view += `/${bearing}/${pitch}`;
  const rest = new URLSearchParams();
  if (state.sel) rest.set('sel', String(state.sel));
  for (const k of FILTER_KEYS) if (state.filters[k]) rest.set(k, state.filters[k]);
  for (const add of hashExtras) add(rest);
  const tail = rest.toString();
  const hash = `#map=${view}${tail ? `&${tail}` : ''}`;
  if (hash !== location.hash) history.replaceState(history.state, '', hash);
}

// hashExtras are functions (URLSearchParams) => void by which workspaces (explore.js) add
// their own state to the URL.
const hashExtras = [];

function round(v, d) {
  const f = 10 ** d;
  return Math.round(v * f) / f;
}

// ---------------------------------------------------------------------------------------
// The map

const origin = location.origin;
let customerTiles = { template: `${origin}/tiles/customers/{z}/{x}/{y}.mvt`, minzoom: 0, maxzoom: 16 };
let map;

function customerTileURL() {
  const [base, query = ''] = customerTiles.template.split('?');
  const q = new URLSearchParams(query);
  for (const k of FILTER_KEYS) {
    if (state.filters[k]) q.set(k, state.filters[k]);
    else q.delete(k);
  }
  const s = q.toString();
  return s ? `${base}?${s}` : base;
}

// What the map draws is the server's tiles re-clustered in the browser. The server clusters
// exactly, on a 64×64 grid per tile: 8 px apart on screen, too close to read. So the tile
// features (records, and server clusters with their count) are copied into a GeoJSON source
// that MapLibre clusters at 50 px, summing the counts: every number shown is still the sum
// of exact server counts, and each record still comes from the tiles.
//   view feature properties: n (records it stands for), rec (record id, for a record),
//   kind (for a record), fid (the server cluster's tile feature id);
//   MapLibre's clusters add point_count, cluster_id and total (the sum of n).
const VIEW_CLUSTER_MAX_ZOOM = 14; // deeper, every record is drawn on its own
const viewCount = ['coalesce', ['get', 'total'], ['get', 'n']];
const isCluster = ['any', ['has', 'point_count'], ['>', ['get', 'n'], 1]];
const clusterRadius = ['interpolate', ['linear'], ['sqrt', viewCount], 1.4, 8, 10, 14, 30, 20, 100, 28, 300, 38];
const hovering = ['boolean', ['feature-state', 'hover'], false];
const pointRadius = ['interpolate', ['linear'], ['zoom'], 3, 3.5, 10, 5, 16, 8];

function buildStyle() {
  const regionTiles = (level) => [`${origin}/tiles/regions/{z}/{x}/{y}.mvt?level=${level}`];
  return {
    version: 8,
    name: 'gcrm',
    // No "glyphs": MapLibre 6 then draws label glyphs locally (TinySDF from the system's
    // sans-serif), so text needs no font server and no request leaves the origin.
    sources: {
      states: { type: 'vector', tiles: regionTiles('state'), minzoom: 0, maxzoom: 12 },
      counties: { type: 'vector', tiles: regionTiles('county'), minzoom: 5, maxzoom: 12 },
      customers: {
        type: 'vector', tiles: [customerTileURL()],
        minzoom: customerTiles.minzoom, maxzoom: customerTiles.maxzoom,
      },
      view: {
        type: 'geojson', data: emptyFC(), generateId: true,
        cluster: true, clusterRadius: 50, clusterMaxZoom: VIEW_CLUSTER_MAX_ZOOM,
        clusterProperties: { total: ['+', ['get', 'n']] },
      },
      selection: { type: 'geojson', data: emptyFC() },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#e9edf1' } },
      {
        id: 'state-fill', type: 'fill', source: 'states', 'source-layer': 'regions',
        paint: { 'fill-color': '#fbfaf6' },
      },
      {
        id: 'county-line', type: 'line', source: 'counties', 'source-layer': 'regions', minzoom: 5,
        paint: {
          'line-color': '#c3cad2',
          'line-width': ['interpolate', ['linear'], ['zoom'], 5, 0.4, 10, 1],
        },
      },
      {
        id: 'state-line', type: 'line', source: 'states', 'source-layer': 'regions',
        layout: { 'line-join': 'round' },
        paint: {
          'line-color': '#7d8794',
          'line-width': ['interpolate', ['linear'], ['zoom'], 2, 0.6, 6, 1.2, 10, 2],
        },
      },
      {
        // Loads the customer tiles (a source is fetched only for a visible layer) and draws
        // nothing: the view source below draws them.
        id: 'customer-tiles', type: 'circle', source: 'customers', 'source-layer': 'customers',
        paint: { 'circle-radius': 1, 'circle-opacity': 0, 'circle-stroke-opacity': 0 },
      },
      {
        id: 'clusters', type: 'circle', source: 'view', filter: isCluster,
        layout: { 'circle-sort-key': viewCount },
        paint: {
          'circle-color': CLUSTER_COLOR,
          'circle-opacity': 0.88,
          'circle-radius': clusterRadius,
          'circle-stroke-color': ['case', hovering, '#1d2733', '#ffffff'],
          'circle-stroke-width': ['case', hovering, 3, 1.5],
        },
      },
      {
        id: 'cluster-count', type: 'symbol', source: 'view', filter: isCluster,
        layout: {
          'text-field': ['case',
            ['>=', viewCount, 10000], ['concat', ['to-string', ['round', ['/', viewCount, 1000]]], 'k'],
            ['>=', viewCount, 1000], ['concat', ['to-string', ['/', ['round', ['/', viewCount, 100]], 10]], 'k'],
            ['to-string', viewCount]],
          'text-font': ['DejaVu Sans Bold'],
          'text-size': ['interpolate', ['linear'], ['sqrt', viewCount], 1.4, 11, 30, 13, 100, 15],
          'text-allow-overlap': true,
          'text-ignore-placement': true,
        },
        paint: { 'text-color': '#ffffff' },
      },
      {
        id: 'points', type: 'circle', source: 'view', filter: ['!', isCluster],
        paint: {
          'circle-color': ['match', ['get', 'kind'],
            'customer', KIND_COLORS.customer, 'prospect', KIND_COLORS.prospect, 'lead', KIND_COLORS.lead, '#888888'],
          'circle-radius': pointRadius,
          'circle-stroke-color': ['case', hovering, '#1d2733', '#ffffff'],
          'circle-stroke-width': ['case', hovering, 2.5, 1],
        },
      },
      {
        id: 'selection-ring', type: 'circle', source: 'selection',
        paint: {
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 3, 8, 16, 13],
          'circle-color': 'rgba(0,0,0,0)',
          'circle-stroke-color': '#ffb000',
          'circle-stroke-width': 3,
        },
      },
    ],
  };
}

function emptyFC() {
  return { type: 'FeatureCollection', features: [] };
}

// absolute makes a tile URL template absolute on this page's origin without encoding its
// {z}/{x}/{y} (tiles are fetched in MapLibre's worker, whose base URL is the worker
// script's). A host in the TileJSON is dropped: behind a proxy the server may name another
// one, and the map never asks anything but its own origin.
function absolute(template) {
  const path = template.replace(/^https?:\/\/[^/]+/, '');
  return origin + (path.startsWith('/') ? '' : '/') + path;
}

async function loadTileJSON() {
  try {
    const tj = await api('/tiles/customers.json');
    customerTiles = {
      template: absolute(tj.tiles?.[0] || customerTiles.template),
      minzoom: Number.isFinite(tj.minzoom) ? tj.minzoom : 0,
      maxzoom: Number.isFinite(tj.maxzoom) ? tj.maxzoom : 16,
    };
  } catch (err) {
    console.warn('gcrm: no TileJSON for customers, using the default tile URL:', err.message);
  }
}

function setProgress(on) {
  clearTimeout(setProgress.timer);
  const bar = document.getElementById('progress');
  if (!on) { bar.hidden = true; return; }
  setProgress.timer = setTimeout(() => { bar.hidden = false; }, 300); // only for slow loads
}

function startMap() {
  const initial = readHash();
  state.filters = { ...state.filters, ...initial.filters };
  state.sel = initial.sel;

  const opts = {
    container: 'map',
    style: buildStyle(),
    attributionControl: false,
    dragRotate: false,
    maxZoom: 19,
    fadeDuration: 0,
  };
  if (initial.view) Object.assign(opts, initial.view);
  else opts.bounds = US_BOUNDS;
  map = new MapLibreMap(opts);
  map.touchZoomRotate.disableRotation();
  map.addControl(new NavigationControl({ showCompass: false }), 'top-left');
  map.addControl(new ScaleControl({ unit: 'imperial' }), 'bottom-left');

  map.on('moveend', writeHash);
  // The view is rebuilt once every customer tile in sight has arrived (while some are still
  // loading, a parent and its children can both be in use and would count twice), and
  // checked again when the map settles.
  map.on('sourcedata', (e) => {
    if (e.sourceId === 'customers' && e.dataType === 'source' && map.isSourceLoaded('customers')) scheduleView();
  });
  map.on('dataloading', () => setProgress(true));
  map.on('idle', () => {
    setProgress(false);
    if (!viewPending) refreshView();
  });
  map.on('error', onMapError);
  map.on('mousemove', onHover);
  map.on('mouseout', () => setHover(null));
  map.on('click', onClick);
  map.once('load', () => {
    initReview({ map, api, toast, openDetails, writeHash, hashExtras, me: auth.me, refreshTiles: () => map.getSource('customers')?.setTiles([customerTileURL()]) });
    initExplore({ map, api, toast, writeHash, hashExtras, closeDetails, getFilters: () => state.filters }); // reads the hash first
    initSearch({ map, api, openDetails, showRegion });
    initImport({
      me: auth.me, api, csrf: () => auth.csrf, authRequired: () => auth.required(), toast,
      // Regions, attributes, footfall: the server brings the cube up to date before the
      // import answers, so its levels and measures are re-read at once.
      onReference: (kind) => { reloadMeta(kind).catch(() => {}); },
      refreshTiles: () => { map.getSource('customers')?.setTiles([customerTileURL()]); loadFilterValues(); } });
    writeHash();
    if (state.sel) openDetails(state.sel, { fly: !initial.view });
  });
  window.gcrm = { map, state, api, auth, openDetails, closeDetails, setFilters, busy: () => viewPending };
}

const shownErrors = new Set();
function onMapError(e) {
  const status = e.error?.status;
  if (status === 401) { auth.required(); return; }
  const msg = e.error?.message || String(e.error || 'map error');
  console.error('gcrm map:', msg);
  if (!shownErrors.has(msg)) {
    shownErrors.add(msg);
    toast(status ? `Loading map data failed (${status}): ${msg}` : `Map error: ${msg}`);
  }
}

const interactive = ['clusters', 'points'];

function featureAt(point) {
  const fs = map.queryRenderedFeatures(point, { layers: interactive });
  return fs[0] || null;
}

// refreshView copies the customer tile features on the map into the view source. It runs
// (debounced) whenever customer tiles arrive; at clustered zooms each server feature is in
// exactly one tile, deeper a record can be in two tiles' edge buffers and is taken once.
let viewTimer = null;
let viewPending = false;
function scheduleView() {
  viewPending = true;
  clearTimeout(viewTimer);
  viewTimer = setTimeout(refreshView, 40);
}

function refreshView() {
  const seen = new Set();
  const features = [];
  for (const f of map.querySourceFeatures('customers', { sourceLayer: 'customers' })) {
    const p = f.properties;
    const server = p.cluster === true;
    const key = server ? `c${f.id}` : `r${p.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    features.push({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [...f.geometry.coordinates] },
      properties: server ? { n: Number(p.count), fid: f.id } : { n: 1, rec: Number(p.id), kind: p.kind },
    });
  }
  viewPending = false;
  // Unchanged (the usual case on 'idle'): keep the view, so settling does not reload it.
  let sig = features.length;
  for (const f of features) sig = (sig * 31 + f.properties.n * 7 + (f.properties.rec || 0) + f.geometry.coordinates[0] * 1e4 + f.geometry.coordinates[1] * 1e3) % 1e15;
  if (sig === viewSig) return;
  viewSig = sig;
  hovered = null;
  map.getSource('view').setData({ type: 'FeatureCollection', features });
}
let viewSig = null;

// Hover uses feature-state on the view source's generated ids.
let hovered = null;
function onHover(e) {
  setHover(featureAt(e.point));
}

function setHover(f) {
  const id = f?.id ?? null;
  if (id === hovered) return;
  if (hovered !== null) map.setFeatureState({ source: 'view', id: hovered }, { hover: false });
  hovered = id;
  if (id !== null) map.setFeatureState({ source: 'view', id }, { hover: true });
  map.getCanvas().style.cursor = f ? 'pointer' : '';
}

/**
 * clusterCell decodes a cluster's feature id (tiles.ClusterID: 1<<52 | z<<40 | x<<20 | y,
 * below 2^53) into the grid cell, a tile z/x/y, that holds its points; null for a record id.
 */
export function clusterCell(id) {
  if (!(id >= 2 ** 52 && id < 2 ** 53)) return null;
  return { z: Math.floor(id / 2 ** 40) % 4096, x: Math.floor(id / 2 ** 20) % 2 ** 20, y: id % 2 ** 20 };
}

function tileBounds({ z, x, y }) {
  const n = 2 ** z;
  const lon = (v) => (v / n) * 360 - 180;
  const lat = (v) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * v) / n))) * 180) / Math.PI;
  return [[lon(x), lat(y + 1)], [lon(x + 1), lat(y)]];
}

/**
 * zoomToCluster zooms in to cluster f: a cluster made here opens at the zoom where it splits;
 * a server cluster, to the grid cell that holds its records (at most 4 levels at once).
 */
async function zoomToCluster(f) {
  const z0 = map.getZoom();
  const center = f.geometry.coordinates;
  let zoom = z0 + 2;
  if (f.properties.cluster_id !== undefined) {
    try {
      zoom = await map.getSource('view').getClusterExpansionZoom(f.properties.cluster_id);
    } catch { /* the view changed meanwhile: zoom in two levels */ }
  } else {
    const cell = clusterCell(f.properties.fid);
    const cam = cell && map.cameraForBounds(tileBounds(cell), { padding: 40 });
    if (cam && Number.isFinite(cam.zoom)) zoom = cam.zoom;
  }
  zoom = Math.min(Math.max(zoom, z0 + 1), z0 + 4, map.getMaxZoom());
  map.easeTo({ center, zoom, duration: 500 });
}

function onClick(e) {
  const f = featureAt(e.point);
  if (!f) return;
  if (f.properties.point_count !== undefined || f.properties.n > 1) {
    zoomToCluster(f);
    return;
  }
  const id = Number(f.properties.rec);
  if (id > 0) openDetails(id, { reveal: true });
}

// ---------------------------------------------------------------------------------------
// Details drawer

let detailsAbort = null;

/** openDetails shows record id in the drawer and puts it in the URL. */
async function openDetails(id, { fly = false, reveal = false } = {}) {
  closeBreakdown(); // one panel on the right at a time: the record's details or a region's breakdown
  state.sel = id;
  writeHash();
  const drawer = document.getElementById('drawer');
  const body = document.getElementById('d-body');
  const title = document.getElementById('d-name');
  drawer.hidden = false;
  drawer.dataset.id = String(id);
  drawer.dataset.state = 'loading';
  title.textContent = 'Loading…';
  body.replaceChildren();
  detailsAbort?.abort();
  const ctl = new AbortController();
  detailsAbort = ctl;
  let f;
  try {
    f = await api(`/api/v1/customers/${id}`, { signal: ctl.signal });
  } catch (err) {
    if (err.name === 'AbortError' || state.sel !== id) return;
    drawer.dataset.state = 'error';
    title.textContent = `Record ${id}`;
    body.replaceChildren(el('p', { className: 'error' },
      err.status === 404 ? 'This record does not exist any more, or you may not see it.' : err.message));
    map.getSource('selection')?.setData(emptyFC());
    return;
  }
  if (state.sel !== id) return;
  renderDetails(f);
  drawer.dataset.state = 'ready';
  map.getSource('selection')?.setData(f.geometry ? {
    type: 'FeatureCollection', features: [{ type: 'Feature', geometry: f.geometry, properties: {} }],
  } : emptyFC());
  if (fly && f.geometry) map.jumpTo({ center: f.geometry.coordinates, zoom: Math.max(map.getZoom(), 12) });
  else if (reveal && f.geometry) revealBesideDrawer(f.geometry.coordinates);
}

/** revealBesideDrawer pans the map when the drawer covers the record it shows. */
function revealBesideDrawer(lngLat) {
  const d = document.getElementById('drawer').getBoundingClientRect();
  const c = map.getCanvas().getBoundingClientRect();
  const p = map.project(lngLat);
  const x = c.left + p.x;
  const y = c.top + p.y;
  if (x < d.left - 16 || x > d.right || y < d.top - 16 || y > d.bottom) return;
  const sheet = d.left - c.left < 200; // on a phone the drawer is a bottom sheet
  const to = sheet ? [c.width / 2, (d.top - c.top) / 2] : [(d.left - c.left) / 2, c.height / 2];
  map.panBy([p.x - to[0], p.y - to[1]], { duration: 300 });
}

/** closeDetails hides the drawer and clears the selection. */
function closeDetails() {
  detailsAbort?.abort();
  state.sel = null;
  const drawer = document.getElementById('drawer');
  drawer.hidden = true;
  delete drawer.dataset.id;
  map.getSource('selection')?.setData(emptyFC());
  writeHash();
}

const numberFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

function renderDetails(f) {
  const c = f.properties;
  document.getElementById('d-name').textContent = c.name;
  const rows = [];
  const row = (label, ...value) => {
    const v = value.filter((x) => x !== '' && x != null && x !== false);
    if (v.length) rows.push(el('dt', {}, label), el('dd', {}, ...v));
  };
  const cityLine = [c.city, [c.region, c.postcode].filter(Boolean).join(' ')].filter(Boolean).join(', ');
  const address = [c.street, cityLine, c.country].filter(Boolean);
  row('Status', c.status || '—');
  row('Segment', c.segment || '—');
  row('Owner', c.owner || 'unassigned');
  row('Address', ...(address.length ? address.flatMap((l, i) => (i ? [el('br'), l] : [l])) : ['—']));
  row('Revenue', numberFmt.format(c.revenue || 0));
  const contact = [];
  if (c.email) contact.push(el('a', { href: `mailto:${c.email}` }, c.email));
  if (c.phone) contact.push(el('a', { href: `tel:${c.phone.replace(/[^+\d]/g, '')}` }, c.phone));
  row('Contact', ...(contact.length ? contact.flatMap((x, i) => (i ? [el('br'), x] : [x])) : ['—']),
    el('div', { className: 'muted' }, c.consent_email ? 'e-mail consent given' : 'no e-mail consent'));
  const g = c.geocode || {};
  const geocode = [g.precision || 'not located'];
  if (g.confidence) geocode.push(` (${Math.round(g.confidence * 100)} %)`);
  if (g.source) geocode.push(`, from ${g.source}`);
  row('Geocode', geocode.join(''), g.error ? el('div', { className: 'error' }, g.error) : '');
  if (f.geometry) {
    const [lon, lat] = f.geometry.coordinates;
    row('Location', `${lat.toFixed(5)}, ${lon.toFixed(5)}`);
  }
  if (c.external_id) row('External id', c.external_id);
  if (c.updated_at) row('Updated', new Date(c.updated_at).toLocaleString());
  document.getElementById('d-body').replaceChildren(
    el('div', { className: 'badges' }, el('span', { className: `badge kind-${c.kind}`, title: 'kind' }, c.kind)),
    el('dl', {}, ...rows),
    activitiesSection({ ...c, id: f.id }, { api, me: auth.me, toast }));
}

// ---------------------------------------------------------------------------------------
// Filters

function setFilters(filters) {
  state.filters = { ...state.filters, ...filters };
  syncFilterForm();
  map.getSource('customers')?.setTiles([customerTileURL()]);
  writeHash();
  loadFilterValues();
}

function syncFilterForm() {
  let any = false;
  for (const k of FILTER_KEYS) {
    const sel = document.getElementById(`f-${k}`);
    const v = state.filters[k];
    if (v && ![...sel.options].some((o) => o.value === v)) sel.append(el('option', { value: v }, v));
    sel.value = v;
    sel.classList.toggle('active', Boolean(v));
    any ||= Boolean(v);
  }
  document.getElementById('f-clear').hidden = !any;
}

/**
 * loadFilterValues fills the status and segment pickers (and counts every option) from the
 * cube: each picker counts the records that the other active filters leave, within the
 * caller's scope. The top bar shows how many records the filters select.
 */
let facetsAbort = null;
async function loadFilterValues() {
  facetsAbort?.abort();
  const ctl = new AbortController();
  facetsAbort = ctl;
  const cube = (by, except) => {
    const q = new URLSearchParams({ measures: 'records' });
    if (by) q.set('by', by);
    const f = FILTER_KEYS.filter((k) => k !== except && state.filters[k] && !/[,:]/.test(state.filters[k]))
      .map((k) => `${k}:${state.filters[k]}`);
    if (f.length) q.set('filter', f.join(','));
    return api(`/api/v1/cube?${q}`, { signal: ctl.signal });
  };
  try {
    const [total, ...facets] = await Promise.all([cube('', null), ...FILTER_KEYS.map((k) => cube(k, k))]);
    FILTER_KEYS.forEach((k, i) => fillPicker(k, facets[i].rows));
    const n = total.rows[0]?.[0] ?? 0;
    const count = document.getElementById('f-count');
    count.textContent = `${n.toLocaleString()} record${n === 1 ? '' : 's'}`;
    count.hidden = false;
  } catch (err) {
    if (err.name !== 'AbortError' && err.status !== 401) console.warn('gcrm: could not count the filter values:', err.message);
  }
}

/** fillPicker lists rows ([value, count]) in the picker of k, keeping its choice. */
function fillPicker(k, rows) {
  const sel = document.getElementById(`f-${k}`);
  const counts = new Map(rows.filter(([v]) => v !== '').map(([v, n]) => [v, n]));
  if (k === 'kind') for (const v of ['customer', 'prospect', 'lead']) if (!counts.has(v)) counts.set(v, 0);
  if (state.filters[k] && !counts.has(state.filters[k])) counts.set(state.filters[k], 0);
  const first = sel.options[0];
  const values = [...counts.keys()];
  if (k !== 'kind') values.sort((a, b) => a.localeCompare(b));
  sel.replaceChildren(first, ...values.map((v) => el('option', { value: v }, `${v} (${counts.get(v).toLocaleString()})`)));
  sel.value = state.filters[k];
}

function wireFilters() {
  const form = document.getElementById('filters');
  form.addEventListener('change', (e) => {
    if (e.target.name) setFilters({ [e.target.name]: e.target.value });
  });
  form.addEventListener('submit', (e) => e.preventDefault());
  document.getElementById('f-clear').addEventListener('click', () => setFilters({ kind: '', status: '', segment: '' }));
}

// ---------------------------------------------------------------------------------------
// Signing in (the server's /api/v1/auth API; the session is an HttpOnly cookie)

/** whoAmI asks the server who we are; it resolves to false when nobody is signed in. */
async function whoAmI() {
  try {
    auth.me = await api('/api/v1/auth/me', { quiet401: true });
  } catch (err) {
    if (err.status === 401) return false;
    if (err.status === 404) { auth.enabled = false; return true; } // no sign-in on this server
    throw err;
  }
  auth.csrf = auth.me.csrf_token || '';
  renderUser();
  return true;
}

let signedIn = null; // resolves when the sign-in form succeeds

function showSignIn(message = '') {
  const box = document.getElementById('signin');
  const err = document.getElementById('signin-error');
  err.textContent = message;
  err.hidden = !message;
  box.hidden = false;
  document.getElementById('signin-email').focus();
  signedIn ??= new Promise((resolve) => { showSignIn.resolve = resolve; });
  return signedIn;
}

async function submitSignIn(e) {
  e.preventDefault();
  const form = e.target;
  const button = document.getElementById('signin-submit');
  const err = document.getElementById('signin-error');
  button.disabled = true;
  try {
    auth.me = await api('/api/v1/auth/login', {
      method: 'POST', quiet401: true,
      body: { email: form.email.value, password: form.password.value },
    });
  } catch (error) {
    err.textContent = error.status === 401 ? 'Wrong e-mail or password.' : error.message;
    err.hidden = false;
    return;
  } finally {
    button.disabled = false;
  }
  auth.csrf = auth.me.csrf_token || '';
  form.password.value = '';
  document.getElementById('signin').hidden = true;
  renderUser();
  const resolve = showSignIn.resolve;
  signedIn = null;
  if (map) location.reload(); // a session that ended under a running map: start afresh, same URL
  else resolve?.();
}

async function signOut() {
  try {
    await api('/api/v1/auth/logout', { method: 'POST' });
  } catch (err) {
    if (err.status !== 401) { toast(err.message); return; }
  }
  location.reload();
}

/** renderUser shows "signed in as" in the top bar's user slot. */
function renderUser() {
  const slot = document.getElementById('user-slot');
  const u = auth.me?.user;
  if (!u) { slot.replaceChildren(); return; }
  const out = el('button', { type: 'button', id: 'signout', title: 'Sign out' }, 'Sign out');
  out.addEventListener('click', signOut);
  slot.replaceChildren(el('div', { className: 'user-badge', title: u.email },
    el('span', {}, el('span', { className: 'prefix' }, 'Signed in as '), el('strong', { id: 'user-name' }, u.name || u.email)),
    el('span', { className: 'role' }, u.role), exportButton(auth.me, () => state.filters) ?? '', out));
  applyCapabilities(auth.me);
}

// ---------------------------------------------------------------------------------------
// Toasts, keys, the hash, start

function toast(message, kind = 'error') {
  const box = document.getElementById('toasts');
  const t = el('div', { className: `toast ${kind}` }, message);
  box.append(t);
  setTimeout(() => t.remove(), 6000);
}

function onHashChange() {
  const h = readHash();
  if (h.view) {
    const c = map.getCenter();
    if (Math.abs(c.lng - h.view.center[0]) > 1e-6 || Math.abs(c.lat - h.view.center[1]) > 1e-6 ||
        Math.abs(map.getZoom() - h.view.zoom) > 1e-3) map.jumpTo(h.view);
  }
  if (FILTER_KEYS.some((k) => h.filters[k] !== state.filters[k])) setFilters(h.filters);
  if (h.sel !== state.sel) {
    if (h.sel) openDetails(h.sel);
    else closeDetails();
  }
}

async function main() {
  wireFilters();
  document.getElementById('d-close').addEventListener('click', closeDetails);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state.sel) closeDetails();
  });
  document.getElementById('signin-form').addEventListener('submit', submitSignIn);
  try {
    if (!(await whoAmI())) await showSignIn();
  } catch (err) {
    toast(err.message);
    return;
  }
  await loadTileJSON();
  startMap();
  syncFilterForm();
  window.addEventListener('hashchange', onHashChange);
  loadFilterValues();
}

main();
