// The Import dialog: upload a CSV of customers from the map (POST /api/v1/imports, multipart
// field "file"), with a progress bar while the file goes up, then what the import did: counts,
// the first rejects (row and reason), a link to the full rejects CSV, and the map's customer
// tiles reloaded so the new records show.
//
// app.js calls initImport once the map has loaded and hands over what it shares: api() is not
// used for the upload (fetch has no upload progress), so it passes csrf() (the header every
// API call sends), authRequired() (a 401 opens the sign-in form), toast(), refreshTiles() and
// the signed-in `me`. The button carries data-can="imports", so auth.js hides it for the
// roles the server's policy refuses imports.
import { el } from './dom.js';

const COLUMNS = 'external_id,name,kind,lat,lon,street,city,region,postcode,country,segment,status,owner,revenue,email,phone,consent_email';

const im = {
  ctx: null,
  xhr: null, // the upload in flight
};

/** initImport adds the Import button and dialog when the role may import. */
export function initImport(ctx) {
  im.ctx = ctx;
  if (!ctx.me?.can?.imports) return; // the server would refuse the upload
  buildUI();
}

function buildUI() {
  const button = el('button', {
    type: 'button', id: 'import-open', className: 'import-toggle', dataset: { can: 'imports' },
    title: 'Import customers from a CSV file',
  }, 'Import');
  button.setAttribute('aria-haspopup', 'dialog');
  button.addEventListener('click', open);
  const right = document.querySelector('.topbar-right');
  right?.insertBefore(button, document.getElementById('workspace-slot'));

  const file = el('input', { type: 'file', id: 'im-file', name: 'file', accept: '.csv,text/csv', required: true });
  const geocode = el('input', { type: 'checkbox', id: 'im-geocode', name: 'geocode', checked: true });
  const dialog = el('dialog', { id: 'import', className: 'import-dialog' },
    el('form', { id: 'im-form', method: 'dialog' },
      el('header', {},
        el('h2', { id: 'im-title' }, 'Import customers'),
        el('button', { type: 'button', className: 'close', id: 'im-close', title: 'Close (Esc)', ariaLabel: 'Close the import' }, '×')),
      el('p', { className: 'im-help' },
        'A CSV file whose first row names the columns: ',
        el('code', {}, ...COLUMNS.split(',').flatMap((c, i) => (i ? [',', el('wbr'), c] : [c]))), '. Only name is required. A record with the same external_id is updated. ',
        'Rows without lat/lon are geocoded from their address (city, region, postcode).'),
      el('label', { className: 'im-file' }, 'CSV file ', file),
      el('label', { className: 'im-check' }, geocode, ' Geocode rows without coordinates (otherwise they are rejected)'),
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
  dialog.querySelector('#im-form').addEventListener('submit', (e) => { e.preventDefault(); upload(); });
  // Esc: the browser closes a modal <dialog> (a "cancel" event) — keep the map's own Esc
  // (clear the selection) from firing too.
  dialog.addEventListener('keydown', (e) => { if (e.key === 'Escape') e.stopPropagation(); });
  dialog.addEventListener('close', () => document.getElementById('import-open')?.focus());
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

/** upload sends the chosen file with XMLHttpRequest, whose upload events give the progress. */
function upload() {
  const f = document.getElementById('im-file').files?.[0];
  if (!f || im.xhr) return;
  const geocode = document.getElementById('im-geocode').checked;
  const submit = document.getElementById('im-submit');
  showError('');
  document.getElementById('im-result').hidden = true;
  submit.disabled = true;
  setPhase(`Uploading ${f.name}…`, 0);

  const body = new FormData();
  body.append('file', f, f.name);
  const q = new URLSearchParams({ kind: 'customers' });
  if (!geocode) q.set('geocode', 'false');
  const xhr = new XMLHttpRequest();
  im.xhr = xhr;
  xhr.open('POST', `/api/v1/imports?${q}`);
  xhr.withCredentials = true;
  xhr.setRequestHeader('Accept', 'application/json');
  const csrf = im.ctx.csrf?.();
  if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf);
  xhr.upload.addEventListener('progress', (e) => {
    if (!e.lengthComputable) return;
    setPhase(`Uploading ${f.name}: ${fmtBytes(e.loaded)} of ${fmtBytes(e.total)}`, Math.round((e.loaded / e.total) * 100));
  });
  xhr.upload.addEventListener('load', () => setPhase(`Importing ${f.name}${geocode ? ' (geocoding rows without coordinates)' : ''}…`, null));
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
    showResult(res, f.name);
    if (res.inserted || res.updated) im.ctx.refreshTiles?.();
  });
  xhr.send(body);
}

const nf = new Intl.NumberFormat();

function showResult(r, filename) {
  const box = document.getElementById('im-result');
  const landed = (r.inserted || 0) + (r.updated || 0) + (r.unchanged || 0);
  const counts = el('dl', { className: 'im-counts', id: 'im-counts' },
    ...[
      ['landed', landed, 'ok'], ['rejected', r.rejected || 0, r.rejected ? 'bad' : ''],
      ['new', r.inserted || 0, ''], ['updated', r.updated || 0, ''], ['unchanged', r.unchanged || 0, ''],
    ].map(([k, v, cls]) => el('div', { className: `im-count ${cls}`, dataset: { k } }, el('dt', {}, k), el('dd', {}, nf.format(v)))));
  const parts = [
    el('h3', {}, `${filename}: ${nf.format(r.rows || 0)} row${r.rows === 1 ? '' : 's'} read`),
    counts,
  ];
  const rejects = r.rejects || [];
  if (rejects.length) {
    const more = (r.rejected || 0) > rejects.length ? ` (the first ${rejects.length} of ${nf.format(r.rejected)})` : '';
    parts.push(el('h4', {}, `Rejected rows${more}`),
      el('div', { className: 'im-table-wrap' },
        el('table', { className: 'im-rejects', id: 'im-rejects' },
          el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Row'), el('th', { scope: 'col' }, 'Reason'))),
          el('tbody', {}, ...rejects.map((x) => el('tr', {}, el('td', {}, String(x.row)), el('td', {}, x.reason.replace(/^row \d+: /, ''))))))));
  }
  if (r.rejects_url) {
    parts.push(el('p', {}, el('a', {
      href: r.rejects_url, id: 'im-rejects-csv', download: `import-${r.id}-rejects.csv`,
    }, 'Download every rejected row as CSV'), ' — the file\'s own columns plus _row and _reason; fix them and import that file again.'));
  }
  if (landed) parts.push(el('p', { className: 'muted' }, 'The map now shows the imported records.'));
  box.replaceChildren(...parts);
  box.hidden = false;
}
