// One task: its fields (editable when the user may edit it), checklist, time
// logged, watchers, audit history and live comments with @mentions.
import { get, post, patch } from './api.js';
import { el, clear, toast, attempt, field, fmtDate, renderBody } from './ui.js';
import { session, can, canAny } from './session.js';
import { lookups, mayEdit, dueLabel, leadPicker, minutes, PRIORITIES } from './tasks.js';
import { attachmentsSection } from './task-files.js';
import { pager, allItems } from './pager.js';

const POLL_MS = 20000;

function localInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

export async function taskPage(root, id) {
  let task = await get('/tasks/' + encodeURIComponent(id));
  root.append(el('p', {}, el('a', { href: '#/tasks/board', text: '← Board' })));
  const title = el('h1', { id: 'task-title', text: task.title });
  const due = el('p', { id: 'task-due' });
  const changed = el('p', { class: 'notice', id: 'task-changed', role: 'status', hidden: true });
  const facts = el('section', { id: 'task-fields' });
  const checklist = el('section', { id: 'task-checklist' });
  const time = el('section', { id: 'task-time' });
  const watchers = el('section', { id: 'task-watchers' });
  const filesBox = el('section', { id: 'task-files' });
  let files = { available: false, reload: async () => false, send: async () => null };
  const commentFile = el('input', { type: 'file', 'aria-label': 'Attach a file to the comment', id: 'task-comment-file', hidden: true });
  const commentProgress = el('progress', { max: 1, value: 0, hidden: true, 'aria-label': 'Upload progress' });
  const comments = el('ol', { class: 'comments', id: 'task-comments', 'aria-live': 'polite' });
  const history = el('section', { id: 'task-history' });
  root.append(title, due, changed,
    el('div', { class: 'task-detail' },
      el('div', {}, facts, el('h2', { text: 'Comments' }), comments, commentForm()),
      el('div', {}, el('h2', { text: 'Checklist' }), checklist, el('h2', { text: 'Time' }), time,
        el('h2', { text: 'Watchers' }), watchers, el('h2', { text: 'Files' }), filesBox)),
    el('h2', { text: 'History' }), history);

  const save = async (body, message) => {
    const updated = await attempt(() => patch('/tasks/' + task.id, body));
    if (!updated) return false;
    task = updated;
    if (message) toast(message);
    render();
    await loadHistory();
    return true;
  };

  function render() {
    title.textContent = task.title;
    clear(due);
    const d = dueLabel(task);
    if (d) due.append(d);
    renderFields();
    renderChecklist();
    renderTime();
    renderWatchers();
  }

  function renderFields() {
    const editable = mayEdit(task);
    const manager = can('tasks.manage');
    const t = el('input', { value: task.title, required: true, maxLength: 200, id: 'task-edit-title' });
    const desc = el('textarea', { rows: 4, id: 'task-edit-description' });
    desc.value = task.description;
    const type = el('input', { value: task.task_type, required: true, id: 'task-edit-type' });
    const prio = el('select', { id: 'task-edit-priority' }, PRIORITIES.map((p) => el('option', { value: p, text: p, selected: p === task.priority })));
    const status = el('select', { id: 'task-edit-status' }, lookups.statuses.map((s) => el('option', { value: s.key, text: s.name, selected: s.key === task.status })));
    const assignee = el('select', { id: 'task-edit-assignee', disabled: !manager },
      el('option', { value: '', text: 'Unassigned' }),
      lookups.users.map((u) => el('option', { value: u.id, text: u.username, selected: u.id === task.assignee })));
    if (task.assignee && !lookups.users.some((u) => u.id === task.assignee)) {
      assignee.append(el('option', { value: task.assignee, text: lookups.userName(task.assignee), selected: true }));
    }
    const dueAt = el('input', { type: 'datetime-local', value: localInput(task.due_at), id: 'task-edit-due' });
    const estimate = el('input', { type: 'number', min: 0, step: 1, value: String(task.estimate_minutes), id: 'task-edit-estimate' });
    const lead = canAny('leads.read.all', 'leads.read.own') ? leadPicker('Client', task.lead || '') : null;
    const fieldset = el('fieldset', { disabled: !editable },
      el('legend', { text: editable ? 'Details' : 'Details (read only)' }),
      field('Title', t), field('Status', status), field('Priority', prio), field('Type', type),
      field('Assignee' + (manager ? '' : ' (a manager assigns)'), assignee), field('Due', dueAt),
      field('Estimate (minutes)', estimate), lead ? field('Client', lead.node) : null, field('Description', desc),
      editable ? el('button', { type: 'submit', class: 'primary', text: 'Save', id: 'task-save' }) : null);
    const form = el('form', { class: 'card task-form' }, fieldset,
      el('p', { class: 'muted' }, 'Created by ' + lookups.userName(task.created_by) + ' · ' + fmtDate(task.created_at),
        task.completed_at ? ' · done ' + fmtDate(task.completed_at) : ''));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const body = {};
      if (t.value !== task.title) body.title = t.value;
      if (desc.value !== task.description) body.description = desc.value;
      if (type.value.trim().toLowerCase() !== task.task_type) body.task_type = type.value;
      if (prio.value !== task.priority) body.priority = prio.value;
      if (status.value !== task.status) body.status = status.value;
      if (manager && assignee.value !== (task.assignee || '')) body.assignee = assignee.value || null;
      const newDue = dueAt.value ? new Date(dueAt.value).toISOString() : null;
      if (localInput(newDue) !== localInput(task.due_at)) body.due_at = newDue;
      if (Number(estimate.value || 0) !== task.estimate_minutes) body.estimate_minutes = Number(estimate.value || 0);
      if (lead && (lead.input.dataset.leadId || '') !== (task.lead || '') && (lead.input.dataset.leadId || !lead.input.value)) {
        body.lead = lead.input.dataset.leadId || null;
      }
      if (!Object.keys(body).length) return toast('Nothing changed');
      save(body, 'Task saved');
    });
    clear(facts).append(form);
  }

  function renderChecklist() {
    const editable = mayEdit(task);
    const items = task.checklist.map((c) => ({ id: c.id, text: c.text, done: c.done }));
    const ul = el('ul', { class: 'checklist' });
    items.forEach((item, i) => {
      const box = el('input', { type: 'checkbox', checked: item.done, disabled: !editable, id: 'check-' + i });
      box.addEventListener('change', () => {
        items[i].done = box.checked;
        save({ checklist: items });
      });
      ul.append(el('li', {}, el('label', { class: item.done ? 'done' : '' }, box, ' ', item.text),
        editable ? el('button', { type: 'button', class: 'link', 'aria-label': 'Remove ' + item.text, text: '×', onclick: () => save({ checklist: items.filter((_, j) => j !== i) }) }) : null));
    });
    const done = items.filter((c) => c.done).length;
    clear(checklist).append(el('p', { class: 'muted', text: items.length ? done + ' of ' + items.length + ' done' : 'No checklist items.' }), ul);
    if (editable) {
      const text = el('input', { 'aria-label': 'New checklist item', placeholder: 'New item', id: 'checklist-new', maxLength: 500 });
      const form = el('form', { class: 'toolbar' }, text, el('button', { type: 'submit', text: 'Add' }));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        if (!text.value.trim()) return;
        save({ checklist: [...items, { text: text.value.trim(), done: false }] });
      });
      checklist.append(form);
    }
  }

  function renderTime() {
    const est = task.estimate_minutes;
    const logged = task.logged_minutes;
    const bar = el('progress', { max: Math.max(est, logged, 1), value: logged, 'aria-label': 'Time logged against the estimate' });
    clear(time).append(el('p', { id: 'task-logged' }, 'Logged ', el('strong', { text: minutes(logged) }), est ? ' of ' + minutes(est) + ' estimated' : ' (no estimate)'), est ? bar : null);
    if (mayEdit(task)) {
      const mins = el('input', { type: 'number', min: 1, step: 1, 'aria-label': 'Minutes worked', placeholder: 'minutes', id: 'log-minutes', required: true });
      const form = el('form', { class: 'toolbar' }, mins, el('button', { type: 'submit', text: 'Log time' }));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        save({ log_minutes: Number(mins.value) }, 'Logged ' + minutes(Number(mins.value)));
      });
      time.append(form);
    }
  }

  function renderWatchers() {
    const editable = mayEdit(task);
    const ul = el('ul', { class: 'list', id: 'watcher-list' });
    for (const w of task.watchers) {
      ul.append(el('li', {}, '@' + lookups.userName(w), editable ? el('button', { type: 'button', class: 'link', 'aria-label': 'Remove watcher ' + lookups.userName(w), text: '×', onclick: () => save({ watchers: task.watchers.filter((x) => x !== w) }, 'Watcher removed') }) : null));
    }
    if (!task.watchers.length) ul.append(el('li', { class: 'muted', text: 'Nobody watches this task.' }));
    clear(watchers).append(ul);
    if (editable) {
      const pick = el('select', { 'aria-label': 'Add a watcher', id: 'watcher-add' }, lookups.users.filter((u) => !task.watchers.includes(u.id)).map((u) => el('option', { value: u.id, text: u.username })));
      if (pick.options.length) {
        watchers.append(el('div', { class: 'toolbar' }, pick, el('button', { type: 'button', text: 'Add watcher', onclick: () => save({ watchers: [...task.watchers, pick.value] }, 'Watcher added') })));
      }
    }
  }

  async function loadHistory() {
    const tbody = el('tbody');
    const rows = pager('/tasks/' + task.id + '/history', (items) => {
      for (const r of items) {
        tbody.append(el('tr', {}, el('td', { class: 'nowrap', text: fmtDate(r.at) }), el('td', { text: r.actor_name || r.channel }),
          el('td', { text: r.action }), el('td', { text: r.field || '' }),
          el('td', { text: shown(r.field, r.old) }), el('td', { text: shown(r.field, r.new) })));
      }
    }, { label: 'Older changes', id: 'task-history-more' });
    await rows.first();
    clear(history).append(el('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'History of changes' }, el('table', { class: 'table keep-cols', id: 'task-history-table' },
      el('thead', {}, el('tr', {}, ['When', 'Who', 'Action', 'Field', 'Before', 'After'].map((h) => el('th', { text: h })))), tbody)), rows.more);
  }

  const seenComments = new Set();
  function addComment(c) {
    if (seenComments.has(c.id)) return;
    seenComments.add(c.id);
    comments.append(el('li', { class: 'msg', 'data-comment': c.id },
      el('div', { class: 'meta' }, el('strong', { text: c.author_name }), ' ', el('time', { text: fmtDate(c.created_at) })),
      el('div', { class: 'body' }, renderBody(c.body)),
      el('div', { class: 'comment-files' })));
  }
  // The whole discussion, oldest first; the poll reads it again and adds
  // what is new.
  async function loadComments() {
    const list = await allItems('/tasks/' + task.id + '/comments');
    if (!list.length && !comments.firstChild) comments.append(el('li', { class: 'muted empty', text: 'No comments yet.' }));
    for (const c of list) {
      const empty = comments.querySelector('.empty');
      if (empty) empty.remove();
      addComment(c);
    }
  }

  function commentForm() {
    if (!canAny('tasks.write', 'tasks.manage')) return null;
    const input = el('textarea', { rows: 2, id: 'task-comment-input', 'aria-label': 'Comment', placeholder: 'Comment — @ to mention someone' });
    const suggest = el('ul', { class: 'suggest', role: 'listbox', hidden: true });
    const form = el('form', { class: 'composer', id: 'task-comment-form' }, input, suggest,
      el('div', { class: 'toolbar' }, commentFile, commentProgress, el('button', { type: 'submit', class: 'primary', text: 'Comment' })));
    input.addEventListener('input', () => mentionSuggest(input, suggest));
    input.addEventListener('keydown', (e) => {
      if (!suggest.hidden && (e.key === 'Tab' || e.key === 'Enter') && suggest.firstChild) {
        e.preventDefault();
        suggest.firstChild.click();
      } else if (e.key === 'Escape') suggest.hidden = true;
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const body = input.value.trim();
      if (!body) return;
      attempt(async () => {
        const c = await post('/tasks/' + task.id + '/comments', { body });
        const empty = comments.querySelector('.empty');
        if (empty) empty.remove();
        addComment(c);
        input.value = '';
        const file = files.available && commentFile.files[0];
        if (file) {
          await files.send(file, c.id, commentProgress);
          commentFile.value = '';
        }
        await loadHistory();
      });
    });
    return form;
  }

  render();
  await Promise.all([loadHistory(), loadComments()]);
  files = await attachmentsSection(filesBox, task, { comments, mayEdit: () => mayEdit(task), userName: (u) => lookups.userName(u), onChange: () => loadHistory() });
  commentFile.hidden = !files.available;

  // Live: the hub pushes comments and changes on tasks we take part in; a
  // polite poll (only while the tab is visible) covers the rest.
  async function refresh() {
    changed.hidden = true;
    task = await get('/tasks/' + task.id);
    render();
    await loadHistory();
  }
  const onEvent = (e) => {
    const { topic, payload } = e.detail;
    if (topic === 'task.commented' && payload.task_id === task.id) {
      const empty = comments.querySelector('.empty');
      if (empty) empty.remove();
      addComment(payload.comment);
    } else if ((topic === 'task.file_attached' || topic === 'task.file_removed') && payload.task_id === task.id) {
      files.reload().then(loadHistory).catch(() => null);
    } else if (topic === 'task.updated' && payload.task && payload.task.id === task.id) {
      // Our own saves come back as events too: those are already shown.
      if (new Date(payload.task.updated_at) <= new Date(task.updated_at)) return;
      const editing = document.activeElement && root.contains(document.activeElement) && document.activeElement.matches('input, textarea, select');
      if (editing) {
        // Never wipe what someone is typing: offer the newer version instead.
        clear(changed).append('Someone else changed this task. ',
          el('button', { type: 'button', class: 'link', text: 'Show the changes', onclick: () => attempt(refresh) }));
        changed.hidden = false;
        return;
      }
      attempt(refresh);
    }
  };
  window.addEventListener('ea:event', onEvent);
  const poll = setInterval(() => {
    if (document.visibilityState !== 'visible') return;
    loadComments().then(() => files.available && files.reload()).catch(() => null);
  }, POLL_MS);
  window.addEventListener('hashchange', () => {
    window.removeEventListener('ea:event', onEvent);
    clearInterval(poll);
  }, { once: true });
}

function shown(fieldName, json) {
  if (json === null || json === undefined) return '';
  let v;
  try {
    v = JSON.parse(json);
  } catch (_) {
    return json;
  }
  if (v === null || (Array.isArray(v) && !v.length)) return '—';
  if ((fieldName === 'assignee' || fieldName === 'created_by') && typeof v === 'string') return '@' + lookups.userName(v);
  if (fieldName === 'watchers' && Array.isArray(v)) return v.map((w) => '@' + lookups.userName(w)).join(', ');
  if (fieldName === 'status' && typeof v === 'string') return lookups.statusName(v);
  if (fieldName === 'file' && v && typeof v === 'object' && v.name) return v.name;
  if (fieldName === 'checklist' && Array.isArray(v)) return v.map((c) => (c.done ? '☑ ' : '☐ ') + c.text).join(', ');
  if (typeof v === 'string') return v.length > 160 ? v.slice(0, 160) + '…' : v;
  const s = JSON.stringify(v);
  return s.length > 160 ? s.slice(0, 160) + '…' : s;
}

function mentionSuggest(input, suggest) {
  const before = input.value.slice(0, input.selectionStart);
  const m = before.match(/@([A-Za-z0-9_.-]*)$/);
  clear(suggest);
  if (!m) {
    suggest.hidden = true;
    return;
  }
  const names = lookups.users.filter((u) => u.active !== false && u.id !== session.user.id).map((u) => u.username);
  const options = names.filter((n) => n.toLowerCase().startsWith(m[1].toLowerCase())).slice(0, 6);
  for (const n of options) {
    suggest.append(el('li', { role: 'option', tabindex: -1, text: '@' + n, onclick: () => {
      input.value = before.slice(0, before.length - m[1].length) + n + ' ' + input.value.slice(input.selectionStart);
      suggest.hidden = true;
      input.focus();
    } }));
  }
  suggest.hidden = options.length === 0;
}
