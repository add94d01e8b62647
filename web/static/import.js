// The Import dialog: what a role may load from the map, each kind a file upload with a
// progress bar while the file goes up, then what the import did — counts and the first
// rejects (row and reason):
//   customers          CSV, multipart "file"        POST /api/v1/imports (rejects CSV link;
//                                                   the customer tiles reload)
//   regions            GeoJSON / TopoJSON body      POST /api/v1/regions?level=…
//   region attributes  CSV body                     POST /api/v1/regions/{level}/attributes
//   footfall           multipart "sensors", "file"  POST /api/v1/footfall
// After regions, attributes or footfall, the Explore pickers re-read the cube's levels and
// measures (the cube follows region changes within seconds).
//
// app.js calls initImport once the map has loaded and hands over what it shares: api() is
// not used for the upload (fetch has no upload progress), so it passes csrf() (the header
// every API call sends), api() for small reads, authRequired() (a 401 opens the sign-in
// form), toast(), refreshTiles(), onReference() and the signed-in `me`, whose `can` (from the
// server's policy) decides which kinds are offered: the button shows when any is.
import { el } from './dom.js';

const COLUMNS = 'external_id,name,kind,lat,lon,street,city,region,postcode,country,segment,status,owner,revenue,email,phone,consent_email,created_at';

// The kinds, each offered when the server's policy allows its route (me.can[cap]).
const KINDS = [
  { id: 'customers', cap: 'imports', label: 'Customers, prospects and leads (CSV)' },
  { id: 'regions', cap: 'regions.import', label: 'Regions: boundaries (GeoJSON or TopoJSON)' },
  { id: 'attributes', cap: 'regions.attributes', label: 'Region attributes: population, income … (CSV)' },
  { id: 'footfall', cap: 'footfall.import', label: 'Footfall: hourly pedestrian counts (CSV)' },
];

const im = {
  ctx: null,
  xhr: null, // the upload in flight
  kinds: [],
};

/** initImport adds the Import button and dialog when the role may import anything. */
export function initImport(ctx) {
  im.ctx = ctx;
  im.kinds = KINDS.filter((k) => ctx.me?.can?.[k.cap]);
  if (!im.kinds.length) return; // the server would refuse every upload
  buildUI();
}

const field = (label, input, hint = '') => el('label', { className: 'im-field' }, el('span', {}, label), input, hint ? el('small', {}, hint) : '');

function buildUI() {
  const button = el('button', {
    type: 'button', id: 'import-open', className: 'import-toggle',
    title: 'Import customers, regions, region attributes or footfall from a file',
  }, 'Import');
  button.setAttribute('aria-haspopup', 'dialog');
  button.addEventListener('click', open);
  const right = document.querySelector('.topbar-right');
  right?.insertBefore(button, document.getElementById('workspace-slot'));

  const file = el('input', { type: 'file', id: 'im-file', name: 'file', accept: '.csv,text/csv', required: true });
  const geocode = el('input', { type: 'checkbox', id: 'im-geocode', name: 'geocode', checked: true });
  const kind = el('select', { id: 'im-kind', name: 'kind' }, ...im.kinds.map((k) => el('option', { value: k.id }, k.label)));
  const code = (text) => el('code', {}, ...text.split(',').flatMap((c, i) => (i ? [',', el('wbr'), c] : [c])));
  const dialog = el('dialog', { id: 'import', className: 'import-dialog' },
    el('form', { id: 'im-form', method: 'dialog' },
      el('header', {},
        el('h2', { id: 'im-title' }, 'Import'),
        el('button', { type: 'button', className: 'close', id: 'im-close', title: 'Close (Esc)', ariaLabel: 'Close the import' }, '×')),
      field('What', kind),
      el('fieldset', { className: 'im-kind', dataset: { kind: 'customers' } },
        el('p', { className: 'im-help' },
          'A CSV file whose first row names the columns: ', code(COLUMNS), '. Only name is required. A record with the same external_id is updated. ',
          'Rows without lat/lon are geocoded from their address (city, region, postcode). ',
          'created_at is a date (2024-03-15) or a time with its offset (2024-03-15T10:20:00Z); blank, a new record gets the time of the import.'),
        el('label', { className: 'im-check' }, geocode, ' Geocode rows without coordinates (otherwise they are rejected)')),
      el('fieldset', { className: 'im-kind', dataset: { kind: 'regions' } },
        el('p', { className: 'im-help' },
          'Polygons or multipolygons as a GeoJSON FeatureCollection or TopoJSON. Every customer is assigned to its region; ',
          'the level becomes a choropleth and a cube dimension. A region with the same level and code is replaced; ',
          'broken rings are repaired (and listed).'),
        field('Level', el('input', { id: 'im-level', name: 'level', placeholder: 'e.g. district', pattern: '[a-z0-9_\\-]{1,40}', title: 'lower-case letters, digits, _ or -' })),
        field('Code property', el('input', { id: 'im-code-prop', name: 'code_prop', placeholder: 'the feature id' })),
        field('Name property', el('input', { id: 'im-name-prop', name: 'name_prop', placeholder: 'name' })),
        el('label', { className: 'im-check' }, el('input', { type: 'checkbox', id: 'im-skip-invalid' }), ' Leave out shapes that cannot be repaired (otherwise nothing is imported)')),
      el('fieldset', { className: 'im-kind', dataset: { kind: 'attributes' } },
        el('p', { className: 'im-help' },
          'A CSV keyed by region code; its numeric columns are merged into the regions (a column named ',
          el('code', {}, 'population'), ' — or renamed to it, ', el('code', {}, 'popestimate2019=population'),
          ' — gives the penetration measure). Rows with an unknown code or a value that is not a number are listed.'),
        field('Level', el('select', { id: 'im-attr-level', name: 'level' })),
        field('Code column', el('input', { id: 'im-code-col', name: 'code_col', placeholder: 'e.g. fips or STATE:2+COUNTY:3' })),
        field('Columns', el('input', { id: 'im-columns', name: 'columns', placeholder: 'all numeric columns' }), 'COLUMN or COLUMN=KEY, comma-separated')),
      el('fieldset', { className: 'im-kind', dataset: { kind: 'footfall' } },
        el('p', { className: 'im-help' },
          'Hourly counts per sensor: long (', code('sensor_id,lat,lon,timestamp,count'), ' or date + hour columns) or wide (one column per sensor). ',
          'Counts of -1, blank or "undefined" stay missing, never 0. Re-importing a file replaces its values.'),
        field('Sensor locations', el('input', { type: 'file', id: 'im-sensors', accept: '.csv,text/csv' }), 'optional CSV: sensor_id, name, latitude, longitude'),
        field('Time zone', el('input', { id: 'im-tz', name: 'tz', value: 'UTC', placeholder: 'e.g. Australia/Melbourne' })),
        field('Format', el('select', { id: 'im-format', name: 'format' },
          el('option', { value: '' }, 'detect'), el('option', { value: 'long' }, 'long'), el('option', { value: 'wide' }, 'wide')))),
      field('File', file),
      el('div', { className: 'im-actions' },
        el('button', { type: 'submit', id: 'im-submit', className: 'primary' }, 'Upload and import')),
      el('div', { id: 'im-status', className: 'im-status', hidden: true },
        el('progress', { id: 'im-progress', max: 100 }),
        el('span', { id: 'im-phase', className: 'im-phase' })),
      el('p', { id: 'im-error', className: 'im-error', role: 'alert', hidden: true }),
      el('section', { id: 'im-result', className: 'im-result', hidden: true })));
  dialog.setAttribute('aria-labelledby', 'im-title');
  document.querySelector('main.stage')?.append(dialog);
  dialog.querySelector('#im-close').addEventListener('click', close);
  kind.addEventListener('change', showKind);
  showKind();
  dialog.querySelector('#im-form').addEventListener('submit', (e) => { e.preventDefault(); upload(); });
  // Esc: the browser closes a modal <dialog> (a "cancel" event) — keep the map's own Esc
  // (clear the selection) from firing too.
  dialog.addEventListener('keydown', (e) => { if (e.key === 'Escape') e.stopPropagation(); });
  dialog.addEventListener('close', () => document.getElementById('import-open')?.focus());
}

const ACCEPT = { customers: '.csv,text/csv', regions: '.geojson,.json,.topojson,application/geo+json,application/json', attributes: '.csv,text/csv', footfall: '.csv,text/csv' };

/** showKind shows the chosen kind's fields; the attribute levels come from the server. */
function showKind() {
  const k = document.getElementById('im-kind').value;
  for (const fs of document.querySelectorAll('#import .im-kind')) fs.hidden = fs.dataset.kind !== k;
  document.getElementById('im-file').accept = ACCEPT[k];
  document.getElementById('im-result').hidden = true;
  showError('');
  if (k === 'attributes') {
    im.ctx.api?.('/api/v1/regions').then((res) => {
      const sel = document.getElementById('im-attr-level');
      const keep = sel.value;
      sel.replaceChildren(...(res.levels || []).map((l) => el('option', { value: l.level }, `${l.level} (${nf.format(l.regions)})`)));
      if (keep) sel.value = keep;
    }).catch(() => {});
  }
}

function open() {
  const d = document.getElementById('import');
  if (!d.open) d.showModal();
  if (!im.xhr) document.getElementById('im-file').focus();
}

function close() {
  document.getElementById('import').close();
}

function setPhase(text, percent) {
  document.getElementById('im-status').hidden = false;
  const bar = document.getElementById('im-progress');
  if (percent == null) bar.removeAttribute('value'); // indeterminate: the server is working
  else bar.value = percent;
  document.getElementById('im-phase').textContent = text;
}

function showError(message) {
  const e = document.getElementById('im-error');
  e.textContent = message;
  e.hidden = !message;
}

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 ** 2).toFixed(1)} MB`;
}

/** request builds the chosen kind's URL and body, or throws a message for a missing field. */
function request(k, f) {
  const v = (id) => document.getElementById(id).value.trim();
  switch (k) {
    case 'customers': {
      const body = new FormData();
      body.append('file', f, f.name);
      const q = new URLSearchParams({ kind: 'customers' });
      if (!document.getElementById('im-geocode').checked) q.set('geocode', 'false');
      return { url: `/api/v1/imports?${q}`, body, working: `Importing ${f.name}${q.has('geocode') ? '' : ' (geocoding rows without coordinates)'}…` };
    }
    case 'regions': {
      const level = v('im-level');
      if (!/^[a-z0-9_-]{1,40}$/.test(level)) throw new Error('Give the level as 1 to 40 lower-case letters, digits, _ or - (e.g. district).');
      const q = new URLSearchParams({ level });
      if (v('im-code-prop')) q.set('code_prop', v('im-code-prop'));
      if (v('im-name-prop')) q.set('name_prop', v('im-name-prop'));
      if (document.getElementById('im-skip-invalid').checked) q.set('skip_invalid', 'true');
      return { url: `/api/v1/regions?${q}`, body: f, working: `Importing ${f.name} and assigning every customer to its ${level}…` };
    }
    case 'attributes': {
      const level = v('im-attr-level');
      if (!level) throw new Error('There are no regions yet: import boundaries first.');
      if (!v('im-code-col')) throw new Error('Give the column that holds the region code (e.g. fips).');
      const q = new URLSearchParams({ code_col: v('im-code-col') });
      if (v('im-columns')) q.set('columns', v('im-columns'));
      return { url: `/api/v1/regions/${encodeURIComponent(level)}/attributes?${q}`, body: f, working: `Merging ${f.name} into the ${level} regions…` };
    }
    default: { // footfall: the sensors first, so the counts can name them
      const body = new FormData();
      const sensors = document.getElementById('im-sensors').files?.[0];
      if (sensors) body.append('sensors', sensors, sensors.name);
      body.append('file', f, f.name);
      const q = new URLSearchParams({ tz: v('im-tz') || 'UTC' });
      if (v('im-format')) q.set('format', v('im-format'));
      return { url: `/api/v1/footfall?${q}`, body, working: `Importing the footfall counts of ${f.name}…` };
    }
  }
}

/** upload sends the chosen file with XMLHttpRequest, whose upload events give the progress. */
function upload() {
  const f = document.getElementById('im-file').files?.[0];
  if (!f || im.xhr) return;
  const k = document.getElementById('im-kind').value;
  showError('');
  let req;
  try {
    req = request(k, f);
  } catch (err) {
    showError(err.message);
    return;
  }
  const submit = document.getElementById('im-submit');
  document.getElementById('im-result').hidden = true;
  submit.disabled = true;
  setPhase(`Uploading ${f.name}…`, 0);

  const xhr = new XMLHttpRequest();
  im.xhr = xhr;
  xhr.open('POST', req.url);
  xhr.withCredentials = true;
  xhr.setRequestHeader('Accept', 'application/json');
  const csrf = im.ctx.csrf?.();
  if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf);
  xhr.upload.addEventListener('progress', (e) => {
    if (!e.lengthComputable) return;
    setPhase(`Uploading ${f.name}: ${fmtBytes(e.loaded)} of ${fmtBytes(e.total)}`, Math.round((e.loaded / e.total) * 100));
  });
  xhr.upload.addEventListener('load', () => setPhase(req.working, null));
  const done = () => {
    im.xhr = null;
    submit.disabled = false;
    document.getElementById('im-status').hidden = true;
  };
  xhr.addEventListener('error', () => { done(); showError('gcrm cannot be reached: check that the server is running.'); });
  xhr.addEventListener('abort', () => { done(); showError('The upload was cancelled.'); });
  xhr.addEventListener('load', () => {
    done();
    let res = null;
    try { res = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
    if (xhr.status === 401) {
      close();
      im.ctx.authRequired?.();
      return;
    }
    if (xhr.status < 200 || xhr.status >= 300) {
      showError(`The import failed: ${res?.detail || `${xhr.status} ${xhr.statusText}`}`);
      return;
    }
    if (k === 'customers') {
      showResult(res, f.name);
      if (res.inserted || res.updated) im.ctx.refreshTiles?.();
      return;
    }
    showReferenceResult(k, res, f.name);
    im.ctx.onReference?.(k, res);
  });
  xhr.send(req.body);
}

const nf = new Intl.NumberFormat();

/** counts renders [label, value, class] tiles. */
function counts(list) {
  return el('dl', { className: 'im-counts', id: 'im-counts' },
    ...list.map(([k, v, cls]) => el('div', { className: `im-count ${cls}`, dataset: { k } }, el('dt', {}, k), el('dd', {}, nf.format(v)))));
}

/** rejectsTable lists the first rejects (row and reason) under a title. */
function rejectsTable(rejects, total, title = 'Rejected rows', id = 'im-rejects') {
  if (!rejects?.length) return [];
  const more = (total || 0) > rejects.length ? ` (the first ${rejects.length} of ${nf.format(total)})` : '';
  return [el('h4', {}, `${title}${more}`),
    el('div', { className: 'im-table-wrap' },
      el('table', { className: 'im-rejects', id },
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Row'), el('th', { scope: 'col' }, 'Reason'))),
        el('tbody', {}, ...rejects.map((x) => el('tr', {}, el('td', {}, String(x.row)), el('td', {}, x.reason.replace(/^row \d+: /, '')))))))];
}

function showResult(r, filename) {
  const box = document.getElementById('im-result');
  const landed = (r.inserted || 0) + (r.updated || 0) + (r.unchanged || 0);
  const parts = [
    el('h3', {}, `${filename}: ${nf.format(r.rows || 0)} row${r.rows === 1 ? '' : 's'} read`),
    counts([
      ['landed', landed, 'ok'], ['rejected', r.rejected || 0, r.rejected ? 'bad' : ''],
      ['new', r.inserted || 0, ''], ['updated', r.updated || 0, ''], ['unchanged', r.unchanged || 0, ''],
    ]),
    ...rejectsTable(r.rejects, r.rejected),
  ];
  if (r.rejects_url) {
    parts.push(el('p', {}, el('a', {
      href: r.rejects_url, id: 'im-rejects-csv', download: `import-${r.id}-rejects.csv`,
    }, 'Download every rejected row as CSV'), ' — the file\'s own columns plus _row and _reason; fix them and import that file again.'));
  }
  if (landed) parts.push(el('p', { className: 'muted' }, 'The map now shows the imported records.'));
  box.replaceChildren(...parts);
  box.hidden = false;
}

/** showReferenceResult says what a regions, attributes or footfall import stored. */
function showReferenceResult(k, r, filename) {
  const box = document.getElementById('im-result');
  const parts = [el('h3', {}, filename)];
  if (k === 'regions') {
    const i = r.import || {};
    parts.push(counts([
      ['new', i.inserted || 0, 'ok'], ['replaced', i.updated || 0, ''], ['repaired', (i.repaired || []).length, (i.repaired || []).length ? 'bad' : ''],
      ['customers in', r.assigned || 0, ''], ['outside', r.unassigned || 0, ''],
    ]));
    const issues = [...(i.repaired || []).map((x) => ['repaired', x]), ...(i.skipped || []).map((x) => ['left out', x])];
    if (issues.length) {
      parts.push(el('h4', {}, 'Shapes that needed attention'), el('ul', { className: 'im-issues', id: 'im-issues' },
        ...issues.map(([what, x]) => el('li', {}, `${x.feature}: ${what} — ${x.reason}`))));
    }
    parts.push(el('p', { className: 'muted' }, `The ${i.level} level shows in Explore's "by" picker within a few seconds.`));
  } else if (k === 'attributes') {
    parts.push(counts([['regions updated', r.updated || 0, 'ok'], ['rejected', r.rejected || 0, r.rejected ? 'bad' : '']]),
      el('p', {}, `Merged into the ${r.level} regions: `, el('code', {}, (r.columns || []).join(', ') || 'no column')),
      ...rejectsTable(r.rejects, r.rejected));
    if ((r.skipped || []).length) parts.push(el('p', { className: 'muted' }, `Text columns left out: ${r.skipped.join(', ')}.`));
  } else {
    parts.push(counts([
      ['hourly values', r.counts || 0, 'ok'], ['missing', r.missing || 0, ''], ['rejected', r.rejected || 0, r.rejected ? 'bad' : ''],
      ['sensors', r.sensors || 0, ''],
    ]), ...rejectsTable(r.rejects, r.rejected), ...rejectsTable(r.sensor_rejects, 0, 'Sensor locations not used', 'im-sensor-rejects'));
    if ((r.no_location || []).length) {
      parts.push(el('p', {}, `${r.no_location.length} sensor${r.no_location.length === 1 ? ' has' : 's have'} no location, so their counts are stored but not on the map: ${r.no_location.slice(0, 10).join(', ')} — add a sensor locations file.`));
    }
    parts.push(el('p', { className: 'muted' }, 'Turn on Footfall in Explore to see the counts by hour of the week.'));
  }
  box.replaceChildren(...parts);
  box.hidden = false;
}
