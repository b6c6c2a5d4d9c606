// Administration: users, the role permission matrix, API keys, the audit log,
// pipeline statuses and assignment settings, webhooks, bots, maintenance,
// feature switches and AI.
import { get, post, patch, put, del } from './api.js';
import { el, clear, toast, attempt, field, fmtDate } from './ui.js';
import { can, session, on, loadFeatures } from './session.js';
import { botsAdmin } from './bots.js';
import { aiAdmin } from './ai.js';

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

async function users(box) {
  const [page, roleList] = await Promise.all([get('/users?limit=200'), get('/roles')]);
  if (can('users.manage')) {
    const f = { username: el('input', { required: true, id: 'new-user-name' }), email: el('input', { type: 'email', required: true }), password: el('input', { type: 'password', required: true, minLength: 8 }), role: el('select', {}, roleList.map((r) => el('option', { value: r.id, text: r.name }))) };
    const form = el('form', { class: 'card inline-form' }, field('Username', f.username), field('Email', f.email), field('Password', f.password), field('Role', f.role), el('button', { type: 'submit', class: 'primary', text: 'Create user' }));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      attempt(async () => {
        await post('/users', { username: f.username.value, email: f.email.value, password: f.password.value, role: f.role.value });
        toast('User created');
        clear(box);
        await users(box);
      });
    });
    box.append(el('details', {}, el('summary', { text: 'New user' }), form));
  }
  const tb = el('tbody');
  for (const u of page.items) {
    const role = el('select', { 'aria-label': 'Role of ' + u.username, disabled: !can('users.manage') }, roleList.map((r) => el('option', { value: r.id, text: r.name, selected: r.id === u.role })));
    role.addEventListener('change', () => attempt(async () => { await patch('/users/' + u.id, { role: role.value }); toast('Role changed'); }));
    const deact = can('users.manage') && u.active && u.id !== session.user.id
      ? el('button', { type: 'button', text: 'Deactivate', onclick: () => attempt(async () => { await post('/users/' + u.id + '/deactivate'); toast('Deactivated'); clear(box); await users(box); }) })
      : null;
    // For a lost phone: the user signs in with the password again (and
    // sets up a new app if the role requires one).
    const reset = can('users.manage') && u.second_factor && u.id !== session.user.id
      ? el('button', { type: 'button', text: 'Reset two-factor', 'data-reset-2fa': u.username, onclick: () => attempt(async () => {
        if (!window.confirm('Remove the authenticator app of ' + u.username + ' and sign them out everywhere?')) return;
        await del('/users/' + u.id + '/2fa');
        toast('Two-factor sign-in reset for ' + u.username);
        clear(box);
        await users(box);
      }) })
      : null;
    tb.append(el('tr', {}, el('td', { text: u.username }), el('td', { text: u.email }), el('td', {}, role), el('td', { text: u.active ? 'active' : 'inactive' }), el('td', { text: u.second_factor ? 'on' : 'off' }), el('td', { class: 'last-login', text: u.last_login_at ? fmtDate(u.last_login_at) : 'never' }), el('td', {}, deact, ' ', reset)));
  }
  box.append(el('div', { class: 'table-wrap' }, el('table', { class: 'table', id: 'users-table' }, el('thead', {}, el('tr', {}, ['User', 'Email', 'Role', 'State', 'Two-factor', 'Last sign-in', ''].map((h) => el('th', { text: h })))), tb)));
}

async function roles(box) {
  const m = await get('/roles/matrix');
  const head = el('tr', {}, el('th', { text: 'Permission' }), m.roles.map((r) => el('th', { text: r.name })));
  const tb = el('tbody');
  for (const p of m.permissions) {
    tb.append(el('tr', {}, el('th', { scope: 'row', title: p.description, text: p.key }), m.roles.map((r) => {
      const box2 = el('input', { type: 'checkbox', checked: r.permissions.includes(p.key), disabled: !r.editable, 'aria-label': r.name + ': ' + p.key, 'data-role': r.role, 'data-perm': p.key });
      box2.addEventListener('change', () => attempt(async () => {
        const set = new Set(r.permissions);
        if (box2.checked) set.add(p.key);
        else set.delete(p.key);
        await patch('/roles/' + r.role, { permissions: [...set] });
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
  box.append(el('div', { class: 'table-wrap' }, el('table', { class: 'table matrix', id: 'role-matrix' }, el('thead', {}, head), tb)));
}

async function apiKeys(box) {
  const keys = await get('/api-keys');
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
  const ul = el('ul', { class: 'list' });
  for (const k of keys) ul.append(el('li', {}, el('strong', { text: k.name }), ' ' + fmtDate(k.created_at) + ' ', el('button', { type: 'button', text: 'Revoke', onclick: () => attempt(async () => { await del('/api-keys/' + k.id); toast('Revoked'); clear(box); await apiKeys(box); }) })));
  box.append(form, shown, ul);
}

async function audit(box) {
  const entity = el('input', { placeholder: 'entity (lead, user…)', 'aria-label': 'Entity' });
  const actor = el('input', { placeholder: 'user id', 'aria-label': 'User id' });
  const form = el('form', { class: 'toolbar' }, entity, actor, el('button', { type: 'submit', text: 'Filter' }));
  const tb = el('tbody');
  const load = () => attempt(async () => {
    const q = new URLSearchParams();
    if (entity.value) q.set('entity', entity.value);
    if (actor.value) q.set('user', actor.value);
    const rows = await get('/audit?' + q);
    clear(tb);
    for (const r of rows.items || rows) tb.append(el('tr', {}, el('td', { text: fmtDate(r.at) }), el('td', { text: r.actor_name || r.actor }), el('td', { text: r.action }), el('td', { text: r.entity + ' ' + (r.entity_id || '') }), el('td', { text: (r.field || '') + ' ' + (r.old ?? '') + ' → ' + (r.new ?? '') }), el('td', { text: r.channel })));
  });
  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  box.append(form, el('div', { class: 'table-wrap' }, el('table', { class: 'table' }, el('thead', {}, el('tr', {}, ['When', 'Who', 'Action', 'What', 'Change', 'Via'].map((h) => el('th', { text: h })))), tb)));
  await load();
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
  const ul = el('ul', { class: 'list' });
  for (const h of hooks.items || hooks) ul.append(el('li', {}, el('strong', { text: h.url }), ' ' + (h.topics || []).join(', ') + ' ', el('button', { type: 'button', text: 'Delete', onclick: () => attempt(async () => { await del('/webhooks/' + h.id); clear(box); await webhooks(box); }) })));
  box.append(form, ul);
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
