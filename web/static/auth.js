// What the signed-in role may use, so the UI shows only that. The server decides (it refuses
// anything else); this only keeps the page from offering what would be refused.
//
// GET /api/v1/auth/me answers `can` (feature → allowed, from the server's own policy table)
// and `workspaces` (the workspaces the role may open). Elements marked
//   data-can="customers.export"   are shown only when that feature is allowed;
//   data-workspace="territories"  only when the role may open that workspace.

/** applyCapabilities hides what me's role may not use under root (hides everything for null). */
export function applyCapabilities(me, root = document) {
  const can = me?.can || {};
  const workspaces = new Set(me?.workspaces || []);
  for (const e of root.querySelectorAll('[data-can]')) e.hidden = !can[e.dataset.can];
  for (const e of root.querySelectorAll('[data-workspace]')) e.hidden = !workspaces.has(e.dataset.workspace);
}

/**
 * exportButton returns a button that downloads the records matching getFilters() as CSV
 * (GET /api/v1/customers/export.csv; the server applies the caller's scope, removes contact
 * details without consent for marketers and audits the export), or null when the role may
 * not export.
 */
export function exportButton(me, getFilters) {
  if (!me?.can?.['customers.export']) return null;
  const b = document.createElement('button');
  b.type = 'button';
  b.id = 'export-csv';
  b.dataset.can = 'customers.export';
  b.title = 'Download the records on the map (with the current filters) as CSV';
  b.textContent = 'Export';
  b.addEventListener('click', () => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(getFilters() || {})) if (v) q.set(k, v);
    const qs = q.toString();
    location.assign(`/api/v1/customers/export.csv${qs ? `?${qs}` : ''}`);
  });
  return b;
}
