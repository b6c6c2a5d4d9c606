// Administration: users, the role permission matrix, API keys, the audit log,
// pipeline statuses and assignment settings, webhooks, bots, maintenance,
// feature switches and AI.
import { get, post, patch, put, del } from './api.js';
import { el, clear, toast, attempt, field, fmtDate } from './ui.js';
import { can, session, on, loadFeatures } from './session.js';
import { botsAdmin } from './bots.js';
import { aiAdmin } from './ai.js';
import { pager } from './pager.js';

const TABS = [
  { key: 'users', label: 'Users', show: () => can('users.read'), render: users },
  { key: 'roles', label: 'Roles', show: () => can('roles.manage'), render: roles },
  { key: 'api-keys', label: 'API keys', show: () => can('api_keys.use'), render: apiKeys },
  { key: 'audit', label: 'Audit log', show: () => can('audit.read'), render: audit },
  { key: 'pipeline', label: 'Pipeline', show: () => can('settings.manage'), render: pipeline },
  { key: 'webhooks', label: 'Webhooks', show: () => can('settings.manage') && on('webhooks'), render: webhooks },
  { key: 'bots', label: 'Bots', show: () => can('bots.manage'), render: botsAdmin },
  { key: 'maintenance', label: 'Maintenance', show: () => session.user.role === 'admin', render: maintenance },
  { key: 'features', label: 'Features', show: () => can('settings.manage') || can('ai.manage'), render: features },
  { key: 'ai', label: 'AI', show: () => can('ai.manage'), render: aiAdmin },
];

export async function adminPage(root, args) {
  const tabs = TABS.filter((t) => t.show());
  const current = tabs.find((t) => t.key === args[0]) || tabs[0];
  root.append(el('h1', { text: 'Administration' }), el('nav', { class: 'tabs', 'aria-label': 'Administration' }, tabs.map((t) => el('a', { href: '#/admin/' + t.key, 'aria-current': t === current ? 'page' : null, text: t.label }))));
  const box = el('section');
  root.append(box);
  if (current) await current.render(box);
}

/** The users, a page at a time, searchable; with `users.manage` each can be
 * edited (name, email, timezone, role, extra permissions), given a new
 * password, deactivated or reactivated, and deleted. The server refuses
 * what the manager may not do (grant what they lack, manage admins). */
async function users(box, state = { q: '', pages: [''] }) {
  const after = state.pages[state.pages.length - 1];
  const query = new URLSearchParams({ limit: '50' });
  if (state.q) query.set('q', state.q);
  if (after) query.set('after', after);
  const [page, roleList, perms] = await Promise.all([get('/users?' + query), get('/roles'), can('users.manage') ? get('/permissions') : []]);
  const reload = async (next = state) => { clear(box); await users(box, next); };
  if (can('users.manage')) {
    const f = { username: el('input', { required: true, id: 'new-user-name', autocomplete: 'off' }), email: el('input', { type: 'email', required: true, id: 'new-user-email' }), password: el('input', { type: 'password', required: true, minLength: 8, id: 'new-user-password', autocomplete: 'new-password' }), role: el('select', { id: 'new-user-role' }, roleList.map((r) => el('option', { value: r.id, text: r.name }))) };
    const form = el('form', { class: 'card inline-form' }, field('Username', f.username), field('Email', f.email), field('Password', f.password), field('Role', f.role), el('button', { type: 'submit', class: 'primary', text: 'Create user' }));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      attempt(async () => {
        await post('/users', { username: f.username.value, email: f.email.value, password: f.password.value, role: f.role.value });
        toast('User created');
        await reload();
      });
    });
    box.append(el('details', {}, el('summary', { text: 'New user' }), form));
  }
  const search = el('input', { type: 'search', id: 'user-search', value: state.q, placeholder: 'Name, username or email' });
  const searchForm = el('form', { class: 'toolbar', role: 'search' }, field('Find a user', search), el('button', { type: 'submit', text: 'Search' }));
  searchForm.addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(() => reload({ q: search.value.trim(), pages: [''] }));
  });
  box.append(searchForm);
  const tb = el('tbody');
  for (const u of page.items) {
    const self = u.id === session.user.id;
    const manage = can('users.manage') && !self;
    const role = el('select', { 'aria-label': 'Role of ' + u.username, disabled: !manage, 'data-role-of': u.username }, roleList.map((r) => el('option', { value: r.id, text: r.name, selected: r.id === u.role })));
    role.addEventListener('change', () => attempt(async () => { await patch('/users/' + u.id, { role: role.value }); toast('Role changed'); }));
    const actions = [];
    if (manage) {
      actions.push(u.active
        ? el('button', { type: 'button', text: 'Deactivate', 'data-deactivate': u.username, onclick: () => attempt(async () => { await post('/users/' + u.id + '/deactivate'); toast('Deactivated ' + u.username); await reload(); }) })
        : el('button', { type: 'button', text: 'Reactivate', 'data-reactivate': u.username, onclick: () => attempt(async () => { await patch('/users/' + u.id, { active: true }); toast('Reactivated ' + u.username); await reload(); }) }));
      actions.push(el('button', { type: 'button', text: 'Delete', class: 'danger', 'data-delete-user': u.username, onclick: () => attempt(async () => {
        if (!window.confirm('Delete ' + u.username + ' with their sessions, API keys and chat links? Their history stays in the audit log.')) return;
        await del('/users/' + u.id);
        toast('Deleted ' + u.username);
        await reload();
      }) }));
    }
    // For a lost phone: the user signs in with the password again (and
    // sets up a new app if the role requires one).
    if (manage && u.second_factor) {
      actions.push(el('button', { type: 'button', text: 'Reset two-factor', 'data-reset-2fa': u.username, onclick: () => attempt(async () => {
        if (!window.confirm('Remove the authenticator app of ' + u.username + ' and sign them out everywhere?')) return;
        await del('/users/' + u.id + '/2fa');
        toast('Two-factor sign-in reset for ' + u.username);
        await reload();
      }) }));
    }
    const name = el('td', {}, el('strong', { text: u.display_name || u.username }), u.display_name && u.display_name !== u.username ? el('span', { class: 'muted', text: ' ' + u.username }) : null);
    tb.append(el('tr', { 'data-user': u.username }, name, el('td', { text: u.email }), el('td', {}, role),
      el('td', { class: 'user-state', text: u.active ? 'active' : 'inactive' }), el('td', { text: u.second_factor ? 'on' : 'off' }),
      el('td', { class: 'last-login', text: u.last_login_at ? fmtDate(u.last_login_at) : 'never' }), el('td', { class: 'actions' }, actions)));
    if (manage) tb.append(el('tr', { class: 'user-edit' }, el('td', { colspan: 7 }, userEditor(u, perms, reload))));
  }
  if (!page.items.length) tb.append(el('tr', {}, el('td', { colspan: 7, class: 'muted', text: state.q ? 'No user matches “' + state.q + '”.' : 'No users.' })));
  const pager = el('nav', { class: 'toolbar pager', 'aria-label': 'User pages' },
    state.pages.length > 1 ? el('button', { type: 'button', text: 'Previous page', id: 'users-prev', onclick: () => attempt(() => reload({ q: state.q, pages: state.pages.slice(0, -1) })) }) : null,
    page.next_cursor ? el('button', { type: 'button', text: 'Next page', id: 'users-next', onclick: () => attempt(() => reload({ q: state.q, pages: [...state.pages, page.next_cursor] })) }) : null);
  box.append(el('div', { class: 'table-wrap' }, el('table', { class: 'table', id: 'users-table' }, el('thead', {}, el('tr', {}, ['User', 'Email', 'Role', 'State', 'Two-factor', 'Last sign-in', ''].map((h) => el('th', { text: h })))), tb)), pager);
}

/** The edit form of one user, folded: name, email, timezone, extra
 * permissions, a new password. */
function userEditor(u, perms, reload) {
  const slug = u.username.replace(/[^a-z0-9_-]/g, '-');
  const name = el('input', { value: u.display_name || '', maxLength: 100, id: 'edit-name-' + slug });
  const email = el('input', { type: 'email', value: u.email, id: 'edit-email-' + slug });
  const zone = el('input', { value: u.timezone, id: 'edit-timezone-' + slug });
  const extras = new Set(u.extra_permissions);
  // Only what the manager may grant: the server gives only permissions the
  // acting user holds (those of /auth/me). Extras the user has that are not
  // offered stay as they are.
  const extraBoxes = el('fieldset', { class: 'extra-permissions' }, el('legend', { text: 'Extra permissions (beyond the role)' }),
    perms.filter((p) => can(p.key)).map((p) => {
      const input = el('input', { type: 'checkbox', checked: extras.has(p.key), 'data-extra': p.key });
      input.addEventListener('change', () => (input.checked ? extras.add(p.key) : extras.delete(p.key)));
      return el('label', { class: 'check', title: p.description }, input, ' ' + p.key);
    }));
  const form = el('form', { class: 'inline-form', 'data-edit-user': u.username }, field('Display name', name), field('Email', email), field('Time zone', zone), extraBoxes,
    el('button', { type: 'submit', class: 'primary', text: 'Save changes' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(async () => {
      await patch('/users/' + u.id, { display_name: name.value, email: email.value, timezone: zone.value, extra_permissions: [...extras] });
      toast('Saved ' + u.username);
      await reload();
    });
  });
  const password = el('input', { type: 'password', minLength: 8, required: true, autocomplete: 'new-password', id: 'reset-password-' + slug });
  const resetForm = el('form', { class: 'inline-form', 'data-reset-password': u.username }, field('New password (ends their sessions, API keys and chat links)', password),
    el('button', { type: 'submit', text: 'Reset password' }));
  resetForm.addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(async () => {
      await patch('/users/' + u.id, { password: password.value });
      toast('Password reset for ' + u.username);
      resetForm.reset();
    });
  });
  return el('details', {}, el('summary', { text: 'Edit ' + u.username }), form, resetForm);
}

async function roles(box) {
  const [m, list] = await Promise.all([get('/roles/matrix'), get('/roles')]);
  const reload = async () => { clear(box); await roles(box); };
  const head = el('tr', {}, el('th', { text: 'Permission' }), m.roles.map((r) => el('th', { text: r.name })));
  const tb = el('tbody');
  for (const p of m.permissions) {
    tb.append(el('tr', {}, el('th', { scope: 'row', title: p.description, text: p.key }), m.roles.map((r) => {
      // A role gains only what the editor holds (the server's rule, with
      // the editor's permissions from /auth/me); what it has may go.
      const has = r.permissions.includes(p.key);
      const box2 = el('input', { type: 'checkbox', checked: has, disabled: !r.editable || (!has && !can(p.key)), 'aria-label': r.name + ': ' + p.key, 'data-role': r.role, 'data-perm': p.key });
      box2.addEventListener('change', () => attempt(async () => {
        const set = new Set(r.permissions);
        if (box2.checked) set.add(p.key);
        else set.delete(p.key);
        try {
          await patch('/roles/' + r.role, { permissions: [...set] });
        } catch (e) {
          box2.checked = !box2.checked;
          throw e;
        }
        r.permissions = [...set];
        toast(r.name + ': ' + (box2.checked ? 'granted ' : 'removed ') + p.key);
      }));
      return el('td', {}, box2);
    })));
  }
  // Not a permission but how holders sign in; last row of the matrix.
  tb.append(el('tr', { class: 'matrix-second-factor' }, el('th', { scope: 'row', title: 'Holders must sign in with a code from an authenticator app', text: 'Requires two-factor sign-in' }), m.roles.map((r) => {
    const box2 = el('input', { type: 'checkbox', checked: r.require_second_factor, 'aria-label': r.name + ': requires two-factor sign-in', 'data-role': r.role, 'data-second-factor': 'required' });
    box2.addEventListener('change', () => attempt(async () => {
      try {
        await patch('/roles/' + r.role, { require_second_factor: box2.checked });
      } catch (e) {
        box2.checked = !box2.checked;
        throw e;
      }
      toast(r.name + (box2.checked ? ': two-factor sign-in required' : ': two-factor sign-in optional'));
      if (r.role === session.user.role) window.dispatchEvent(new CustomEvent('ea:permissions-changed'));
    }));
    return el('td', {}, box2);
  })));
  // A new custom role starts empty; its permissions are ticked in the matrix.
  const key = el('input', { id: 'new-role-key', required: true, pattern: '[a-z][a-z0-9_]{1,39}', title: '2 to 40 lowercase letters, digits and _, starting with a letter', placeholder: 'e.g. field_sales' });
  const name = el('input', { id: 'new-role-name', required: true, maxLength: 100 });
  const description = el('input', { id: 'new-role-description', maxLength: 300 });
  const create = el('form', { class: 'card inline-form', id: 'new-role-form' }, el('h2', { text: 'New custom role' }), field('Key', key), field('Name', name), field('Description', description),
    el('button', { type: 'submit', class: 'primary', text: 'Create role' }));
  create.addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(async () => {
      await post('/roles', { key: key.value.trim(), name: name.value.trim(), description: description.value.trim() });
      toast('Role ' + name.value.trim() + ' created: tick its permissions in the matrix');
      await reload();
    });
  });
  const custom = el('ul', { class: 'list', id: 'custom-roles' });
  for (const r of list.filter((r) => !r.built_in)) {
    const rname = el('input', { value: r.name, maxLength: 100, 'aria-label': 'Name of role ' + r.id });
    const rdesc = el('input', { value: r.description, maxLength: 300, 'aria-label': 'Description of role ' + r.id });
    const edit = el('form', { class: 'toolbar', 'data-custom-role': r.id }, el('code', { text: r.id }), rname, rdesc,
      el('button', { type: 'submit', text: 'Rename' }),
      el('button', { type: 'button', class: 'danger', text: 'Delete', 'data-delete-role': r.id, onclick: () => attempt(async () => {
        if (!window.confirm('Delete the role ' + r.name + '?')) return;
        await del('/roles/' + r.id);
        toast('Role ' + r.name + ' deleted');
        await reload();
      }) }));
    edit.addEventListener('submit', (e) => {
      e.preventDefault();
      attempt(async () => { await patch('/roles/' + r.id, { name: rname.value, description: rdesc.value }); toast('Role saved'); await reload(); });
    });
    custom.append(el('li', {}, edit));
  }
  box.append(el('div', { class: 'table-wrap' }, el('table', { class: 'table matrix', id: 'role-matrix' }, el('thead', {}, head), tb)),
    create, el('h2', { text: 'Custom roles' }), custom.childElementCount ? custom : el('p', { class: 'muted', text: 'No custom roles yet.' }));
}

async function apiKeys(box) {
  const name = el('input', { required: true, 'aria-label': 'Key name' });
  const shown = el('p', { class: 'secret' });
  const form = el('form', { class: 'toolbar' }, name, el('button', { type: 'submit', text: 'Create key' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(async () => {
      const k = await post('/api-keys', { name: name.value });
      shown.textContent = 'Copy it now, it is shown once: ' + k.key;
      toast('Key created');
    });
  });
  const ul = el('ul', { class: 'list', id: 'api-keys' });
  const keys = pager('/api-keys', (items) => {
    for (const k of items) ul.append(el('li', {}, el('strong', { text: k.name }), ' ' + fmtDate(k.created_at) + ' ', el('button', { type: 'button', text: 'Revoke', onclick: () => attempt(async () => { await del('/api-keys/' + k.id); toast('Revoked'); clear(box); await apiKeys(box); }) })));
  }, { label: 'Older keys', id: 'api-keys-more' });
  await keys.first();
  box.append(form, shown, ul, keys.more);
}

/** The audit log as sentences, filtered by what, by a person picked by
 * name and by a date range; the same filter downloads as CSV. */
async function audit(box) {
  const entity = el('select', { id: 'audit-entity' }, [['', 'Anything'], ['lead', 'Leads'], ['contact', 'Contacts'], ['user', 'Users'], ['role', 'Roles'], ['task', 'Tasks'], ['message', 'Chat messages'], ['webhook', 'Webhooks'], ['setting', 'Settings'], ['api_key', 'API keys']].map(([v, t]) => el('option', { value: v, text: t })));
  const person = el('input', { id: 'audit-person', list: 'audit-people', autocomplete: 'off', placeholder: 'Anyone' });
  const people = el('datalist', { id: 'audit-people' });
  const from = el('input', { type: 'date', id: 'audit-from' });
  const to = el('input', { type: 'date', id: 'audit-to' });
  const exportLink = el('a', { id: 'audit-export', class: 'button', download: '', href: '/api/v1/audit/export', text: 'Export CSV' });
  const form = el('form', { class: 'toolbar', id: 'audit-filter' }, field('What', entity), field('Person', person), people, field('From', from), field('To (inclusive)', to), el('button', { type: 'submit', text: 'Filter' }), exportLink);
  const byLabel = new Map();
  // People are picked by name: the list follows what is typed.
  let typed = null;
  person.addEventListener('input', () => {
    clearTimeout(typed);
    typed = setTimeout(() => attempt(async () => {
      const page = await get('/users?limit=20&q=' + encodeURIComponent(person.value.trim()));
      clear(people);
      for (const u of page.items) {
        const label = (u.display_name || u.username) + ' (' + u.username + ')';
        byLabel.set(label, u.id);
        people.append(el('option', { value: label }));
      }
    }), 200);
  });
  const tb = el('tbody');
  const more = el('button', { type: 'button', id: 'audit-more', text: 'Older entries', hidden: true });
  let last = null;
  const params = () => {
    const q = new URLSearchParams();
    if (entity.value) q.set('entity', entity.value);
    const id = byLabel.get(person.value);
    if (person.value.trim() && !id) throw new Error('Pick a person from the list');
    if (id) q.set('user', id);
    if (from.value) q.set('from', new Date(from.value + 'T00:00:00').toISOString());
    if (to.value) {
      const end = new Date(to.value + 'T00:00:00');
      end.setDate(end.getDate() + 1);
      q.set('to', end.toISOString());
    }
    return q;
  };
  const load = (append) => attempt(async () => {
    const q = params();
    exportLink.href = '/api/v1/audit/export?' + q;
    q.set('limit', '100');
    if (append && last) q.set('after', last);
    const page = await get('/audit?' + q);
    const rows = page.items;
    if (!append) clear(tb);
    for (const r of rows) {
      // A single field's before and after are in the sentence; a creation
      // lists what was set.
      const changes = r.field === '*' ? r.changes || [] : [];
      tb.append(el('tr', {}, el('td', { text: fmtDate(r.at) }),
        el('td', { class: 'audit-sentence' }, el('span', { text: r.sentence || (r.actor_name + ' ' + r.action + ' ' + r.entity) }),
          changes.length ? el('ul', { class: 'changes' }, changes.map((c) => el('li', {}, el('span', { class: 'muted', text: c.label + ': ' }), c.after ?? '—'))) : null),
        el('td', { text: r.channel })));
    }
    if (!append && !rows.length) tb.append(el('tr', {}, el('td', { colspan: 3, class: 'muted', text: 'Nothing was recorded for this filter.' })));
    last = page.next_cursor || null;
    more.hidden = !last;
  });
  more.addEventListener('click', () => load(true));
  form.addEventListener('submit', (e) => { e.preventDefault(); load(false); });
  box.append(form, el('div', { class: 'table-wrap' }, el('table', { class: 'table', id: 'audit-table' }, el('thead', {}, el('tr', {}, ['When', 'What happened', 'Via'].map((h) => el('th', { text: h })))), tb)), more);
  await load(false);
}

async function pipeline(box) {
  const sts = await get('/pipeline/statuses');
  const ul = el('ol', { class: 'list' });
  for (const s of sts) ul.append(el('li', {}, el('strong', { text: s.name }), ' (' + s.id + ')' + (s.is_won ? ' won' : '') + (s.is_lost ? ' lost' : ''), ' ', el('button', { type: 'button', text: 'Remove', onclick: () => attempt(async () => { await del('/pipeline/statuses/' + s.id); clear(box); await pipeline(box); }) })));
  const key = el('input', { required: true, 'aria-label': 'Status key' });
  const name = el('input', { required: true, 'aria-label': 'Status name' });
  const form = el('form', { class: 'toolbar' }, key, name, el('button', { type: 'submit', text: 'Add status' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(async () => { await post('/pipeline/statuses', { id: key.value, name: name.value }); clear(box); await pipeline(box); });
  });
  const rules = await get('/settings/lead-assignment');
  const pre = el('textarea', { rows: 6, 'aria-label': 'Assignment rules (JSON)', class: 'mono' });
  pre.value = JSON.stringify(rules, null, 2);
  const save = el('button', { type: 'button', text: 'Save assignment rules', onclick: () => attempt(async () => { await put('/settings/lead-assignment', JSON.parse(pre.value)); toast('Saved'); }) });
  box.append(el('h2', { text: 'Statuses' }), ul, form, el('h2', { text: 'Lead assignment' }), pre, save);
  await afterThird(box, sts);
}

/** Where a lead goes after its third follow-up without a reply. */
async function afterThird(box, sts) {
  const rule = await get('/settings/after-third-follow-up');
  const enabled = el('input', { type: 'checkbox', id: 'after-third-enabled', checked: !!rule.enabled });
  const status = el('select', { id: 'after-third-status' }, sts.map((s) => el('option', { value: s.id, text: s.name, selected: s.id === rule.status })));
  if (rule.status && !sts.some((s) => s.id === rule.status)) status.append(el('option', { value: rule.status, text: rule.status, selected: true }));
  const form = el('form', { class: 'card inline-form', id: 'after-third-form' },
    el('label', { class: 'check' }, enabled, ' Move a lead after its third follow-up without a reply'),
    field('Move it to', status),
    el('button', { type: 'submit', class: 'primary', text: 'Save' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(async () => {
      const saved = await put('/settings/after-third-follow-up', { enabled: enabled.checked, status: status.value });
      enabled.checked = saved.enabled;
      status.value = saved.status;
      toast('After the third follow-up: ' + (saved.enabled ? 'moves to ' + saved.status : 'stays where it is'));
    });
  });
  box.append(el('h2', { text: 'After the third follow-up' }), form);
}

async function webhooks(box) {
  const hooks = await get('/webhooks');
  const topics = await get('/webhooks/topics').catch(() => []);
  const url = el('input', { type: 'url', required: true, 'aria-label': 'Webhook URL', placeholder: 'https://…' });
  const topic = el('select', { multiple: true, 'aria-label': 'Topics' }, (topics.topics || topics).map((t) => el('option', { value: t.topic || t, text: t.topic || t })));
  const form = el('form', { class: 'toolbar' }, url, topic, el('button', { type: 'submit', text: 'Add webhook' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(async () => { await post('/webhooks', { url: url.value, topics: [...topic.selectedOptions].map((o) => o.value) }); clear(box); await webhooks(box); });
  });
  const ul = el('ul', { class: 'list', id: 'webhook-list' });
  for (const h of hooks.items || hooks) {
    const log = el('div', { class: 'webhook-deliveries', hidden: true });
    const secret = el('div', { class: 'webhook-secret', role: 'status' });
    const toggle = el('button', { type: 'button', 'data-action': 'deliveries', text: 'Deliveries', 'aria-expanded': 'false', onclick: () => attempt(async () => {
      if (!log.hidden) { log.hidden = true; toggle.setAttribute('aria-expanded', 'false'); return; }
      clear(log);
      log.hidden = false;
      toggle.setAttribute('aria-expanded', 'true');
      await deliveries(log, h);
    }) });
    const test = el('button', { type: 'button', 'data-action': 'test', text: 'Send test event', onclick: () => attempt(async () => {
      await post('/webhooks/' + h.id + '/test', {});
      toast('Test event queued');
      if (!log.hidden) { clear(log); await deliveries(log, h); }
    }) });
    const rotate = el('button', { type: 'button', 'data-action': 'rotate', text: 'Rotate secret', onclick: () => {
      if (!window.confirm('Replace the signing secret of ' + h.url + '? The receiver must be given the new one; the old one stops working now.')) return;
      attempt(async () => {
        const r = await post('/webhooks/' + h.id + '/rotate-secret', {});
        const code = el('code', { class: 'mono secret-value', text: r.secret });
        clear(secret);
        secret.append(el('p', {}, 'New signing secret (shown only this once): ', code));
        toast('Secret rotated');
      });
    } });
    ul.append(el('li', { 'data-webhook': h.id }, el('strong', { text: h.url }), ' ' + (h.topics || []).join(', ') + ' ',
      el('span', { class: 'actions' }, toggle, ' ', test, ' ', rotate, ' ', el('button', { type: 'button', text: 'Delete', onclick: () => attempt(async () => { await del('/webhooks/' + h.id); clear(box); await webhooks(box); }) })),
      secret, log));
  }
  box.append(form, ul);
}

/** The delivery log of one endpoint, newest first; "Older" pages on. */
async function deliveries(box, hook) {
  const tb = el('tbody');
  const more = el('button', { type: 'button', 'data-action': 'older', text: 'Older', hidden: true });
  const reload = el('button', { type: 'button', 'data-action': 'refresh', text: 'Refresh', onclick: () => attempt(async () => { clear(box); await deliveries(box, hook); }) });
  let cursor = null;
  const load = async () => {
    const q = new URLSearchParams({ limit: '50' });
    if (cursor) q.set('after', cursor);
    const page = await get('/webhooks/' + hook.id + '/deliveries?' + q);
    for (const d of page.items) {
      tb.append(el('tr', { 'data-delivery': d.id, 'data-status': d.status },
        el('td', { text: fmtDate(d.created_at) }),
        el('td', { text: d.topic }),
        el('td', { text: d.status }),
        el('td', { text: String(d.attempts) }),
        el('td', { text: d.last_status != null ? String(d.last_status) : '—' }),
        el('td', { class: 'wrap', text: d.last_error || '—' }),
        el('td', { text: d.status === 'pending' ? fmtDate(d.next_attempt_at) : '—' })));
    }
    if (!cursor && !page.items.length) tb.append(el('tr', {}, el('td', { colspan: 7, class: 'muted', text: 'Nothing delivered yet.' })));
    cursor = page.next_cursor || null;
    more.hidden = !cursor;
  };
  more.addEventListener('click', () => attempt(load));
  box.append(el('h3', { text: 'Deliveries to ' + hook.url }),
    el('div', { class: 'table-wrap' }, el('table', { class: 'table' },
      el('caption', { class: 'visually-hidden', text: 'Deliveries to ' + hook.url }),
      el('thead', {}, el('tr', {}, ['Created', 'Topic', 'Status', 'Attempts', 'Last HTTP status', 'Last error', 'Next attempt'].map((t) => el('th', { scope: 'col', text: t })))), tb)),
    el('div', { class: 'toolbar' }, more, reload));
  await load();
}

// Closing the service to everyone but admins, with a message and an
// optional end time (admins only: everyone else is shut out meanwhile).
async function maintenance(box) {
  const state = await get('/maintenance');
  const message = el('input', { id: 'maintenance-message', maxLength: 500, value: state.message || '', placeholder: 'What people are told' });
  const until = el('input', { id: 'maintenance-until', type: 'datetime-local' });
  const toggle = el('button', { type: 'submit', class: 'primary', text: state.enabled ? 'Turn maintenance off' : 'Turn maintenance on' });
  const form = el('form', { class: 'card', id: 'maintenance-form' },
    el('p', { id: 'maintenance-state', text: state.enabled
      ? 'On since ' + fmtDate(state.since) + (state.until ? ', until ' + fmtDate(state.until) : '') + ': only admins can use EA CRM.'
      : 'Off: everyone can use EA CRM.' }),
    state.enabled ? null : field('Message', message),
    state.enabled ? null : field('Ends by itself at (optional)', until),
    toggle);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(async () => {
      const body = state.enabled ? { enabled: false } : { enabled: true, message: message.value };
      if (!state.enabled && until.value) body.until = new Date(until.value).toISOString();
      await put('/maintenance', body);
      toast(state.enabled ? 'Maintenance mode is off' : 'Maintenance mode is on');
      clear(box);
      await maintenance(box);
    });
  });
  box.append(form);
}

/** A switch per optional part. `settings.manage` switches every one,
 * `ai.manage` the AI ones; a part switched off disappears from the menus and
 * the bots' /help and answers `feature_disabled`. */
async function features(box) {
  const list = await loadFeatures(get);
  const ul = el('ul', { class: 'list plain', id: 'feature-switches' });
  for (const f of list) {
    const mayChange = can('settings.manage') || (f.ai && can('ai.manage'));
    const toggle = el('input', { type: 'checkbox', checked: f.enabled, disabled: !mayChange, id: 'feature-' + f.key });
    toggle.addEventListener('change', () => attempt(async () => {
      try {
        await put('/features/' + f.key, { enabled: toggle.checked });
        toast(f.name + (toggle.checked ? ' switched on' : ' switched off'));
      } catch (e) {
        toggle.checked = !toggle.checked;
        throw e;
      }
      window.dispatchEvent(new CustomEvent('ea:features-changed'));
    }));
    const changed = f.updated_at
      ? el('span', { class: 'muted', text: ' changed ' + fmtDate(f.updated_at) + (f.updated_by_name ? ' by ' + f.updated_by_name : '') })
      : null;
    ul.append(el('li', {}, el('label', {}, toggle, ' ' + f.name), changed));
  }
  box.append(el('h2', { text: 'Features' }),
    el('p', { class: 'muted', text: 'A part switched off disappears from the menus and the bots\' /help, and answers that it is switched off; its background work pauses. It holds on every server within a second.' }),
    ul);
}
