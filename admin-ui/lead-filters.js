// The leads list's filters: every filter GET /leads takes, with the sort,
// kept in the address (`#/leads?country=DE&status=new&sort=score`) so a
// view can be bookmarked and shared; opening such an address restores it.
import { get } from './api.js';
import { el, clear } from './ui.js';

/** The query part of the address (`#/leads?…`). */
export function hashQuery() {
  const i = location.hash.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : location.hash.slice(i + 1));
}

/** A day picked in the toolbar as the instant it starts or ends locally. */
function dayBound(day, end) {
  const d = new Date(day + (end ? 'T23:59:59.999' : 'T00:00:00'));
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * The toolbar. `onChange()` runs whenever the filter changes; `apiParams()`
 * is the filter as GET /leads, /leads/count and /leads/export take it
 * (without sort), `sort()`/`order()` the order.
 */
export async function leadFilters({ statuses, users, onChange }) {
  const countries = await get('/geo/countries');
  const c = {
    q: el('input', { type: 'search', placeholder: 'Search company, contact, email…', id: 'lead-search', 'aria-label': 'Search leads' }),
    status: el('select', { id: 'filter-status', 'aria-label': 'Status filter' }, el('option', { value: '', text: 'Any status' }), statuses.map((s) => el('option', { value: s.id, text: s.name }))),
    owner: el('select', { id: 'filter-owner', 'aria-label': 'Owner filter' }, el('option', { value: '', text: 'Any owner' }), users.map((u) => el('option', { value: u.id, text: u.display_name || u.username }))),
    country: el('select', { id: 'filter-country', 'aria-label': 'Country filter' }, el('option', { value: '', text: 'Any country' }), countries.map((x) => el('option', { value: x.code, text: x.name }))),
    state: el('select', { id: 'filter-state', 'aria-label': 'State filter', disabled: true }, el('option', { value: '', text: 'Any state' })),
    industry: el('input', { id: 'filter-industry', 'aria-label': 'Industry filter', placeholder: 'Industry', class: 'narrow' }),
    tag: el('input', { id: 'filter-tag', 'aria-label': 'Tag filter', placeholder: 'Tag', class: 'narrow' }),
    created_from: el('input', { type: 'date', id: 'filter-created-from', 'aria-label': 'Created from (day)' }),
    created_to: el('input', { type: 'date', id: 'filter-created-to', 'aria-label': 'Created until (day)' }),
    follow_up_due: el('select', { id: 'filter-follow-up', 'aria-label': 'Follow-up due filter' },
      el('option', { value: '', text: 'Any follow-up' }), el('option', { value: 'today', text: 'Follow-up due today' }),
      el('option', { value: 'overdue', text: 'Follow-up overdue' }), el('option', { value: 'week', text: 'Follow-up due this week' })),
    score_min: el('input', { type: 'number', min: 0, max: 100, step: 1, placeholder: 'Min. score', id: 'lead-min-score', 'aria-label': 'Minimum AI score', class: 'narrow' }),
    sort: el('select', { id: 'filter-sort', 'aria-label': 'Sort' }, ['created', 'updated', 'company', 'score'].map((k) => el('option', { value: k, text: 'Sort: ' + k }))),
    order: el('select', { id: 'filter-order', 'aria-label': 'Order' }, el('option', { value: 'desc', text: 'Descending' }), el('option', { value: 'asc', text: 'Ascending' })),
  };

  const loadStates = async (keep) => {
    clear(c.state).append(el('option', { value: '', text: 'Any state' }));
    c.state.disabled = !c.country.value;
    if (!c.country.value) return;
    const list = await get('/geo/countries/' + encodeURIComponent(c.country.value) + '/subdivisions');
    for (const s of list) c.state.append(el('option', { value: s.code, text: s.name }));
    c.state.disabled = !list.length;
    c.state.value = keep && list.some((s) => s.code === keep) ? keep : '';
  };

  // The address's filter, read once when the page opens.
  const start = hashQuery();
  for (const k of Object.keys(c)) if (k !== 'state' && start.get(k) !== null) c[k].value = start.get(k);
  if (!c.sort.value) c.sort.value = 'created';
  if (!c.order.value) c.order.value = 'desc';
  await loadStates(start.get('state'));

  /** Every filter set, as the address and the API name them. */
  const state = () => {
    const p = new URLSearchParams();
    for (const [k, input] of Object.entries(c)) {
      const v = input.value.trim();
      if (!v) continue;
      if (k === 'sort' && v === 'created') continue;
      if (k === 'order' && v === 'desc') continue;
      p.set(k, v);
    }
    return p;
  };
  const remember = () => {
    const p = state();
    const hash = '#/leads' + ([...p.keys()].length ? '?' + p : '');
    // Replaced, not pushed: no hashchange, so the page is not rebuilt.
    if (location.hash !== hash) history.replaceState(null, '', hash);
  };
  const changed = () => {
    remember();
    onChange();
  };

  const apiParams = () => {
    const p = new URLSearchParams();
    for (const [k, v] of state()) {
      if (k === 'sort' || k === 'order') continue;
      if (k === 'created_from' || k === 'created_to') {
        const at = dayBound(v, k === 'created_to');
        if (at) p.set(k, at);
      } else if (k === 'score_min') p.set(k, String(Math.max(0, Math.min(100, parseInt(v, 10) || 0))));
      else p.set(k, v);
    }
    return p;
  };

  const reset = el('button', { type: 'button', id: 'filter-reset', class: 'link', text: 'Clear filters', onclick: () => {
    for (const [k, input] of Object.entries(c)) input.value = k === 'sort' ? 'created' : k === 'order' ? 'desc' : '';
    loadStates('').then(changed);
  } });
  const copy = el('button', { type: 'button', id: 'filter-link', class: 'link', text: 'Copy link to this view', onclick: async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      copy.textContent = 'Link copied';
    } catch (_) {
      copy.textContent = 'Copy the address bar';
    }
  } });
  const form = el('form', { class: 'toolbar filters', role: 'search', id: 'lead-filters' },
    c.q, c.status, users.length ? c.owner : null, c.country, c.state, c.industry, c.tag,
    el('label', { class: 'inline' }, el('span', { class: 'muted', text: 'Created from' }), c.created_from),
    el('label', { class: 'inline' }, el('span', { class: 'muted', text: 'to' }), c.created_to),
    c.follow_up_due, c.score_min, c.sort, c.order,
    el('button', { type: 'submit', text: 'Apply' }), reset, copy);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    changed();
  });
  c.country.addEventListener('change', () => loadStates('').then(changed));
  for (const k of ['status', 'owner', 'state', 'created_from', 'created_to', 'follow_up_due', 'sort', 'order']) c[k].addEventListener('change', changed);

  return {
    node: form,
    apiParams,
    sort: () => c.sort.value,
    order: () => c.order.value,
    /** Sorts by `key`; a second call for the same key flips the order. */
    sortBy(key) {
      c.order.value = c.sort.value === key && c.order.value === 'desc' ? 'asc' : 'desc';
      c.sort.value = key;
      changed();
    },
  };
}
