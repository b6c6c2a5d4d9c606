// Leads: the table (filters, sort, search, cursor paging, inline status,
// bulk actions), a lead's detail (contacts, notes, follow-ups, calls,
// timeline) and the trash (restore, delete forever, empty, retention).
import { get, post, patch, put, del } from './api.js';
import { el, clear, toast, attempt, field, fmtDate } from './ui.js';
import { can, canAny, session } from './session.js';
import { leadAiSection } from './ai.js';

let statusCache = null;
async function statuses() {
  if (!statusCache) statusCache = await get('/pipeline/statuses');
  return statusCache;
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
  let users = [];
  if (can('users.read')) users = (await get('/users?limit=200')).items;
  const userName = (id) => (users.find((u) => u.id === id) || {}).username || '';

  root.append(el('h1', { text: 'Leads' }));
  const q = el('input', { type: 'search', placeholder: 'Search company, contact, email…', id: 'lead-search', 'aria-label': 'Search leads' });
  const status = statusSelect(list, '', true);
  status.setAttribute('aria-label', 'Status filter');
  const owner = el('select', { 'aria-label': 'Owner filter' }, el('option', { value: '', text: 'Any owner' }), users.map((u) => el('option', { value: u.id, text: u.username })));
  const sort = el('select', { 'aria-label': 'Sort' }, ['created', 'updated', 'company', 'score'].map((k) => el('option', { value: k, text: 'Sort: ' + k })));
  const order = el('select', { 'aria-label': 'Order' }, el('option', { value: 'desc', text: 'Descending' }), el('option', { value: 'asc', text: 'Ascending' }));
  const minScore = el('input', { type: 'number', min: 0, max: 100, step: 1, placeholder: 'Min. score', id: 'lead-min-score', 'aria-label': 'Minimum AI score', class: 'narrow' });
  const filters = el('form', { class: 'toolbar', role: 'search' }, q, status, users.length ? owner : null, minScore, sort, order, el('button', { type: 'submit', text: 'Apply' }));
  root.append(filters);

  if (can('leads.write')) root.append(newLeadForm(() => reload()));

  const bulk = el('div', { class: 'toolbar bulk' });
  const tbody = el('tbody');
  const selectAll = el('input', { type: 'checkbox', 'aria-label': 'Select all' });
  const table = el('table', { class: 'table', id: 'leads-table' },
    el('thead', {}, el('tr', {}, el('th', {}, selectAll), el('th', { text: 'Company' }), el('th', { text: 'Status' }), el('th', { text: 'Owner' }), el('th', { text: 'Next follow-up' }), el('th', { text: 'Created' }), el('th', {}, el('button', { type: 'button', class: 'link', id: 'sort-by-score', title: 'Sort by AI score', text: 'Score', onclick: () => {
      // A second click on the header flips the order.
      order.value = sort.value === 'score' && order.value === 'desc' ? 'asc' : 'desc';
      sort.value = 'score';
      reload();
    } })))),
    tbody);
  const more = el('button', { type: 'button', text: 'Load more', hidden: true });
  const count = el('p', { class: 'muted' });
  root.append(bulk, el('div', { class: 'table-wrap' }, table), more, count);

  let cursor = null;
  const params = () => {
    const p = new URLSearchParams();
    if (q.value.trim()) p.set('q', q.value.trim());
    if (status.value) p.set('status', status.value);
    if (owner.value) p.set('owner', owner.value);
    if (minScore.value !== '') p.set('score_min', String(Math.max(0, Math.min(100, parseInt(minScore.value, 10) || 0))));
    return p;
  };
  const selected = () => [...tbody.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value);

  async function load(append) {
    const p = params();
    p.set('sort', sort.value);
    p.set('order', order.value);
    p.set('limit', '25');
    if (append && cursor) p.set('after', cursor);
    const page = await get('/leads?' + p);
    if (!append) clear(tbody);
    for (const lead of page.items) tbody.append(row(lead));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    if (!append) {
      const c = await get('/leads/count?' + params());
      count.textContent = c.count + ' leads';
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
      el('td', { text: fmtDate(lead.next_follow_up_at) }),
      el('td', { text: fmtDate(lead.created_at) }),
      el('td', {}, scoreBadge(lead.score)));
  }

  selectAll.addEventListener('change', () => {
    for (const c of tbody.querySelectorAll('input[type=checkbox]')) c.checked = selectAll.checked;
  });
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    reload();
  });
  for (const s of [status, owner, sort, order]) s.addEventListener('change', reload);
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

/** The stored leads a new one may duplicate, each a link, with why. */
function candidateList(candidates) {
  return el('ul', { class: 'duplicate-candidates' }, ...candidates.map((c) => el('li', {},
    el('a', { href: '#/leads/' + c.id, text: c.company_name }),
    el('span', { class: 'muted', text: ' ' + [c.domain, c.status].filter(Boolean).join(' · ') + ' — ' + c.signals.join(', ') }))));
}

function newLeadForm(done) {
  const company = el('input', { required: true, id: 'new-lead-company', autocomplete: 'off' });
  const website = el('input', { id: 'new-lead-website', placeholder: 'acme.com', autocomplete: 'off' });
  const contact = el('input', { id: 'new-lead-contact' });
  const email = el('input', { type: 'email', id: 'new-lead-email' });
  // Shown while typing: what the create would refuse as a duplicate.
  const warning = el('div', { id: 'new-lead-duplicates', class: 'notice', role: 'status', 'aria-live': 'polite', hidden: true });
  const anyway = el('button', { type: 'button', id: 'new-lead-anyway', text: 'Create anyway', hidden: true });
  const showCandidates = (candidates) => {
    clear(warning);
    warning.hidden = candidates.length === 0;
    if (candidates.length) warning.append(el('strong', { text: 'This lead may already exist:' }), candidateList(candidates));
  };
  let asked = 0;
  let timer = null;
  const check = () => {
    clearTimeout(timer);
    anyway.hidden = true;
    timer = setTimeout(async () => {
      const q = new URLSearchParams();
      if (company.value.trim()) q.set('company_name', company.value.trim());
      if (website.value.trim()) q.set('website', website.value.trim());
      if (email.value.trim()) q.set('email', email.value.trim());
      if (![...q.keys()].length) return showCandidates([]);
      const mine = ++asked;
      try {
        const found = await get('/leads/duplicates?' + q);
        if (mine === asked) showCandidates(found.items);
      } catch (_) {
        /* a hint only: the create still checks */
      }
    }, 300);
  };
  [company, website, email].forEach((i) => i.addEventListener('input', check));
  const create = (allowDuplicate) => attempt(async () => {
    const body = { company_name: company.value };
    if (website.value.trim()) body.website = website.value.trim();
    if (contact.value) body.contacts = [{ name: contact.value, email: email.value || null }];
    if (allowDuplicate) body.allow_duplicate = true;
    try {
      const created = await post('/leads', body);
      toast('Lead created: ' + created.lead.company_name);
      form.reset();
      showCandidates([]);
      anyway.hidden = true;
      done();
    } catch (e) {
      if (e.code !== 'duplicate') throw e;
      showCandidates(e.candidates);
      anyway.hidden = false;
      anyway.focus();
    }
  });
  anyway.addEventListener('click', () => create(true));
  const form = el('form', { class: 'card inline-form', id: 'new-lead' },
    field('Company', company), field('Website', website), field('Contact name', contact), field('Contact email', email),
    el('button', { type: 'submit', class: 'primary', text: 'Add lead' }), anyway, warning);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    create(false);
  });
  return el('details', { id: 'new-lead-box' }, el('summary', { text: 'New lead' }), form);
}

export async function leadPage(root, id) {
  const [detail, list] = await Promise.all([get('/leads/' + id), statuses()]);
  const lead = detail.lead;
  root.append(el('p', {}, el('a', { href: '#/leads', text: '← Leads' })));
  root.append(el('h1', { text: lead.company_name, id: 'lead-title' }));
  const facts = el('dl', { class: 'facts' });
  for (const [k, v] of [['Status', (list.find((s) => s.id === lead.status) || {}).name || lead.status], ['Website', lead.website], ['Industry', lead.industry], ['Country', lead.country], ['Source', lead.source], ['Tags', lead.tags.join(', ')], ['Next follow-up', fmtDate(lead.next_follow_up_at)], ['Created', fmtDate(lead.created_at)]]) {
    if (v) facts.append(el('dt', { text: k }), el('dd', { text: v }));
  }
  root.append(facts);
  if (can('chat.use')) root.append(el('p', {}, el('a', { href: '#/chat/lead:' + lead.id, text: 'Open the discussion room' })));

  root.append(el('h2', { text: 'Contacts' }));
  const cl = el('ul', { class: 'list', id: 'contacts-list' });
  for (const c of detail.contacts) {
    const li = el('li', { 'data-contact': c.id }, el('strong', { text: c.name }), ' ', [c.position, c.email, c.phone].filter(Boolean).join(' · '));
    // GDPR art. 17: the person's data goes everywhere it was copied; the
    // contact stays as a pseudonym.
    if (can('contacts.erase')) {
      li.append(' ', el('button', { type: 'button', class: 'link danger', text: 'Erase personal data', 'aria-label': 'Erase personal data of ' + c.name, onclick: () => attempt(async () => {
        if (!window.confirm('Erase the personal data of ' + c.name + '? Name, position, phone, email and LinkedIn are removed from this lead, its history, notes and exports for good. This cannot be undone.')) return;
        const erased = await post('/leads/' + id + '/contacts/' + c.id + '/erase', {});
        toast('Erased: now ' + erased.name);
        location.reload();
      }) }));
    }
    cl.append(li);
  }
  if (!detail.contacts.length) cl.append(el('li', { class: 'muted', text: 'No contacts.' }));
  root.append(cl);

  const notesBox = el('section', { id: 'notes' });
  root.append(el('h2', { text: 'Notes' }), notesBox);
  const fuBox = el('section', { id: 'follow-ups' });
  root.append(el('h2', { text: 'Follow-ups' }), fuBox);
  const callsBox = el('section');
  root.append(el('h2', { text: 'Calls' }), callsBox);
  const aiBox = el('div', { class: 'ai-panels' });
  root.append(aiBox);
  const tlBox = el('ol', { class: 'timeline', id: 'timeline' });
  root.append(el('h2', { text: 'Timeline' }), tlBox);

  async function refresh() {
    await loadNotes();
    const fu = await get('/leads/' + id + '/follow-ups');
    clear(fuBox);
    const grid = el('div', { class: 'tiers' });
    for (const t of fu.tiers) grid.append(tierCard(t));
    fuBox.append(grid);
    const calls = await get('/leads/' + id + '/calls');
    clear(callsBox);
    const ul = el('ul', { class: 'list' });
    for (const c of calls) ul.append(el('li', {}, el('strong', { text: c.outcome }), ' ' + fmtDate(c.at || c.created_at) + ' ' + (c.user_name || ''), c.notes ? ' — ' + c.notes : ''));
    if (!calls.length) ul.append(el('li', { class: 'muted', text: 'No calls logged.' }));
    callsBox.append(ul);
    if (can('calls.log')) callsBox.append(callForm());
    const tl = await get('/leads/' + id + '/timeline');
    clear(tlBox);
    for (const item of tl) tlBox.append(el('li', {}, el('span', { class: 'muted', text: fmtDate(item.at) + ' · ' + (item.actor || '') }), ' ', item.summary));
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
    const outcome = el('select', { 'aria-label': 'Call outcome' }, ['connected', 'no_answer', 'voicemail', 'busy', 'wrong_number', 'interested', 'not_interested', 'callback'].map((o) => el('option', { value: o, text: o })));
    const notes = el('input', { 'aria-label': 'Call notes', placeholder: 'Notes' });
    const form = el('form', { class: 'toolbar' }, outcome, notes, el('button', { type: 'submit', text: 'Log call' }));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      attempt(async () => {
        await post('/leads/' + id + '/calls', { outcome: outcome.value, notes: notes.value || null });
        toast('Call logged');
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
