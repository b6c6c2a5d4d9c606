// Production tasks: the board (drag between columns, or the status select on
// each card from the keyboard), the list with cursor paging, filters, and the
// new-task form with the suggested assignee shown as a suggestion only.
import { get, post, patch } from './api.js';
import { el, clear, toast, attempt, field, fmtDate } from './ui.js';
import { session, can, canAny } from './session.js';
import { taskPage } from './task-detail.js';

export const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
const SOON_MS = 48 * 3600 * 1000;

/** Shared look-ups for the task pages: statuses, people and client names. */
export const lookups = {
  statuses: null,
  users: null,
  leadNames: new Map(),
  /** Fetches statuses and people once per page visit (`fresh`), else reuses them. */
  async load(fresh = false) {
    if (fresh || !this.statuses) this.statuses = await get('/tasks/statuses');
    if (fresh || !this.users) this.users = can('users.read') ? (await get('/users?limit=200')).items : [];
    return this;
  },
  userName(id) {
    if (!id) return '';
    if (session.user && id === session.user.id) return session.user.username;
    const u = (this.users || []).find((x) => x.id === id);
    return u ? u.username : id.slice(0, 8);
  },
  statusName(key) {
    const s = (this.statuses || []).find((x) => x.key === key);
    return s ? s.name : key;
  },
  /** The client's company name, fetched once; empty when not visible. */
  async leadName(id) {
    if (!id || !canAny('leads.read.all', 'leads.read.own')) return '';
    if (!this.leadNames.has(id)) {
      this.leadNames.set(id, get('/leads/' + encodeURIComponent(id)).then((d) => d.lead.company_name).catch(() => ''));
    }
    return this.leadNames.get(id);
  },
};

/** Whether the signed-in user may edit this task (mirrors the domain rule). */
export function mayEdit(task) {
  if (can('tasks.manage')) return true;
  if (!can('tasks.write')) return false;
  const me = session.user.id;
  return task.assignee === me || task.created_by === me;
}

/** overdue, soon or '' for an open task's due date. */
export function dueState(task, now = Date.now()) {
  if (!task.is_open || !task.due_at) return '';
  const due = new Date(task.due_at).getTime();
  if (due < now) return 'overdue';
  if (due - now <= SOON_MS) return 'soon';
  return '';
}

export function dueLabel(task) {
  const state = dueState(task);
  if (!task.due_at) return null;
  const text = (state === 'overdue' ? 'Overdue · ' : state === 'soon' ? 'Due soon · ' : 'Due ') + fmtDate(task.due_at);
  return el('span', { class: 'due ' + (state ? 'due-' + state : ''), text });
}

/**
 * A client-lead picker: type part of a company name, pick from the list.
 * `input.dataset.leadId` holds the chosen lead's id ('' when none).
 */
export function leadPicker(label, initialId) {
  const listId = 'leads-' + Math.random().toString(36).slice(2);
  const input = el('input', { type: 'search', list: listId, placeholder: 'Client company', 'aria-label': label, autocomplete: 'off' });
  const options = el('datalist', { id: listId });
  input.dataset.leadId = initialId || '';
  const found = new Map();
  if (initialId) lookups.leadName(initialId).then((n) => { input.value = n || initialId; found.set(input.value, initialId); });
  let timer = null;
  input.addEventListener('input', () => {
    input.dataset.leadId = found.get(input.value) || '';
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 2 || found.has(input.value)) return;
    timer = setTimeout(async () => {
      const page = await get('/leads?limit=8&q=' + encodeURIComponent(q)).catch(() => ({ items: [] }));
      clear(options);
      for (const l of page.items) {
        found.set(l.company_name, l.id);
        lookups.leadNames.set(l.id, Promise.resolve(l.company_name));
        options.append(el('option', { value: l.company_name }));
      }
      input.dataset.leadId = found.get(input.value) || '';
    }, 250);
  });
  input.addEventListener('change', () => {
    input.dataset.leadId = found.get(input.value) || '';
    input.dispatchEvent(new CustomEvent('lead-change'));
  });
  return { input, node: el('span', { class: 'lead-picker' }, input, options) };
}

export async function tasksPage(root, args) {
  await lookups.load(true);
  const view = args[0] || 'board';
  if (view !== 'board' && view !== 'list') return taskPage(root, view);

  root.append(el('h1', { text: 'Tasks' }));
  root.append(el('nav', { class: 'tabs', 'aria-label': 'Task views' },
    el('a', { href: '#/tasks/board', id: 'tasks-board-tab', 'aria-current': view === 'board' ? 'page' : null, text: 'Board' }),
    el('a', { href: '#/tasks/list', id: 'tasks-list-tab', 'aria-current': view === 'list' ? 'page' : null, text: 'List' })));

  const filters = filterBar();
  root.append(filters.form);
  if (can('tasks.write')) root.append(newTaskForm(() => refresh()));
  const body = el('section', { id: view === 'board' ? 'task-board-wrap' : 'task-list-wrap' });
  if (view === 'board') {
    root.append(el('p', { class: 'muted hint', id: 'board-hint', text: 'Drag a card to another column, or focus a card and press [ or ] to move it left or right; the status menu on each card works too.' }));
  }
  root.append(body);

  const refresh = () => attempt(() => (view === 'board' ? renderBoard(body, filters.params()) : renderList(body, filters.params())));
  filters.onChange(refresh);
  await refresh();

  // Other people's moves show up without a reload: the hub tells us about
  // tasks we take part in; a quiet poll covers the rest of the board.
  const onEvent = (e) => {
    const moves = ['task.created', 'task.updated', 'task.assigned'];
    if (moves.includes(e.detail.topic) && !document.querySelector('.task-card.dragging')) refresh();
  };
  window.addEventListener('ea:event', onEvent);
  const poll = setInterval(() => {
    if (document.visibilityState === 'visible' && !document.querySelector('.task-card.dragging, .task-card :focus')) refresh();
  }, 30000);
  window.addEventListener('hashchange', () => {
    window.removeEventListener('ea:event', onEvent);
    clearInterval(poll);
  }, { once: true });
}

function filterBar() {
  const assignee = el('select', { 'aria-label': 'Assignee filter', id: 'task-filter-assignee' },
    el('option', { value: '', text: 'Anyone' }), el('option', { value: 'me', text: 'Me' }),
    lookups.users.map((u) => el('option', { value: u.id, text: u.username })));
  const priority = el('select', { 'aria-label': 'Priority filter', id: 'task-filter-priority' },
    el('option', { value: '', text: 'Any priority' }), PRIORITIES.map((p) => el('option', { value: p, text: p })));
  const due = el('select', { 'aria-label': 'Due filter', id: 'task-filter-due' },
    el('option', { value: '', text: 'Any due date' }), el('option', { value: 'overdue', text: 'Overdue' }),
    el('option', { value: 'soon', text: 'Due in 48 hours' }), el('option', { value: 'none', text: 'No due date' }));
  const type = el('input', { 'aria-label': 'Type filter', placeholder: 'Type', id: 'task-filter-type', size: 10 });
  const lead = canAny('leads.read.all', 'leads.read.own') ? leadPicker('Client filter', '') : null;
  const form = el('form', { class: 'toolbar', role: 'search', id: 'task-filters' }, assignee, lead ? lead.node : null, priority, due, type, el('button', { type: 'submit', text: 'Apply' }));
  return {
    form,
    params() {
      const p = new URLSearchParams();
      if (assignee.value) p.set('assignee', assignee.value);
      if (priority.value) p.set('priority', priority.value);
      if (due.value) p.set('due', due.value);
      if (type.value.trim()) p.set('task_type', type.value.trim().toLowerCase());
      if (lead && lead.input.dataset.leadId) p.set('lead', lead.input.dataset.leadId);
      return p;
    },
    onChange(fn) {
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        fn();
      });
      for (const s of [assignee, priority, due]) s.addEventListener('change', fn);
      if (lead) lead.input.addEventListener('lead-change', fn);
    },
  };
}

async function moveTask(task, status) {
  if (status === task.status) return false;
  const updated = await attempt(() => patch('/tasks/' + task.id, { status }));
  if (!updated) return false;
  toast('"' + task.title + '" moved to ' + lookups.statusName(status));
  return true;
}

async function renderBoard(box, params) {
  params.set('limit', '50');
  const columns = await get('/tasks/board?' + params);
  // Client names load together, not one card at a time.
  await Promise.all(columns.flatMap((c) => c.items).map((t) => lookups.leadName(t.lead)));
  const board = el('div', { class: 'board', id: 'task-board' });
  const again = () => attempt(() => renderBoard(box, params));
  for (const col of columns) {
    const list = el('ol', { class: 'cards', 'aria-label': col.status.name });
    const count = el('span', { class: 'count', text: String(col.count) });
    const column = el('section', { class: 'column', 'data-status': col.status.key },
      el('h2', {}, col.status.name, ' ', count), list);
    for (const t of col.items) list.append(await card(t, again));
    if (col.next_cursor) column.append(moreButton(list, col.status.key, col.next_cursor, params, again));
    column.addEventListener('dragover', (e) => {
      if (!e.dataTransfer.types.includes('application/x-ea-task')) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'move';
      column.classList.add('drop-target');
    });
    column.addEventListener('dragleave', (e) => {
      if (!column.contains(e.relatedTarget)) column.classList.remove('drop-target');
    });
    column.addEventListener('drop', async (e) => {
      e.preventDefault();
      column.classList.remove('drop-target');
      const raw = e.dataTransfer.getData('application/x-ea-task');
      if (!raw) return;
      const task = JSON.parse(raw);
      if (await moveTask(task, col.status.key)) await again();
    });
    board.append(column);
  }
  // A re-render (after a move, or someone else's) keeps keyboard focus on
  // the same card.
  const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest('.task-card');
  clear(box).append(board);
  if (focused) {
    const same = board.querySelector('.task-card[data-task="' + CSS.escape(focused.dataset.task) + '"]');
    if (same) same.focus();
  }
}

function moreButton(list, status, cursor, params, again) {
  const btn = el('button', { type: 'button', class: 'link', text: 'Load more' });
  btn.addEventListener('click', () => attempt(async () => {
    const p = new URLSearchParams(params);
    p.set('status', status);
    p.set('after', cursor);
    p.set('limit', '50');
    const page = await get('/tasks?' + p);
    await Promise.all(page.items.map((t) => lookups.leadName(t.lead)));
    for (const t of page.items) list.append(await card(t, again));
    if (page.next_cursor) cursor = page.next_cursor;
    else btn.remove();
  }));
  return btn;
}

async function card(t, again) {
  const editable = mayEdit(t);
  const state = dueState(t);
  const lead = await lookups.leadName(t.lead);
  const move = el('select', { class: 'move', 'aria-label': 'Status of ' + t.title, 'data-task': t.id, disabled: !editable },
    lookups.statuses.map((s) => el('option', { value: s.key, text: s.name, selected: s.key === t.status })));
  move.addEventListener('change', async () => {
    if (await moveTask(t, move.value)) await again();
    else move.value = t.status;
  });
  const li = el('li', {
    class: 'task-card card' + (state ? ' due-' + state : ''),
    tabindex: 0,
    draggable: editable ? 'true' : 'false',
    'data-task': t.id,
    'aria-label': [t.title, lookups.statusName(t.status), t.priority + ' priority', state === 'overdue' ? 'overdue' : state === 'soon' ? 'due soon' : ''].filter(Boolean).join(', '),
    'aria-describedby': 'board-hint',
    'aria-keyshortcuts': '[ ]',
  },
  el('a', { href: '#/tasks/' + t.id, class: 'task-title', text: t.title }),
  el('div', { class: 'task-meta' },
    el('span', { class: 'prio prio-' + t.priority, text: t.priority }),
    el('span', { class: 'muted', text: t.task_type }),
    t.assignee ? el('span', { text: '@' + lookups.userName(t.assignee) }) : el('span', { class: 'muted', text: 'unassigned' }),
    lead ? el('span', { class: 'muted', text: lead }) : null),
  dueLabel(t),
  el('label', { class: 'move-label' }, el('span', { class: 'muted', text: 'Move to ' }), move));
  li.addEventListener('dragstart', (e) => {
    e.dataTransfer.setData('application/x-ea-task', JSON.stringify({ id: t.id, title: t.title, status: t.status }));
    e.dataTransfer.setData('text/plain', t.title);
    e.dataTransfer.effectAllowed = 'move';
    li.classList.add('dragging');
  });
  li.addEventListener('dragend', () => li.classList.remove('dragging'));
  // Keyboard: [ and ] move the focused card to the previous or next column.
  li.addEventListener('keydown', async (e) => {
    if (e.target !== li || !editable || (e.key !== '[' && e.key !== ']')) return;
    e.preventDefault();
    const keys = lookups.statuses.map((s) => s.key);
    const next = keys[keys.indexOf(t.status) + (e.key === ']' ? 1 : -1)];
    if (next && (await moveTask(t, next))) await again();
  });
  return li;
}

async function renderList(box, params) {
  const sort = el('select', { 'aria-label': 'Sort', id: 'task-sort' }, el('option', { value: 'created', text: 'Newest first' }), el('option', { value: 'due', text: 'Due soonest' }));
  const status = el('select', { 'aria-label': 'Status filter', id: 'task-filter-status' }, el('option', { value: '', text: 'Any status' }),
    lookups.statuses.map((s) => el('option', { value: s.key, text: s.name })));
  const open = el('input', { type: 'checkbox', id: 'task-open-only' });
  const tbody = el('tbody');
  const table = el('table', { class: 'table', id: 'task-table' },
    el('thead', {}, el('tr', {}, ['Task', 'Status', 'Due', 'Assignee', 'Priority', 'Type', 'Logged'].map((h) => el('th', { text: h })))), tbody);
  const more = el('button', { type: 'button', text: 'Load more', hidden: true, id: 'task-more' });
  clear(box).append(el('div', { class: 'toolbar' }, status, sort, el('label', {}, open, ' Open only')), el('div', { class: 'table-wrap' }, table), more);
  let cursor = null;
  async function load(append) {
    const p = new URLSearchParams(params);
    p.set('sort', sort.value);
    p.set('limit', '25');
    if (status.value) p.set('status', status.value);
    if (open.checked) p.set('open', 'true');
    if (append && cursor) p.set('after', cursor);
    const page = await get('/tasks?' + p);
    if (!append) clear(tbody);
    for (const t of page.items) {
      const state = dueState(t);
      tbody.append(el('tr', { class: state ? 'due-' + state : '' },
        el('td', {}, el('a', { href: '#/tasks/' + t.id, text: t.title })),
        el('td', { text: lookups.statusName(t.status) }),
        el('td', {}, dueLabel(t)),
        el('td', { text: lookups.userName(t.assignee) }),
        el('td', {}, el('span', { class: 'prio prio-' + t.priority, text: t.priority })),
        el('td', { text: t.task_type }),
        el('td', { text: minutes(t.logged_minutes) + (t.estimate_minutes ? ' / ' + minutes(t.estimate_minutes) : '') })));
    }
    if (!append && !page.items.length) tbody.append(el('tr', {}, el('td', { colspan: 7, class: 'muted', text: 'No tasks match.' })));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }
  for (const c of [sort, status, open]) c.addEventListener('change', () => attempt(() => load(false)));
  more.addEventListener('click', () => attempt(() => load(true)));
  await load(false);
}

/** The home dashboard's "my tasks": open work assigned to me, soonest due first. */
export async function myTasks(root) {
  const page = await get('/tasks?assignee=me&open=true&sort=due&limit=10');
  root.append(el('h2', { text: 'My tasks' }));
  const ul = el('ul', { class: 'list', id: 'my-tasks' });
  await lookups.load();
  for (const t of page.items) {
    ul.append(el('li', { class: dueState(t) ? 'due-' + dueState(t) : '' }, el('a', { href: '#/tasks/' + t.id, text: t.title }), ' ',
      el('span', { class: 'muted', text: lookups.statusName(t.status) }), ' ', dueLabel(t)));
  }
  if (!page.items.length) ul.append(el('li', { class: 'muted', text: 'No open tasks.' }));
  root.append(ul);
}

export function minutes(m) {
  if (!m) return '0m';
  const h = Math.floor(m / 60);
  return (h ? h + 'h ' : '') + (m % 60 ? (m % 60) + 'm' : '').trim();
}

function newTaskForm(done) {
  const title = el('input', { required: true, id: 'new-task-title', maxLength: 200 });
  const type = el('input', { required: true, id: 'new-task-type', placeholder: 'e.g. design, print' });
  const priority = el('select', { id: 'new-task-priority' }, PRIORITIES.map((p) => el('option', { value: p, text: p, selected: p === 'normal' })));
  const due = el('input', { type: 'datetime-local', id: 'new-task-due' });
  const estimate = el('input', { type: 'number', min: 0, step: 1, id: 'new-task-estimate', placeholder: 'minutes' });
  const description = el('textarea', { rows: 2, id: 'new-task-description' });
  const manager = can('tasks.manage');
  const assignee = el('select', { id: 'new-task-assignee' },
    el('option', { value: '', text: manager ? 'Unassigned' : 'Me' }),
    manager ? lookups.users.filter((u) => u.active !== false).map((u) => el('option', { value: u.id, text: u.username })) : null);
  const suggestion = el('p', { class: 'suggestion muted', id: 'new-task-suggestion', 'aria-live': 'polite' });
  const lead = canAny('leads.read.all', 'leads.read.own') ? leadPicker('Client', '') : null;
  const form = el('form', { class: 'card inline-form', id: 'new-task' },
    field('Title', title), field('Type', type), field('Priority', priority), field('Due', due),
    field('Estimate (minutes)', estimate), lead ? field('Client', lead.node) : null,
    field('Assignee', assignee), field('Description', description), suggestion,
    el('button', { type: 'submit', class: 'primary', text: 'Create task' }));

  // The suggestion is advice: it never fills the assignee by itself.
  let timer = null;
  type.addEventListener('input', () => {
    clearTimeout(timer);
    clear(suggestion);
    const kind = type.value.trim();
    if (!kind || !manager) return;
    timer = setTimeout(async () => {
      const ranked = await get('/tasks/suggest-assignee?task_type=' + encodeURIComponent(kind)).catch(() => []);
      clear(suggestion);
      const best = ranked[0];
      if (!best || type.value.trim() !== kind) return;
      suggestion.append('Suggested: ', el('strong', { text: best.username }),
        ' (' + best.open_tasks + ' open, ' + best.done_of_type_90d + ' ' + kind + ' done in 90 days) ',
        el('button', { type: 'button', class: 'link', text: 'Assign to ' + best.username, onclick: () => { assignee.value = best.user_id; } }));
    }, 300);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(async () => {
      const body = { title: title.value, task_type: type.value, priority: priority.value };
      if (description.value.trim()) body.description = description.value;
      if (due.value) body.due_at = new Date(due.value).toISOString();
      if (estimate.value) body.estimate_minutes = Number(estimate.value);
      if (assignee.value) body.assignee = assignee.value;
      else if (!manager) body.assignee = session.user.id;
      if (lead && lead.input.dataset.leadId) body.lead = lead.input.dataset.leadId;
      const created = await post('/tasks', body);
      toast('Task created: ' + created.title);
      form.reset();
      clear(suggestion);
      done();
    });
  });
  return el('details', { id: 'new-task-box' }, el('summary', { text: 'New task' }), form);
}
