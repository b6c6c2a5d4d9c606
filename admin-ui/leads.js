// Leads: the table (filters, sort, search, cursor paging, inline status,
// bulk actions), a lead's detail (contacts, notes, follow-ups, calls,
// timeline) and the trash (restore, delete forever, empty, retention).
import { get, getTagged, post, patch, put, del } from './api.js';
import { el, clear, toast, attempt, field, fmtDate } from './ui.js';
import { can, canAny, session } from './session.js';
import { leadAiSection } from './ai.js';
import { leadForm } from './lead-form.js';
import { leadFilters } from './lead-filters.js';
import { contactsSection } from './contacts.js';
import { CALL_OUTCOMES } from './call-queue.js';
import { pager } from './pager.js';

let statusCache = null;
async function statuses() {
  if (!statusCache) statusCache = await get('/pipeline/statuses');
  return statusCache;
}

/** The people a lead can belong to, when the user may see the users. */
async function assignable() {
  if (!can('users.read')) return [];
  return (await get('/users?limit=200')).items;
}

function statusSelect(list, value, withAny) {
  const s = el('select', {});
  if (withAny) s.append(el('option', { value: '', text: 'Any status' }));
  for (const st of list) s.append(el('option', { value: st.id, text: st.name, selected: st.id === value }));
  if (!withAny) s.value = value;
  return s;
}

export async function leadsPage(root) {
  const list = await statuses();
  const users = await assignable();
  const userName = (id) => { const u = users.find((x) => x.id === id); return u ? u.display_name || u.username : ''; };

  root.append(el('h1', { text: 'Leads' }));
  const filters = await leadFilters({ statuses: list, users, onChange: () => reload() });
  root.append(filters.node);

  if (can('leads.write')) {
    const box = el('details', { id: 'new-lead-box' }, el('summary', { text: 'New lead' }));
    const fresh = async () => {
      const form = await leadForm({ statuses: list, users, onSaved: async () => {
        await fresh();
        box.querySelector('#new-lead-company').focus();
        await reload();
      } });
      const old = box.querySelector('form');
      if (old) old.replaceWith(form);
      else box.append(form);
    };
    await fresh();
    root.append(box);
  }

  const bulk = el('div', { class: 'toolbar bulk' });
  const tbody = el('tbody');
  const selectAll = el('input', { type: 'checkbox', 'aria-label': 'Select all' });
  const table = el('table', { class: 'table', id: 'leads-table' },
    el('thead', {}, el('tr', {}, el('th', {}, selectAll), el('th', { text: 'Company' }), el('th', { text: 'Status' }), el('th', { text: 'Owner' }), el('th', { text: 'Country' }), el('th', { text: 'Next follow-up' }), el('th', { text: 'Created' }), el('th', {}, el('button', { type: 'button', class: 'link', id: 'sort-by-score', title: 'Sort by AI score', text: 'Score', onclick: () => filters.sortBy('score') })))),
    tbody);
  const more = el('button', { type: 'button', text: 'Load more', hidden: true });
  const count = el('p', { class: 'muted', id: 'leads-count', 'aria-live': 'polite' });
  root.append(bulk, el('div', { class: 'table-wrap' }, table), more, count);

  let cursor = null;
  const params = () => filters.apiParams();
  const selected = () => [...tbody.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value);

  async function load(append) {
    const p = params();
    p.set('sort', filters.sort());
    p.set('order', filters.order());
    p.set('limit', '25');
    if (append && cursor) p.set('after', cursor);
    let page = await get('/leads?' + p);
    let items = page.items;
    // A search page may end short while matches lie further on: read on a
    // few pages rather than show a short or empty one.
    for (let extra = 0; items.length < 25 && page.next_cursor && extra < 4; extra++) {
      p.set('after', page.next_cursor);
      page = await get('/leads?' + p);
      items = items.concat(page.items);
    }
    if (!append) clear(tbody);
    for (const lead of items) tbody.append(row(lead));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    if (!append) {
      const c = await get('/leads/count?' + params());
      count.textContent = c.count + (c.count === 1 ? ' lead' : ' leads');
    }
  }
  const reload = () => attempt(() => load(false));

  function row(lead) {
    const sel = statusSelect(list, lead.status, false);
    sel.setAttribute('aria-label', 'Status of ' + lead.company_name);
    sel.disabled = !can('leads.write');
    sel.addEventListener('change', () => attempt(async () => {
      await patch('/leads/' + lead.id, { status: sel.value });
      toast('Status changed');
    }));
    return el('tr', {},
      el('td', {}, el('input', { type: 'checkbox', value: lead.id, 'data-name': lead.company_name, 'aria-label': 'Select ' + lead.company_name })),
      el('td', {}, el('a', { href: '#/leads/' + lead.id, text: lead.company_name })),
      el('td', {}, sel),
      el('td', { text: userName(lead.owner) }),
      el('td', { text: [lead.country, lead.state].filter(Boolean).join(' · ') }),
      el('td', { text: fmtDate(lead.next_follow_up_at) }),
      el('td', { text: fmtDate(lead.created_at) }),
      el('td', {}, scoreBadge(lead.score)));
  }

  selectAll.addEventListener('change', () => {
    for (const c of tbody.querySelectorAll('input[type=checkbox]')) c.checked = selectAll.checked;
  });
  more.addEventListener('click', () => attempt(() => load(true)));

  // One request for the whole selection; the server answers per lead.
  const bulkRun = async (label, body) => {
    const ids = selected();
    if (!ids.length) return toast('Select some leads first');
    const r = await attempt(() => post('/leads/bulk', { ids, ...body }));
    if (!r) return;
    const changed = r.updated.length + r.unchanged.length;
    toast(label + ': ' + changed + ' of ' + ids.length, r.failed.length ? 'error' : 'info');
    showFailures(r.failed);
    await reload();
    selectAll.checked = false;
  };
  const failures = el('ul', { class: 'list error', id: 'bulk-failures', 'aria-live': 'polite' });
  const showFailures = (failed) => {
    clear(failures);
    for (const f of failed.slice(0, 20)) {
      const name = (tbody.querySelector('input[value="' + CSS.escape(f.id) + '"]') || {}).dataset?.name || f.id;
      failures.append(el('li', { text: name + ': ' + f.error.message }));
    }
    if (failed.length > 20) failures.append(el('li', { text: '… and ' + (failed.length - 20) + ' more' }));
  };
  if (can('leads.write')) {
    const bs = statusSelect(list, list[0].id, false);
    bs.setAttribute('aria-label', 'Bulk status');
    bs.id = 'bulk-status';
    bulk.append(bs, el('button', { type: 'button', id: 'bulk-set-status', text: 'Set status', onclick: () => bulkRun('Status set', { action: 'status', status: bs.value }) }));
  }
  if (can('leads.assign') && users.length) {
    const bo = el('select', { 'aria-label': 'Bulk owner', id: 'bulk-owner' }, users.filter((u) => u.active !== false).map((u) => el('option', { value: u.id, text: u.username })));
    bulk.append(bo, el('button', { type: 'button', id: 'bulk-assign', text: 'Assign', onclick: () => bulkRun('Assigned', { action: 'assign', owner: bo.value }) }));
  }
  if (can('leads.delete')) {
    bulk.append(el('button', { type: 'button', class: 'danger', id: 'bulk-delete', text: 'Delete', onclick: () => {
      const n = selected().length;
      if (n && confirm('Move the ' + n + ' selected leads to the trash?')) bulkRun('Deleted', { action: 'delete' });
      else if (!n) toast('Select some leads first');
    } }));
  }
  if (can('leads.export')) {
    bulk.append(el('button', { type: 'button', id: 'bulk-export', text: 'Export CSV', title: 'The selected leads, or every lead the filter finds when none is selected', onclick: () => {
      const ids = selected();
      location.href = '/api/v1/leads/export?' + (ids.length ? new URLSearchParams({ ids: ids.join(',') }) : params());
    } }));
  }
  root.insertBefore(failures, bulk.nextSibling);
  await load(false);
}

/** A 0–100 score as a small coloured meter with the number as its text. */
export function scoreBadge(score) {
  const n = Number(score) || 0;
  const band = n >= 70 ? 'high' : n >= 40 ? 'mid' : 'low';
  return el('span', { class: 'score score-' + band, title: 'AI score ' + n + ' of 100', text: String(n) });
}

export async function leadPage(root, id) {
  const [tagged, list, users] = await Promise.all([getTagged('/leads/' + id), statuses(), assignable()]);
  const detail = tagged.body;
  const lead = detail.lead;
  // Saved or stale: the page is drawn again from the stored lead.
  const redraw = () => attempt(async () => {
    const fresh = el('div', { class: 'view' });
    root.replaceWith(fresh);
    await leadPage(fresh, id);
  });
  const userName = (uid) => { const u = users.find((x) => x.id === uid); return u ? u.display_name || u.username : uid; };
  root.append(el('p', {}, el('a', { href: '#/leads', text: '← Leads' })));
  root.append(el('h1', { text: lead.company_name, id: 'lead-title' }));
  const facts = el('dl', { class: 'facts', id: 'lead-facts' });
  const website = lead.website ? el('a', { href: /^https?:\/\//i.test(lead.website) ? lead.website : 'https://' + lead.website, target: '_blank', rel: 'noopener noreferrer', text: lead.website }) : null;
  for (const [k, v] of [['Status', (list.find((s) => s.id === lead.status) || {}).name || lead.status], ['Website', website], ['Industry', lead.industry], ['Country', lead.country], ['State', lead.state], ['Time zone', lead.timezone], ['Owner', lead.owner ? userName(lead.owner) : ''], ['Source', lead.source], ['Tags', lead.tags.join(', ')], ['Next follow-up', fmtDate(lead.next_follow_up_at)], ['Created', fmtDate(lead.created_at)]]) {
    if (v) facts.append(el('dt', { text: k }), el('dd', {}, v));
  }
  root.append(facts);
  // A follow-up or call logged here moves the lead's dates and so its
  // version; the edit form takes the new one when nothing it shows changed.
  let editForm = null;
  const syncVersion = async () => {
    if (!editForm) return;
    const fresh = await getTagged('/leads/' + id);
    editForm.adoptVersion(fresh.body.lead, fresh.etag);
  };
  if (can('leads.write')) {
    const box = el('details', { id: 'edit-lead-box' }, el('summary', { text: 'Edit lead' }));
    editForm = await leadForm({ lead, etag: tagged.etag, statuses: list, users, onSaved: redraw, onStale: redraw });
    box.append(editForm);
    root.append(box);
  }
  if (can('chat.use')) root.append(el('p', {}, el('a', { href: '#/chat/lead:' + lead.id, text: 'Open the discussion room' })));

  root.append(el('h2', { text: 'Contacts' }));
  const contactsBox = el('section', { id: 'contacts' });
  root.append(contactsBox);
  await contactsSection(contactsBox, id, detail.contacts);

  const notesBox = el('section', { id: 'notes' });
  root.append(el('h2', { text: 'Notes' }), notesBox);
  const fuBox = el('section', { id: 'follow-ups' });
  root.append(el('h2', { text: 'Follow-ups' }), fuBox);
  const callsBox = el('section', { id: 'calls' });
  root.append(el('h2', { text: 'Calls' }), callsBox);
  const aiBox = el('div', { class: 'ai-panels' });
  root.append(aiBox);
  const tlBox = el('ol', { class: 'timeline', id: 'timeline' });
  const tlMore = el('button', { type: 'button', class: 'link', id: 'timeline-more', text: 'Older entries', hidden: true });
  let tlAfter = null;
  tlMore.addEventListener('click', () => attempt(() => loadTimeline(true)));
  root.append(el('h2', { text: 'Timeline' }), tlBox, tlMore);

  async function refresh() {
    await loadNotes();
    const fu = await get('/leads/' + id + '/follow-ups');
    clear(fuBox);
    const grid = el('div', { class: 'tiers' });
    for (const t of fu.tiers) grid.append(tierCard(t));
    fuBox.append(grid);
    const ul = el('ul', { class: 'list', id: 'calls-list' });
    const calls = pager('/leads/' + id + '/calls', (items, first) => {
      for (const c of items) ul.append(el('li', {}, el('strong', { text: (CALL_OUTCOMES.find(([v]) => v === c.outcome) || [c.outcome, c.outcome])[1] }), ' ' + fmtDate(c.at || c.created_at) + ' ' + (c.user_name || ''), c.notes ? ' — ' + c.notes : ''));
      if (first && !items.length) ul.append(el('li', { class: 'muted', text: 'No calls logged.' }));
    }, { label: 'Older calls', id: 'calls-more' });
    await calls.first();
    clear(callsBox);
    callsBox.append(ul, calls.more);
    if (can('calls.log')) callsBox.append(callForm());
    await loadTimeline(false);
  }

  /** The timeline's newest page, or with `older` the page after the last
   * one shown ("Older entries" pages on by `after=next_cursor`). */
  async function loadTimeline(older) {
    const q = new URLSearchParams({ limit: '50' });
    if (older && tlAfter) q.set('after', tlAfter);
    const tl = await get('/leads/' + id + '/timeline?' + q);
    if (!older) clear(tlBox);
    // Each entry is a sentence with names; a creation lists what was set
    // (a single change already says from what to what).
    for (const item of tl.items) {
      const set = item.kind === 'change' && item.details && item.details.field === '*' ? item.changes || [] : [];
      tlBox.append(el('li', {}, el('span', { class: 'muted', text: fmtDate(item.at) }), ' ', el('span', { class: 'timeline-text', text: item.summary }),
        set.length ? el('ul', { class: 'changes' }, set.map((c) => el('li', {}, el('span', { class: 'muted', text: c.label + ': ' }), c.after ?? '—'))) : null));
    }
    tlAfter = tl.next_cursor || null;
    tlMore.hidden = !tlAfter;
  }

  function tierCard(t) {
    const outcome = el('select', { 'aria-label': 'Outcome of follow-up ' + t.tier, id: 'fu-outcome-' + t.tier }, ['pending', 'done', 'no_answer', 'replied', 'skipped'].map((o) => el('option', { value: o, text: o, selected: o === t.outcome })));
    const when = el('input', { type: 'datetime-local', 'aria-label': 'Scheduled for follow-up ' + t.tier });
    if (t.scheduled_at) when.value = new Date(t.scheduled_at).toISOString().slice(0, 16);
    const notes = el('textarea', { rows: 2, 'aria-label': 'Notes for follow-up ' + t.tier, id: 'fu-notes-' + t.tier });
    notes.value = t.notes;
    const form = el('form', { class: 'card tier', id: 'fu-' + t.tier },
      el('h3', { text: 'Follow-up ' + t.tier + ' — ' + t.outcome }),
      t.done_at ? el('p', { class: 'muted', text: 'Done ' + fmtDate(t.done_at) }) : null,
      field('Outcome', outcome), field('Scheduled', when), field('Notes', notes),
      canAny('leads.write', 'calls.log') ? el('button', { type: 'submit', text: 'Save follow-up ' + t.tier }) : null);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      attempt(async () => {
        const body = { outcome: outcome.value, notes: notes.value };
        if (when.value) body.scheduled_at = new Date(when.value).toISOString();
        await put('/leads/' + id + '/follow-ups/' + t.tier, body);
        toast('Follow-up ' + t.tier + ' saved');
        await syncVersion();
        await refresh();
      });
    });
    return form;
  }

  // Notes: newest first, a page at a time; writing one takes what logging
  // a follow-up takes, changing one is for its author or leads.delete.
  const mayWrite = canAny('leads.write', 'calls.log');
  const mayChange = (n) => mayWrite && (n.author.id === session.user.id || can('leads.delete'));

  async function loadNotes() {
    clear(notesBox);
    const ul = el('ul', { class: 'list notes', id: 'notes-list' });
    notesBox.append(ul);
    const more = el('button', { type: 'button', class: 'link', id: 'notes-more', text: 'Older notes', hidden: true });
    let cursor = null;
    async function page() {
      const p = await get('/leads/' + id + '/notes?limit=20' + (cursor ? '&after=' + encodeURIComponent(cursor) : ''));
      for (const n of p.items) ul.append(noteItem(n));
      if (!ul.children.length) ul.append(el('li', { class: 'muted', text: 'No notes.' }));
      cursor = p.next_cursor || null;
      more.hidden = !cursor;
    }
    more.addEventListener('click', () => attempt(page));
    await page();
    notesBox.append(more);
    if (mayWrite) notesBox.append(noteForm());
  }

  function noteItem(n) {
    const when = fmtDate(n.created_at) + (n.edited_at ? ' · edited ' + fmtDate(n.edited_at) : '');
    const li = el('li', { class: 'note', 'data-note': n.id },
      el('strong', { text: n.author.name }), ' ', el('span', { class: 'muted', text: when }),
      el('p', { class: 'note-text', text: n.text }));
    if (mayChange(n)) {
      li.append(el('div', { class: 'toolbar' },
        el('button', { type: 'button', class: 'link', text: 'Edit', 'aria-label': 'Edit note', onclick: () => li.replaceWith(noteEditor(n, li)) }),
        el('button', { type: 'button', class: 'link', text: 'Delete', 'aria-label': 'Delete note', onclick: () => attempt(async () => {
          if (!window.confirm('Delete this note?')) return;
          await del('/leads/' + id + '/notes/' + n.id);
          toast('Note deleted');
          await refresh();
        }) })));
    }
    return li;
  }

  function noteEditor(n, shown) {
    const text = el('textarea', { rows: 3, maxlength: 10000, 'aria-label': 'Note text' });
    text.value = n.text;
    const form = el('form', { class: 'note' }, text, el('div', { class: 'toolbar' },
      el('button', { type: 'submit', text: 'Save note' }),
      el('button', { type: 'button', class: 'link', text: 'Cancel', onclick: () => form.replaceWith(shown) })));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      attempt(async () => {
        await patch('/leads/' + id + '/notes/' + n.id, { text: text.value });
        toast('Note saved');
        await refresh();
      });
    });
    return el('li', {}, form);
  }

  function noteForm() {
    const text = el('textarea', { rows: 2, maxlength: 10000, id: 'note-text', 'aria-label': 'New note', placeholder: 'Add a note' });
    const form = el('form', { id: 'note-form' }, text, el('div', { class: 'toolbar' }, el('button', { type: 'submit', text: 'Add note' })));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      attempt(async () => {
        await post('/leads/' + id + '/notes', { text: text.value });
        toast('Note added');
        await refresh();
      });
    });
    return form;
  }

  function callForm() {
    const outcome = el('select', { 'aria-label': 'Call outcome' }, CALL_OUTCOMES.map(([value, label]) => el('option', { value, text: label })));
    const notes = el('input', { 'aria-label': 'Call notes', placeholder: 'Notes' });
    const form = el('form', { class: 'toolbar', id: 'call-form' }, outcome, notes, el('button', { type: 'submit', text: 'Log call' }));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      attempt(async () => {
        await post('/leads/' + id + '/calls', { outcome: outcome.value, notes: notes.value || null });
        toast('Call logged');
        await syncVersion();
        await refresh();
      });
    });
    return form;
  }
  await Promise.all([refresh(), leadAiSection(aiBox, lead)]);
}

/** The trash: leads moved there, to restore or delete for good, and how
 *  long the trash keeps them. */
export async function trashPage(root) {
  root.append(el('h1', { text: 'Trash' }));
  if (can('settings.manage')) root.append(await retentionForm());
  const tools = el('div', { class: 'toolbar' });
  const tbody = el('tbody');
  const table = el('table', { class: 'table', id: 'trash-table' },
    el('thead', {}, el('tr', {}, el('th', { text: 'Company' }), el('th', { text: 'Deleted' }), el('th', {}))), tbody);
  const more = el('button', { type: 'button', text: 'Load more', hidden: true });
  root.append(tools, el('div', { class: 'table-wrap' }, table), more);
  let cursor = null;

  async function load(append) {
    const p = new URLSearchParams({ deleted: 'true', sort: 'updated', limit: '50' });
    if (append && cursor) p.set('after', cursor);
    const page = await get('/leads?' + p);
    if (!append) clear(tbody);
    for (const lead of page.items) tbody.append(row(lead));
    if (!tbody.children.length) tbody.append(el('tr', {}, el('td', { colspan: 3, class: 'muted', text: 'The trash is empty.' })));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }
  const reload = () => attempt(() => load(false));

  function row(lead) {
    const actions = el('td', { class: 'toolbar' });
    if (can('leads.delete')) {
      actions.append(el('button', { type: 'button', text: 'Restore', 'aria-label': 'Restore ' + lead.company_name, onclick: () => attempt(async () => {
        await post('/leads/' + lead.id + '/restore', {});
        toast('Restored: ' + lead.company_name);
        await load(false);
      }) }));
    }
    if (can('leads.purge')) {
      actions.append(el('button', { type: 'button', class: 'danger', text: 'Delete forever', 'aria-label': 'Delete ' + lead.company_name + ' forever', onclick: () => attempt(async () => {
        if (!window.confirm('Delete "' + lead.company_name + '" forever, with its contacts, notes, follow-ups, calls and history? This cannot be undone.')) return;
        await del('/leads/' + lead.id + '/purge');
        toast('Deleted forever: ' + lead.company_name);
        await load(false);
      }) }));
    }
    return el('tr', { 'data-lead': lead.id },
      el('td', { text: lead.company_name }),
      el('td', { text: fmtDate(lead.deleted_at || lead.updated_at) }),
      actions);
  }

  if (can('leads.purge')) {
    tools.append(el('button', { type: 'button', class: 'danger', id: 'empty-trash', text: 'Empty trash', onclick: () => attempt(async () => {
      if (!window.confirm('Delete every lead in the trash forever? This cannot be undone.')) return;
      const r = await del('/leads/trash');
      toast(r.purged + ' leads deleted forever' + (r.more ? '; more are left, empty again' : ''));
      await load(false);
    }) }));
  }
  more.addEventListener('click', () => attempt(() => load(true)));
  await load(false);
}

async function retentionForm() {
  const current = await get('/settings/trash-retention');
  const days = el('input', { type: 'number', min: 1, max: 3650, step: 1, id: 'trash-retention-days', class: 'narrow', placeholder: 'never' });
  if (current.trash_retention_days) days.value = String(current.trash_retention_days);
  const form = el('form', { class: 'toolbar', id: 'trash-retention' },
    field('Delete trashed leads for good after (days; empty: never)', days),
    el('button', { type: 'submit', text: 'Save retention' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = days.value.trim();
    const body = { trash_retention_days: value ? parseInt(value, 10) : null };
    if (value && !window.confirm('Leads in the trash longer than ' + value + ' days will be deleted for good, from now on every hour. Continue?')) return;
    attempt(async () => {
      await put('/settings/trash-retention', body);
      toast(value ? 'Trash kept ' + value + ' days' : 'Trash kept until emptied');
    });
  });
  return form;
}
