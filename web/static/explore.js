// The regional manager's Explore workspace: a measure and a "by" picker, a choropleth
// (hexagons, states or counties) with quantile breaks in viridis and its legend, click to
// drill (zoom in + a breakdown panel by segment, status and month with a breadcrumb to climb
// back), CSV export of the breakdown, and an hour-of-week control for footfall.
//
// app.js calls initExplore once the map has loaded and hands over what it shares: the map,
// api() (sign-in and CSRF), toast(), writeHash() and the list of hash writers, so that the
// picks and the selection live in the URL like the rest of the app:
//   #…&measure=customers&by=county&at=county:48453&ff=32
// Everything it draws sits in its own sources and layers (ids start with "explore-").
import { el } from './dom.js';

const VIRIDIS = ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725']; // 5 classes
const NO_DATA = '#d9dee4';
const US_BOUNDS = [[-125, 24], [-66.5, 49.5]];
// "by" picks: off, hexagons, then the cube's region levels (/api/v1/cube/meta: the demo's
// state and county, and any level imported later, e.g. sales districts).
const BY = [
  { value: '', label: 'off' },
  { value: 'hex', label: 'hexagons' },
];
const LEVEL = /^[a-z0-9_-]{1,40}$/;
// Measures offered, in this order, when the cube's meta lists them; labels for people.
const LABELS = {
  customers: 'customers', prospects: 'prospects', leads: 'leads', records: 'all records',
  revenue: 'revenue', customer_revenue: 'customer revenue', won: 'won', lost: 'lost',
  conversion_rate: 'conversion (won / won+lost)', revenue_per_customer: 'revenue per customer',
  penetration: 'customers per 1,000 residents',
  activities: 'activities (visits, calls, …)',
  footfall: 'daily footfall (pedestrians)', footfall_penetration: 'customers per 1,000 daily footfall',
};
const ORDER = ['customers', 'prospects', 'leads', 'records', 'revenue', 'customer_revenue', 'won', 'lost',
  'conversion_rate', 'revenue_per_customer', 'activities', 'penetration', 'footfall', 'footfall_penetration'];
const FOOTFALL_MEASURES = ['footfall', 'footfall_penetration'];
const TOTALS = ['records', 'customers', 'prospects', 'leads', 'revenue', 'won', 'lost', 'conversion_rate', 'revenue_per_customer', 'activities'];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

const ex = {
  ctx: null,
  map: null,
  meta: null,
  measure: 'customers',
  by: '',
  at: null, // { level: 'state'|'county'|'h3', code }
  ff: null, // footfall hour of week 0..167, or null (off)
  months: null, // { from: 'YYYY-MM', to: 'YYYY-MM' }: records created in that range, or null (all)
  breaks: [],
  values: new Map(), // region code → value (region choropleth)
  stateSet: new Set(), // codes with a feature-state set
  abort: null,
  panelAbort: null,
  names: new Map(), // "level:code" → region feature (name, bbox)
  levels: new Set(), // region levels with a source and fill layer (levelLayers)
};

/** initExplore builds the Explore controls on the loaded map; ctx is what app.js shares. */
export async function initExplore(ctx) {
  ex.ctx = ctx;
  ex.map = ctx.map;
  readParams(new URLSearchParams(location.hash.replace(/^#/, '')));
  ctx.hashExtras.push(writeParams);
  buildControls();
  addLayers();
  try {
    ex.meta = await ctx.api('/api/v1/cube/meta');
  } catch (err) {
    if (err.status !== 401) ctx.toast(`Explore: the cube cannot be read: ${err.message}`);
    return;
  }
  fillMeasures();
  fillLevels();
  window.addEventListener('hashchange', onHashChange);
  document.getElementById('filters')?.addEventListener('change', () => setTimeout(refresh, 0));
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && ex.at && document.getElementById('drawer')?.hidden !== false) climb(-1);
  });
  ex.map.on('click', onClick);
  ex.map.on('mousemove', onHover);
  ex.map.on('idle', () => {
    if (ex.by === 'hex') hexBreaks();
    if (ex.ff !== null) footfallBreaks();
  });
  await refresh();
  if (ex.at) openPanel({ fit: !new URLSearchParams(location.hash.slice(1)).get('map') });
  if (ex.ff !== null) loadFootfall();
}

// ---------------------------------------------------------------------------------------
// URL

function readParams(p) {
  const m = p.get('measure');
  if (m && /^[a-z_]+$/.test(m)) ex.measure = m;
  const by = p.get('by') || '';
  ex.by = BY.some((b) => b.value === by) || LEVEL.test(by) ? by : ''; // levels are checked against the meta once read
  ex.at = null;
  const at = /^([a-z0-9_-]{1,40}):([A-Za-z0-9_.-]{1,64})$/.exec(p.get('at') || '');
  if (at) ex.at = { level: at[1], code: at[2] };
  const ff = Number(p.get('ff'));
  ex.ff = p.has('ff') && Number.isInteger(ff) && ff >= 0 && ff < 168 ? ff : null;
  const months = /^(\d{4}-\d{2})\.\.(\d{4}-\d{2})$/.exec(p.get('months') || '');
  ex.months = months && months[1] <= months[2] ? { from: months[1], to: months[2] } : null;
}

function writeParams(rest) {
  if (!ex.by && !ex.at && ex.ff === null && !ex.months) return;
  rest.set('measure', ex.measure);
  if (ex.by) rest.set('by', ex.by);
  if (ex.at) rest.set('at', `${ex.at.level}:${ex.at.code}`);
  if (ex.ff !== null) rest.set('ff', String(ex.ff));
  if (ex.months) rest.set('months', `${ex.months.from}..${ex.months.to}`);
}

function onHashChange() {
  const before = JSON.stringify([ex.measure, ex.by, ex.at, ex.ff, ex.months]);
  readParams(new URLSearchParams(location.hash.replace(/^#/, '')));
  if (before === JSON.stringify([ex.measure, ex.by, ex.at, ex.ff, ex.months])) return;
  syncControls();
  refresh();
  if (ex.at) openPanel({ fit: false });
  else closePanel();
  loadFootfall();
}

// ---------------------------------------------------------------------------------------
// Controls

function buildControls() {
  const stage = document.querySelector('.stage');
  const measure = el('select', { id: 'x-measure', name: 'measure', title: 'What the map colours by' });
  const by = el('select', { id: 'x-by', name: 'by', title: 'Colour hexagons (their size follows the zoom), states or counties' },
    ...BY.map((b) => el('option', { value: b.value }, b.label)));
  const day = el('select', { id: 'x-ff-day', title: 'Day of the week (local time of the sensors)' },
    ...DAYS.map((d, i) => el('option', { value: String(i) }, d.slice(0, 3))));
  const hour = el('input', { id: 'x-ff-hour', type: 'range', min: '0', max: '23', step: '1', value: '12', title: 'Hour of the day' });
  const hourOut = el('output', { id: 'x-ff-hour-out', htmlFor: 'x-ff-hour' }, '12:00');
  const ffOn = el('input', { id: 'x-ff', type: 'checkbox', title: 'Show mean footfall by hour of the week' });
  const from = el('input', { id: 'x-month-from', type: 'month', name: 'from', title: 'Records created from this month' });
  const to = el('input', { id: 'x-month-to', type: 'month', name: 'to', title: 'Records created up to this month (included)' });
  const clearMonths = el('button', { type: 'button', id: 'x-month-clear', className: 'x-link', title: 'All months' }, 'all');
  const box = el('section', { className: 'explore', id: 'explore', 'aria-label': 'Explore' },
    el('h2', {}, 'Explore'),
    el('label', {}, 'Measure', measure),
    el('label', {}, 'by', by),
    el('div', { className: 'x-months', role: 'group', 'aria-label': 'Created between' },
      el('span', {}, 'Created'), from, el('span', {}, '–'), to, clearMonths),
    el('div', { className: 'x-ff' },
      el('label', { className: 'x-check' }, ffOn, 'Footfall'),
      el('div', { className: 'x-ff-when', id: 'x-ff-when' }, day, hour, hourOut)),
    el('p', { className: 'x-note', id: 'x-note', hidden: true }));
  stage.append(box);
  const panel = el('aside', { className: 'explore-panel', id: 'x-panel', 'aria-label': 'Breakdown', 'aria-live': 'polite', hidden: true },
    el('header', {},
      el('nav', { className: 'x-crumbs', id: 'x-crumbs', 'aria-label': 'Breadcrumb' }),
      el('button', { type: 'button', className: 'close', id: 'x-close', title: 'Close (Esc)', 'aria-label': 'Close the breakdown' }, '×')),
    el('h2', { id: 'x-title' }, '…'),
    el('div', { className: 'x-body', id: 'x-body' }));
  stage.append(panel);
  const legend = el('section', { className: 'x-legend', id: 'x-legend', hidden: true });
  const ffLegend = el('section', { className: 'x-legend', id: 'x-ff-legend', hidden: true });
  document.getElementById('legend')?.append(legend, ffLegend);

  measure.addEventListener('change', () => { ex.measure = measure.value; changed(); });
  by.addEventListener('change', () => { ex.by = by.value; changed(); });
  const ffChange = () => {
    ex.ff = ffOn.checked ? Number(day.value) * 24 + Number(hour.value) : null;
    hourOut.value = `${String(hour.value).padStart(2, '0')}:00`;
    ex.ctx.writeHash();
    syncControls();
    loadFootfall();
  };
  ffOn.addEventListener('change', ffChange);
  day.addEventListener('change', ffChange);
  hour.addEventListener('input', () => { hourOut.value = `${String(hour.value).padStart(2, '0')}:00`; });
  hour.addEventListener('change', ffChange);
  const monthsChange = () => {
    const a = from.value || to.value;
    const b = to.value || from.value;
    ex.months = a ? { from: a <= b ? a : b, to: a <= b ? b : a } : null;
    changed();
  };
  from.addEventListener('change', monthsChange);
  to.addEventListener('change', monthsChange);
  clearMonths.addEventListener('click', () => { ex.months = null; changed(); });
  document.getElementById('x-close').addEventListener('click', () => select(null));
  syncControls();
}

function fillMeasures() {
  const sel = document.getElementById('x-measure');
  const known = new Set(ex.meta.measures.map((m) => m.name));
  const docs = new Map(ex.meta.measures.map((m) => [m.name, m.doc]));
  const pops = ex.meta.population_levels || [];
  const hasFootfall = (ex.meta.footfall_cells || 0) > 0;
  const names = ORDER.filter((n) => known.has(n) && (n !== 'penetration' || pops.length > 0) &&
    (!FOOTFALL_MEASURES.includes(n) || hasFootfall));
  sel.replaceChildren(...names.map((n) => el('option', { value: n, title: docs.get(n) || '' }, LABELS[n] || n)));
  if (!names.includes(ex.measure)) ex.measure = names[0];
  syncControls();
}

/** fillLevels offers the cube's region levels in the "by" picker. */
function fillLevels() {
  const levels = ex.meta.region_levels || [];
  document.getElementById('x-by').replaceChildren(
    ...[...BY, ...levels.map((l) => ({ value: l, label: l }))].map((b) => el('option', { value: b.value }, b.label)));
  if (ex.by && ex.by !== 'hex' && !levels.includes(ex.by)) ex.by = '';
  if (ex.at && !['h3', ...levels].includes(ex.at.level)) ex.at = null;
  syncControls();
}

/** showRegion opens a region's breakdown, as a click on it would (the map's search). */
export function showRegion(level, code) {
  if (!ex.meta) return;
  select({ level, code }, { fit: false });
}

/** closeBreakdown closes the breakdown panel, leaving the map where it is (a record's details open). */
export function closeBreakdown() {
  if (!ex.at) return;
  ex.at = null;
  closePanel();
  ex.ctx.writeHash();
}

/**
 * reloadMeta re-reads the cube's measures and levels after an import of reference data
 * (kind: regions, attributes or footfall); new boundaries also get new region tile URLs,
 * new footfall a new footfall layer.
 */
export async function reloadMeta(kind) {
  if (!ex.ctx) return;
  ex.meta = await ex.ctx.api('/api/v1/cube/meta');
  fillMeasures();
  fillLevels();
  if (kind === 'regions') {
    const stamp = Date.now().toString(36);
    for (const l of ex.levels) ex.map.getSource(`explore-${l}`)?.setTiles([regionTileURL(l, stamp)]);
  }
  refresh();
  if (kind === 'footfall' && ex.ff !== null) loadFootfall();
}

function syncControls() {
  const m = document.getElementById('x-measure');
  if (m && [...m.options].some((o) => o.value === ex.measure)) m.value = ex.measure;
  document.getElementById('x-by').value = ex.by;
  const ffOn = document.getElementById('x-ff');
  ffOn.checked = ex.ff !== null;
  document.getElementById('x-ff-when').hidden = ex.ff === null;
  if (ex.ff !== null) {
    document.getElementById('x-ff-day').value = String(Math.floor(ex.ff / 24));
    document.getElementById('x-ff-hour').value = String(ex.ff % 24);
    document.getElementById('x-ff-hour-out').value = `${String(ex.ff % 24).padStart(2, '0')}:00`;
  }
  document.getElementById('x-month-from').value = ex.months?.from || '';
  document.getElementById('x-month-to').value = ex.months?.to || '';
  document.getElementById('x-month-clear').hidden = !ex.months;
  document.getElementById('explore').dataset.by = ex.by;
}

function changed() {
  // Penetration is per region: on hexagons it has no value, so the map switches to counties.
  if (ex.measure === 'penetration' && (ex.by === 'hex' || !ex.by)) ex.by = 'county';
  // Footfall is known around the sensors only: hexagons show it street by street.
  if (FOOTFALL_MEASURES.includes(ex.measure) && !ex.by) ex.by = 'hex';
  syncControls();
  ex.ctx.writeHash();
  refresh();
  if (ex.at) openPanel({ fit: false });
}

function note(text) {
  const p = document.getElementById('x-note');
  p.textContent = text || '';
  p.hidden = !text;
}

// ---------------------------------------------------------------------------------------
// Layers

function hexURL() {
  const q = new URLSearchParams();
  if (ex.measure !== 'records') q.set('measure', ex.measure);
  for (const [k, v] of Object.entries(filters())) q.set(k, v);
  if (ex.months) q.set('filter', monthFilter());
  return `${location.origin}/tiles/hexagons/{z}/{x}/{y}.mvt${q.size ? `?${q}` : ''}`;
}

function filters() {
  const f = ex.ctx.getFilters?.() || {};
  const out = {};
  for (const k of ['kind', 'status', 'segment']) if (f[k]) out[k] = f[k];
  return out;
}

function monthFilter() {
  return `month:${ex.months.from}..${ex.months.to}`;
}

function cubeFilter(extra = []) {
  const f = Object.entries(filters()).filter(([, v]) => !/[,:]/.test(v)).map(([k, v]) => `${k}:${v}`);
  if (ex.months) f.push(monthFilter());
  return [...f, ...extra].join(',');
}

function firstLayer(ids) {
  return ids.find((id) => ex.map.getLayer(id));
}

function addLayers() {
  const map = ex.map;
  map.addSource('explore-hex', { type: 'vector', tiles: [hexURL()], minzoom: 0, maxzoom: 16, promoteId: { hexagons: 'h3' } });
  // Footfall cells (measured and estimated) for the chosen hour of week: the footfall tiles.
  map.addSource('explore-footfall', { type: 'vector', tiles: [footfallURL()], minzoom: 0, maxzoom: 16, promoteId: { footfall: 'h3' } });
  map.addSource('explore-selected', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  const below = firstLayer(['county-line', 'state-line']); // under the boundaries, over the land
  levelLayers('state');
  levelLayers('county');
  map.addLayer({
    id: 'explore-county-edge', type: 'line', source: 'explore-county', 'source-layer': 'regions',
    layout: { visibility: 'none' }, paint: { 'line-color': '#ffffff', 'line-width': 0.3, 'line-opacity': 0.6 },
  }, below);
  map.addLayer({
    id: 'explore-hex-fill', type: 'fill', source: 'explore-hex', 'source-layer': 'hexagons',
    layout: { visibility: 'none' },
    paint: {
      'fill-color': NO_DATA,
      'fill-opacity': ['case', ['boolean', ['feature-state', 'hover'], false], 0.95, 0.78],
      'fill-outline-color': '#ffffff',
    },
  }, below);
  map.addLayer({
    id: 'explore-footfall-fill', type: 'fill', source: 'explore-footfall', 'source-layer': 'footfall',
    layout: { visibility: 'none' },
    paint: { 'fill-color': NO_DATA, 'fill-opacity': ['case', ['get', 'estimated'], 0.35, 0.85] },
  });
  map.addLayer({
    id: 'explore-footfall-line', type: 'line', source: 'explore-footfall', 'source-layer': 'footfall',
    layout: { visibility: 'none' },
    paint: {
      'line-color': '#1d2733', 'line-width': ['case', ['get', 'estimated'], 0.5, 1.2],
      'line-dasharray': [2, 2], 'line-opacity': ['case', ['get', 'estimated'], 0.6, 0],
    },
  });
  map.addLayer({
    id: 'explore-footfall-sensor', type: 'line', source: 'explore-footfall', 'source-layer': 'footfall',
    filter: ['!', ['get', 'estimated']], layout: { visibility: 'none' },
    paint: { 'line-color': '#1d2733', 'line-width': 1.2 },
  });
  map.addLayer({
    id: 'explore-selected-line', type: 'line', source: 'explore-selected',
    paint: { 'line-color': '#ffb000', 'line-width': 3 },
  });
}

// stamp: a new URL after an import, so neither MapLibre nor the HTTP cache keeps old shapes.
const regionTileURL = (level, stamp = '') => `${location.origin}/tiles/regions/{z}/{x}/{y}.mvt?level=${encodeURIComponent(level)}${stamp ? `&v=${stamp}` : ''}`;

/** levelLayers adds the source and fill layer of a region level once (explore-LEVEL-fill). */
function levelLayers(level) {
  const map = ex.map;
  if (map.getSource(`explore-${level}`)) return;
  map.addSource(`explore-${level}`, {
    type: 'vector', tiles: [regionTileURL(level)],
    minzoom: 0, maxzoom: 12, promoteId: { regions: 'code' },
  });
  map.addLayer({
    id: `explore-${level}-fill`, type: 'fill', source: `explore-${level}`, 'source-layer': 'regions',
    layout: { visibility: 'none' },
    paint: {
      'fill-color': NO_DATA,
      'fill-opacity': ['case', ['boolean', ['feature-state', 'hover'], false], 0.95, 0.8],
      'fill-outline-color': '#ffffff',
    },
  }, firstLayer(['explore-county-edge', 'explore-hex-fill', 'county-line', 'state-line']));
  ex.levels.add(level);
}

const CUSTOMER_LAYERS = ['clusters', 'cluster-count', 'points'];

function setVisible(id, on) {
  if (ex.map.getLayer(id)) ex.map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
}

/** refresh redraws the choropleth for the current measure, "by" and filters. */
async function refresh() {
  if (!ex.meta) return;
  const map = ex.map;
  if (ex.by && ex.by !== 'hex') levelLayers(ex.by);
  for (const l of ex.levels) setVisible(`explore-${l}-fill`, ex.by === l);
  setVisible('explore-county-edge', ex.by === 'county');
  setVisible('explore-hex-fill', ex.by === 'hex');
  // The choropleth replaces the customer dots (the legend says what colours the map).
  for (const id of CUSTOMER_LAYERS) setVisible(id, !ex.by);
  document.getElementById('legend')?.classList.toggle('x-choropleth', Boolean(ex.by));
  note('');
  if (!ex.by) {
    document.getElementById('x-legend').hidden = true;
    return;
  }
  if (ex.by === 'hex') {
    map.getSource('explore-hex').setTiles([hexURL()]);
    ex.breaks = [];
    hexBreaks();
    return;
  }
  ex.abort?.abort();
  const ctl = new AbortController();
  ex.abort = ctl;
  const level = ex.by;
  const q = new URLSearchParams({ measures: ex.measure, by: `region:${level}` });
  const f = cubeFilter();
  if (f) q.set('filter', f);
  let res;
  try {
    res = await ex.ctx.api(`/api/v1/cube?${q}`, { signal: ctl.signal });
  } catch (err) {
    if (err.name !== 'AbortError' && err.status !== 401) ex.ctx.toast(`Explore: ${err.message}`);
    return;
  }
  if (ctl.signal.aborted) return;
  const src = `explore-${level}`;
  for (const code of ex.stateSet) map.removeFeatureState({ source: src, sourceLayer: 'regions', id: code }, 'v');
  for (const other of ex.levels) {
    if (other !== level) map.removeFeatureState({ source: `explore-${other}`, sourceLayer: 'regions' });
  }
  ex.values = new Map();
  ex.stateSet = new Set();
  for (const [code, v] of res.rows) {
    if (!code) continue; // records outside every region of the level
    const n = num(v);
    if (n === null) continue;
    ex.values.set(code, n);
    ex.stateSet.add(code);
    map.setFeatureState({ source: src, sourceLayer: 'regions', id: code }, { v: n });
  }
  ex.breaks = quantiles([...ex.values.values()], VIRIDIS.length);
  map.setPaintProperty(`explore-${level}-fill`, 'fill-color', colorExpr(['feature-state', 'v'], ex.breaks));
  renderLegend(ex.breaks, `${LABELS[ex.measure] || ex.measure} by ${level}`, ex.values.size);
  if (ex.measure === 'penetration' && !(ex.meta.population_levels || []).includes(level)) {
    note(`No population is loaded for ${level} regions: penetration has no values here.`);
  }
}

function hexBreaks() {
  if (ex.by !== 'hex' || !ex.map.getSource('explore-hex')) return;
  const prop = ex.measure === 'records' ? 'count' : ex.measure;
  const vals = [];
  const seen = new Set();
  for (const f of ex.map.querySourceFeatures('explore-hex', { sourceLayer: 'hexagons' })) {
    const h = f.properties.h3;
    if (seen.has(h)) continue;
    seen.add(h);
    const v = num(f.properties[prop]);
    if (v !== null) vals.push(v);
  }
  const breaks = quantiles(vals, VIRIDIS.length);
  if (JSON.stringify(breaks) === JSON.stringify(ex.breaks) && ex.hexProp === prop) return;
  ex.breaks = breaks;
  ex.hexProp = prop;
  ex.map.setPaintProperty('explore-hex-fill', 'fill-color', colorExpr(['to-number', ['get', prop], -1], breaks, ['has', prop]));
  const z = Math.round(ex.map.getZoom());
  renderLegend(breaks, `${LABELS[ex.measure] || ex.measure} by hexagon`, seen.size, `hexagons in view (zoom ${z})`);
}

/** num reads a cube value (counts are numbers, revenue an exact decimal string). */
function num(v) {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

/** quantiles returns up to k-1 increasing class breaks splitting values into equal counts. */
export function quantiles(values, k) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return [];
  const out = [];
  for (let i = 1; i < k; i++) {
    const b = v[Math.min(v.length - 1, Math.floor((i * v.length) / k))];
    if (b > v[0] && (out.length === 0 || b > out[out.length - 1])) out.push(b);
  }
  return out;
}

function colorExpr(value, breaks, has = null) {
  const colors = classColors(breaks);
  const step = breaks.length ? ['step', value, colors[0], ...breaks.flatMap((b, i) => [b, colors[i + 1]])] : colors[0];
  const known = has || ['==', ['typeof', value], 'number'];
  return ['case', known, step, NO_DATA];
}

/** classColors spreads the viridis classes over the classes the breaks make. */
function classColors(breaks) {
  const n = breaks.length + 1;
  if (n === 1) return [VIRIDIS[2]];
  return Array.from({ length: n }, (_, i) => VIRIDIS[Math.round((i * (VIRIDIS.length - 1)) / (n - 1))]);
}

function fmt(v, measure = ex.measure) {
  if (v === null || v === undefined) return '—';
  const n = num(v);
  if (n === null) return String(v);
  if (measure === 'conversion_rate') return `${(n * 100).toLocaleString(undefined, { maximumFractionDigits: 1 })} %`;
  if (/revenue/.test(measure)) return n.toLocaleString(undefined, { maximumFractionDigits: n >= 1000 ? 0 : 2 });
  if (/penetration/.test(measure)) return n === 0 ? '0' : n.toLocaleString(undefined, { maximumSignificantDigits: 3 });
  if (measure === 'footfall') return n.toLocaleString(undefined, { maximumFractionDigits: 0 });
  return n.toLocaleString(undefined, { maximumFractionDigits: 2 });
}

function renderLegend(breaks, title, count, what = 'regions with a value') {
  const box = document.getElementById('x-legend');
  box.hidden = false;
  if (count === 0) {
    box.replaceChildren(el('h3', {}, title), el('p', { className: 'x-muted' }, 'no values here: nothing to colour'));
    return;
  }
  const colors = classColors(breaks);
  const rows = colors.map((c, i) => {
    const lo = i === 0 ? null : breaks[i - 1];
    const hi = i < breaks.length ? breaks[i] : null;
    const text = lo === null && hi === null ? 'all values' : lo === null ? `< ${fmt(hi)}` : hi === null ? `≥ ${fmt(lo)}` : `${fmt(lo)} – < ${fmt(hi)}`;
    return el('li', { dataset: { color: c } }, el('span', { className: `x-swatch c${VIRIDIS.indexOf(c)}` }), text);
  });
  rows.push(el('li', {}, el('span', { className: 'x-swatch none' }), 'no value'));
  box.replaceChildren(el('h3', {}, title), el('ul', { id: 'x-legend-classes' }, ...rows),
    el('p', { className: 'x-muted' }, `quantile classes over ${count.toLocaleString()} ${what}`));
  box.hidden = false;
}

// ---------------------------------------------------------------------------------------
// Hover and click

let hovered = null;
function activeFill() {
  return ex.by ? `explore-${ex.by === 'hex' ? 'hex' : ex.by}-fill` : null;
}

function onHover(e) {
  const layer = activeFill();
  let f = null;
  if (layer && ex.map.getLayer(layer)) f = ex.map.queryRenderedFeatures(e.point, { layers: [layer] })[0] || null;
  const key = f ? `${f.source}|${f.id}` : null;
  if (key === hovered?.key) return;
  if (hovered) ex.map.setFeatureState(hovered.ref, { hover: false });
  hovered = f ? { key, ref: { source: f.source, sourceLayer: f.sourceLayer, id: f.id } } : null;
  if (hovered) ex.map.setFeatureState(hovered.ref, { hover: true });
  if (f) ex.map.getCanvas().style.cursor = 'pointer';
}

function onClick(e) {
  const layer = activeFill();
  if (!layer) return;
  if (ex.map.queryRenderedFeatures(e.point, { layers: ['clusters', 'points'].filter((l) => ex.map.getLayer(l)) }).length) return;
  const f = ex.map.queryRenderedFeatures(e.point, { layers: [layer] })[0];
  if (!f) return;
  if (ex.by === 'hex') {
    select({ level: 'h3', code: String(f.properties.h3) }, { center: e.lngLat });
    return;
  }
  select({ level: ex.by, code: String(f.properties.code) });
}

/** select drills into a region or cell (null: back to the whole country). */
function select(at, { center = null, fit = true } = {}) {
  ex.at = at;
  if (at?.level === 'state' && ex.by === 'state') {
    ex.by = 'county'; // one level down: the state's counties
    syncControls();
    refresh();
  }
  ex.ctx.writeHash();
  if (!at) {
    closePanel();
    if (fit) ex.map.fitBounds(US_BOUNDS, { padding: 20, duration: 600 });
    return;
  }
  openPanel({ fit, center });
}

/** climb goes up the breadcrumb: -1 one level, or to crumb index i. */
function climb(i) {
  const trail = ex.trail || [];
  const to = i < 0 ? trail.length - 2 : i;
  const target = trail[to];
  if (!target || !target.at) { select(null); return; }
  select(target.at);
}

// ---------------------------------------------------------------------------------------
// The breakdown panel

async function region(level, code, signal) {
  const key = `${level}:${code}`;
  if (!ex.names.has(key)) ex.names.set(key, await ex.ctx.api(`/api/v1/regions/${level}/${code}`, { signal }));
  return ex.names.get(key);
}

function closePanel() {
  ex.panelAbort?.abort();
  document.getElementById('x-panel').hidden = true;
  ex.map.getSource('explore-selected')?.setData({ type: 'FeatureCollection', features: [] });
  ex.trail = [];
}

function atFilter(at) {
  return at.level === 'h3' ? `h3:${at.code}` : `region:${at.level}:${at.code}`;
}

async function openPanel({ fit = true, center = null } = {}) {
  const at = ex.at;
  if (!at) return;
  ex.panelAbort?.abort();
  const ctl = new AbortController();
  ex.panelAbort = ctl;
  const { signal } = ctl;
  const panel = document.getElementById('x-panel');
  const body = document.getElementById('x-body');
  if (!document.getElementById('drawer')?.hidden) ex.ctx.closeDetails?.();
  panel.hidden = false;
  panel.dataset.state = 'loading';
  panel.dataset.at = `${at.level}:${at.code}`;
  document.getElementById('x-title').textContent = 'Loading…';
  body.replaceChildren(el('p', { className: 'x-muted' }, 'Loading the breakdown…'));
  try {
    // The trail: USA › state › county (› cell).
    const trail = [{ label: 'USA', at: null }];
    let feature = null;
    if (at.level === 'county') {
      const state = await region('state', at.code.slice(0, 2), signal).catch(() => null);
      if (state) trail.push({ label: state.properties.name, at: { level: 'state', code: state.properties.code } });
      feature = await region('county', at.code, signal);
      trail.push({ label: feature.properties.name, at });
    } else if (at.level !== 'h3') { // a state, or a region of an imported level
      feature = await region(at.level, at.code, signal);
      trail.push({ label: feature.properties.name, at });
    } else {
      // A cell: under the county (and state) that hold most of its records.
      const q = new URLSearchParams({ measures: 'records', by: 'region:state,region:county', filter: `h3:${at.code}` });
      const where = await ex.ctx.api(`/api/v1/cube?${q}`, { signal }).catch(() => null);
      const top = where?.rows.filter((r) => r[0] && r[1]).sort((a, b) => b[2] - a[2])[0];
      if (top) {
        const [state, cty] = await Promise.all([region('state', top[0], signal), region('county', top[1], signal)]).catch(() => []);
        if (state) trail.push({ label: state.properties.name, at: { level: 'state', code: top[0] } });
        if (cty) trail.push({ label: cty.properties.name, at: { level: 'county', code: top[1] } });
      }
      if (!top) trail[0].label = 'All'; // outside every US region (Melbourne's footfall)
      trail.push({ label: `cell ${at.code}`, at });
    }
    ex.trail = trail;
    renderCrumbs(trail);
    document.getElementById('x-title').textContent = trail[trail.length - 1].label;
    if (feature) {
      ex.map.getSource('explore-selected').setData(feature);
      if (fit && feature.bbox) {
        // The region with its neighbours around it (one level out from a tight fit), beside
        // the panel.
        const [w, s, e, n] = feature.bbox;
        const padding = { top: 60, bottom: 60, left: 60, right: 380 };
        const cam = ex.map.cameraForBounds([[w, s], [e, n]], { padding });
        if (cam) ex.map.easeTo({ center: cam.center, zoom: Math.min(cam.zoom - 0.8, 10), duration: 600 });
      }
    } else {
      ex.map.getSource('explore-selected').setData({ type: 'FeatureCollection', features: [] });
      if (fit && center) ex.map.easeTo({ center, zoom: Math.min(ex.map.getZoom() + 2, 16), duration: 600 });
    }
    const regionBy = at.level === 'h3' ? [] : [`region:${at.level}`];
    const base = cubeFilter([atFilter(at)]);
    const cube = (measures, by) => {
      const q = new URLSearchParams({ measures: measures.join(',') });
      if (by.length) q.set('by', by.join(','));
      q.set('filter', base);
      return ex.ctx.api(`/api/v1/cube?${q}`, { signal });
    };
    const totalsMeasures = [...TOTALS];
    const pop = at.level !== 'h3' && (ex.meta.population_levels || []).includes(at.level);
    if (pop) totalsMeasures.push('penetration');
    if (ex.meta.footfall_cells && at.level === 'h3') totalsMeasures.push(...FOOTFALL_MEASURES);
    const m = ex.measure === 'penetration' && !pop ? 'customers' : ex.measure;
    const [totals, bySegment, byStatus, byMonth] = await Promise.all([
      cube(totalsMeasures, regionBy),
      cube([m], [...regionBy, 'segment']),
      cube([m], [...regionBy, 'status']),
      cube([m], [...regionBy, 'month']),
    ]);
    if (signal.aborted) return;
    const off = regionBy.length;
    const t = totals.rows[0] ? totals.rows[0].slice(off) : totalsMeasures.map(() => 0);
    const dl = el('dl', { className: 'x-totals', id: 'x-totals' });
    totalsMeasures.forEach((name, i) => {
      const v = t[i] === undefined || (t[i] === null && !FOOTFALL_MEASURES.includes(name)) ? 0 : t[i];
      dl.append(el('dt', {}, LABELS[name] || name), el('dd', { dataset: { measure: name } }, fmt(v, name)));
    });
    // Rows with a count of 0 (values held only by records of other kinds) are left out;
    // a ratio of 0 is a finding and stays.
    const ratio = m === 'conversion_rate';
    const section = (title, id, res, dimLabel) => el('section', { className: 'x-chart', id },
      el('h3', {}, `${LABELS[m] || m} by ${title}`),
      bars(res.rows.map((r) => [dimLabel(r[off]), num(r[off + 1])]).filter(([, v]) => v !== null && (ratio || v !== 0)), m));
    const label = (v) => v || '(none)';
    body.replaceChildren(
      el('p', { className: 'x-muted' }, at.level === 'h3' ? `H3 cell ${at.code} (resolution ${parseInt(at.code[1], 16)})` : `${at.level} ${at.code}`),
      dl,
      section('segment', 'x-by-segment', bySegment, label),
      section('status', 'x-by-status', byStatus, label),
      section('month', 'x-by-month', byMonth, label),
      exportLink(at, m));
    panel.dataset.state = 'ready';
  } catch (err) {
    if (err.name === 'AbortError' || signal.aborted) return;
    panel.dataset.state = 'error';
    document.getElementById('x-title').textContent = `${at.level} ${at.code}`;
    body.replaceChildren(el('p', { className: 'error' }, err.status === 404 ? 'This region does not exist.' : err.message));
  }
}

function renderCrumbs(trail) {
  const nav = document.getElementById('x-crumbs');
  const items = [];
  trail.forEach((c, i) => {
    if (i) items.push(el('span', { className: 'sep', 'aria-hidden': 'true' }, '›'));
    if (i === trail.length - 1) items.push(el('span', { className: 'here', 'aria-current': 'page' }, c.label));
    else {
      const b = el('button', { type: 'button', className: 'crumb', dataset: { i: String(i) } }, c.label);
      b.addEventListener('click', () => climb(i));
      items.push(b);
    }
  });
  nav.replaceChildren(...items);
}

/** bars draws rows [label, value] as a horizontal bar chart (CSS widths, no library). */
function bars(rows, measure) {
  const max = Math.max(0, ...rows.map(([, v]) => v ?? 0));
  if (!rows.length) return el('p', { className: 'x-muted' }, 'No records.');
  return el('ul', { className: 'x-bars' }, ...rows.map(([label, v]) => {
    const bar = el('span', { className: 'x-bar' });
    bar.style.setProperty('--w', max > 0 ? `${Math.max(0, (100 * (v ?? 0)) / max).toFixed(1)}%` : '0%');
    return el('li', { title: `${label}: ${fmt(v, measure)}` },
      el('span', { className: 'x-bar-label' }, label), el('span', { className: 'x-bar-track' }, bar),
      el('span', { className: 'x-bar-value' }, fmt(v, measure)));
  }));
}

/** exportLink downloads the selection's breakdown (segment × status × month) as CSV. */
function exportLink(at, m) {
  const measures = ['records', 'customers', 'prospects', 'leads', 'revenue', 'won', 'lost'];
  if (!measures.includes(m)) measures.push(m);
  const by = [...(at.level === 'h3' ? [] : [`region:${at.level}`]), 'segment', 'status', 'month'];
  const q = new URLSearchParams({ measures: measures.join(','), by: by.join(','), filter: cubeFilter([atFilter(at)]), format: 'csv' });
  const name = `gcrm-${at.level}-${at.code}-breakdown.csv`;
  return el('p', { className: 'x-export' },
    el('a', { className: 'x-button', id: 'x-export', href: `/api/v1/cube?${q}`, download: name,
      title: 'Download the breakdown by segment, status and month as CSV' }, 'Export CSV'));
}

// ---------------------------------------------------------------------------------------
// Footfall by hour of week

const FOOTFALL_LAYERS = ['explore-footfall-fill', 'explore-footfall-line', 'explore-footfall-sensor'];

function footfallURL() {
  const q = ex.ff === null ? '' : `?how=hour-of-week&key=${ex.ff}`;
  return `${location.origin}/tiles/footfall/{z}/{x}/{y}.mvt${q}`;
}

/** loadFootfall points the footfall layer at the chosen hour of week (or hides it). */
function loadFootfall() {
  const box = document.getElementById('x-ff-legend');
  for (const id of FOOTFALL_LAYERS) setVisible(id, ex.ff !== null);
  ex.ffBreaks = null;
  if (ex.ff === null) {
    box.hidden = true;
    return;
  }
  if (ex.meta && !ex.meta.footfall_cells) {
    note('No footfall on this server: import sensor counts with gcrm import footfall.');
    box.hidden = true;
    return;
  }
  ex.map.getSource('explore-footfall').setTiles([footfallURL()]);
  footfallBreaks();
}

/** footfallBreaks colours the footfall cells in view by quantiles of their mean and writes the legend. */
function footfallBreaks() {
  if (ex.ff === null || !ex.meta?.footfall_cells) return;
  const seen = new Map();
  for (const f of ex.map.querySourceFeatures('explore-footfall', { sourceLayer: 'footfall' })) {
    seen.set(f.properties.h3, f.properties);
  }
  const vals = [...seen.values()].map((p) => p.mean).filter(Number.isFinite);
  const breaks = quantiles(vals, VIRIDIS.length);
  const key = JSON.stringify([ex.ff, breaks, seen.size]);
  if (key === ex.ffBreaks) return;
  ex.ffBreaks = key;
  ex.map.setPaintProperty('explore-footfall-fill', 'fill-color', colorExpr(['to-number', ['get', 'mean'], -1], breaks, ['has', 'mean']));
  const box = document.getElementById('x-ff-legend');
  const day = DAYS[Math.floor(ex.ff / 24)];
  const hour = `${String(ex.ff % 24).padStart(2, '0')}:00`;
  const title = el('h3', {}, `Footfall, mean per hour, ${day} ${hour}`);
  if (seen.size === 0) {
    box.replaceChildren(title, el('p', { className: 'x-muted' }, 'no footfall in view: the sensors are in Melbourne'));
    box.hidden = false;
    return;
  }
  const measured = [...seen.values()].filter((p) => !p.estimated).length;
  const colors = classColors(breaks);
  box.replaceChildren(title,
    el('ul', {}, ...colors.map((c, i) => el('li', {}, el('span', { className: `x-swatch c${VIRIDIS.indexOf(c)}` }),
      i === 0 ? `< ${fmt(breaks[0] ?? 0, 'ff')}` : i === breaks.length ? `≥ ${fmt(breaks[i - 1], 'ff')}` : `${fmt(breaks[i - 1], 'ff')} – < ${fmt(breaks[i], 'ff')}`)),
    el('li', {}, el('span', { className: 'x-swatch measured' }), `sensor cell (${measured})`),
    el('li', {}, el('span', { className: 'x-swatch estimated' }), `estimated, no sensor (${seen.size - measured})`)),
    el('p', { className: 'x-muted' }, `quantile classes over ${seen.size.toLocaleString()} cells in view`));
  box.hidden = false;
}
