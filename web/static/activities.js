// Activities on a record, in the details drawer: how many, the latest ones, and (for the
// roles that may: the activities.log capability) a "Log activity" form — kind, note, when.
// API: GET and POST /api/v1/customers/{id}/activities.
import { el } from './dom.js';

const KINDS = ['visit', 'call', 'email', 'meeting'];

/**
 * activitiesSection returns the drawer's activities section for record c. ctx: { api, me,
 * toast, onLogged(count) } — onLogged runs after an activity is stored.
 */
export function activitiesSection(c, ctx) {
  const count = el('span', { id: 'd-act-count' }, String(c.activities || 0));
  const list = el('ul', { className: 'd-act-list', id: 'd-act-list' });
  const section = el('section', { className: 'd-activities', id: 'd-activities', 'aria-label': 'Activities' },
    el('h3', {}, 'Activities ', count), list);
  const load = async () => {
    try {
      const res = await ctx.api(`/api/v1/customers/${c.id}/activities?limit=5`);
      list.replaceChildren(...res.activities.map((a) => el('li', { dataset: { kind: a.kind } },
        el('strong', {}, a.kind), ` ${new Date(a.occurred_at).toLocaleString()}`,
        a.owner ? el('span', { className: 'muted' }, ` · ${a.owner}`) : '',
        a.note ? el('div', { className: 'd-act-note' }, a.note) : '')));
      if (!res.activities.length) list.replaceChildren(el('li', { className: 'muted' }, 'None logged yet.'));
    } catch (err) {
      if (err.status !== 401) list.replaceChildren(el('li', { className: 'error' }, err.message));
    }
  };
  load();
  if (!ctx.me?.can?.['activities.log']) return section;

  const kind = el('select', { id: 'd-act-kind', name: 'kind' }, ...KINDS.map((k) => el('option', { value: k }, k)));
  const when = el('input', { id: 'd-act-when', name: 'occurred_at', type: 'datetime-local', title: 'When (default: now)' });
  const note = el('textarea', { id: 'd-act-note', name: 'note', rows: 2, maxLength: 4000, placeholder: 'Note (optional)' });
  const error = el('p', { className: 'error', id: 'd-act-error', role: 'alert', hidden: true });
  const save = el('button', { type: 'submit', id: 'd-act-save' }, 'Save');
  const cancel = el('button', { type: 'button', className: 'secondary' }, 'Cancel');
  const form = el('form', { className: 'd-act-form', id: 'd-act-form', hidden: true },
    el('label', {}, 'Kind ', kind), el('label', {}, 'When ', when), note, error, el('div', { className: 'd-act-buttons' }, save, cancel));
  const open = el('button', { type: 'button', id: 'd-act-open', className: 'd-act-open' }, 'Log activity');
  open.addEventListener('click', () => { form.hidden = false; open.hidden = true; kind.focus(); });
  cancel.addEventListener('click', () => { form.hidden = true; open.hidden = false; error.hidden = true; });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    save.disabled = true;
    error.hidden = true;
    const body = { kind: kind.value, note: note.value };
    if (when.value) body.occurred_at = new Date(when.value).toISOString();
    try {
      const res = await ctx.api(`/api/v1/customers/${c.id}/activities`, { method: 'POST', body });
      count.textContent = String(res.activities);
      note.value = '';
      when.value = '';
      form.hidden = true;
      open.hidden = false;
      ctx.toast?.(`Logged a ${res.activity.kind} on ${c.name}.`);
      ctx.onLogged?.(res.activities);
      await load();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      save.disabled = false;
    }
  });
  section.append(open, form);
  return section;
}
