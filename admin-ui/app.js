// The panel's shell: sign-in, navigation by permission, and a hash router.
import { api, get, post, setCsrf, ApiError } from './api.js';
import { el, clear, toast, attempt, field, fmtDate } from './ui.js';
import { session, can, canAny, on, loadFeatures } from './session.js';
import { tasksPage, myTasks } from './tasks.js';
import { analyticsPage } from './dashboards.js';
import { leadsPage, leadPage, trashPage } from './leads.js';
import { callQueuePage } from './call-queue.js';
import { importPage } from './import.js';
import { chatPage, hub } from './chat.js';
import { adminPage } from './admin.js';
import { duplicatesPage, patternsPage } from './ai.js';
import { setupRequiredPage } from './second-factor.js';
import { accountPage } from './account.js';

const main = document.getElementById('main');

const PAGES = [
  { path: 'dashboard', label: 'Dashboard', show: () => true, render: dashboard },
  { path: 'leads', label: 'Leads', show: () => canAny('leads.read.all', 'leads.read.own'), render: leadsPage },
  { path: 'calls', label: 'Call queue', show: () => can('calls.log') && canAny('leads.read.all', 'leads.read.own'), render: callQueuePage },
  { path: 'trash', label: 'Trash', show: () => canAny('leads.delete', 'leads.purge') && canAny('leads.read.all', 'leads.read.own'), render: trashPage },
  { path: 'tasks', label: 'Tasks', show: () => can('tasks.read'), render: tasksPage },
  { path: 'analytics', label: 'Analytics', show: () => can('analytics.read'), render: analyticsPage },
  { path: 'import', label: 'Import', feature: 'import', show: () => can('leads.import') && on('import'), render: importPage },
  { path: 'chat', label: 'Chat', feature: 'chat', show: () => can('chat.use') && on('chat'), render: chatPage },
  { path: 'duplicates', label: 'Duplicates', feature: 'dedup', show: () => can('ai.use') && on('dedup') && canAny('leads.read.all', 'leads.read.own'), render: duplicatesPage },
  { path: 'patterns', label: 'Patterns', feature: 'patterns', show: () => can('ai.use') && on('patterns'), render: patternsPage },
  { path: 'admin', label: 'Administration', show: () => canAny('users.read', 'users.manage', 'roles.manage', 'audit.read', 'settings.manage', 'api_keys.use', 'bots.manage', 'ai.manage'), render: adminPage },
];

async function loadMe() {
  const me = await api('GET', '/auth/me');
  session.user = me.user;
  session.permissions = new Set(me.permissions);
  if (me.csrf_token) setCsrf(me.csrf_token);
  session.setupRequired = Boolean(me.second_factor && me.second_factor.setup_required);
  return me;
}

/** Into the panel, or first to the second factor's setup when the role
 * requires one that is not set up (the session may do nothing else). */
function enter() {
  if (!session.setupRequired) return start();
  document.getElementById('nav').hidden = true;
  document.getElementById('topbar').hidden = false;
  document.getElementById('whoami').textContent = session.user.display_name || session.user.username;
  setupRequiredPage(main, async () => {
    await attempt(loadMe);
    enter();
  });
}

function buildNav() {
  const nav = document.getElementById('nav');
  clear(nav);
  const list = el('ul');
  for (const p of PAGES) {
    if (!p.show()) continue;
    list.append(el('li', {}, el('a', { href: '#/' + p.path, 'data-page': p.path }, p.label, p.path === 'chat' ? el('span', { class: 'badge', id: 'chat-badge', hidden: true, text: '0' }) : null)));
  }
  nav.append(list);
  nav.hidden = false;
  document.getElementById('topbar').hidden = false;
  document.getElementById('whoami').textContent = session.user.display_name || session.user.username;
}

async function route() {
  // `#/leads?country=DE`: the part after `?` is the page's own state.
  const hash = location.hash.replace(/^#\/?/, '').split('?')[0] || 'dashboard';
  const [page, ...rest] = hash.split('/');
  if (!session.user) {
    renderLogin();
    return;
  }
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.getElementById('nav').classList.remove('open');
  clear(main);
  // Each visit renders into its own node, so a slow page that finishes
  // after the user moved on appends to a detached node, not the new page.
  const view = el('div', { class: 'view' });
  main.append(view);
  if (page === 'account') return accountPage(view);
  const def = PAGES.find((p) => p.path === page);
  if (!def) {
    view.append(el('h1', { text: 'Not found' }));
    return;
  }
  if (def.feature && !on(def.feature)) {
    view.append(el('h1', { text: def.label }), el('p', { class: 'muted', id: 'switched-off', text: 'An admin has switched this part off.' }));
    return;
  }
  if (!def.show()) {
    view.append(el('h1', { text: 'Not allowed' }), el('p', { class: 'error', id: 'forbidden', text: 'Your role does not allow this page.' }));
    return;
  }
  if (page === 'leads' && rest[0]) return leadPage(view, rest[0]);
  try {
    await def.render(view, rest);
  } catch (e) {
    view.append(el('p', { class: 'error', text: e.message }));
  }
  main.focus({ preventScroll: true });
}

function renderLogin() {
  document.getElementById('topbar').hidden = true;
  document.getElementById('nav').hidden = true;
  clear(main);
  const user = el('input', { name: 'username', autocomplete: 'username', required: true, id: 'login-username' });
  const pass = el('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, id: 'login-password' });
  // Shown once the service says this account needs a second factor.
  const code = el('input', { name: 'code', autocomplete: 'one-time-code', inputmode: 'numeric', id: 'login-code', maxLength: 64 });
  const codeField = field('Code from your authenticator app (or a recovery code)', code);
  codeField.hidden = true;
  const err = el('p', { class: 'error', role: 'alert', id: 'login-error' });
  const form = el('form', { class: 'card login', id: 'login-form' },
    el('h1', { text: 'Sign in to EA CRM' }),
    field('Username', user), field('Password', pass), codeField, err,
    el('button', { type: 'submit', class: 'primary', text: 'Sign in' }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    const body = { username: user.value, password: pass.value, cookie: true };
    if (!codeField.hidden && code.value) body.code = code.value;
    try {
      const res = await api('POST', '/auth/login', body);
      setCsrf(res.csrf_token);
      await loadMe();
      enter();
    } catch (x) {
      if (x.code === 'second_factor_required') {
        codeField.hidden = false;
        code.required = true;
        err.textContent = 'Enter the code from your authenticator app.';
        code.focus();
        return;
      }
      err.textContent = x.message;
    }
  });
  main.append(form);
  user.focus();
}

async function dashboard(root) {
  root.append(el('h1', { text: 'Dashboard' }));
  const grid = el('div', { class: 'kpis' });
  root.append(grid);
  const kpi = (label, value, href) => grid.append(el('a', { class: 'kpi card', href }, el('span', { class: 'kpi-value', text: String(value) }), el('span', { text: label })));
  if (canAny('leads.read.all', 'leads.read.own')) {
    const statuses = await get('/pipeline/statuses');
    const total = await get('/leads/count');
    kpi('Leads', total.count ?? total, '#/leads');
    for (const s of statuses.filter((s) => !s.is_lost).slice(0, 3)) {
      const c = await get('/leads/count?status=' + encodeURIComponent(s.id));
      kpi(s.name, c.count ?? c, '#/leads?status=' + encodeURIComponent(s.id));
    }
    const due = await get('/follow-ups/due');
    root.append(el('h2', { text: 'My follow-ups due and overdue' }));
    const items = due.items;
    if (!items.length) root.append(el('p', { class: 'muted', text: 'Nothing due.' }));
    else {
      const ul = el('ul', { class: 'list' });
      for (const d of items) {
        const lead = d.lead || {};
        const name = lead.company_name || d.company_name || d.lead_id || '';
        const id = lead.id || d.lead_id || d.lead;
        ul.append(el('li', {}, el('a', { href: '#/leads/' + id, text: String(name) }), ' — follow-up ' + (d.tier ?? ''), ' ', el('span', { class: 'muted', text: fmtDate(d.scheduled_at) })));
      }
      root.append(ul);
    }
  }
  if (can('tasks.read')) await myTasks(root);
  if (can('chat.use') && on('chat')) {
    const notes = await get('/notifications?unread=true');
    const list = (Array.isArray(notes) ? notes : notes.items || []).filter((n) => !n.read_at);
    root.append(el('h2', { text: 'Unread notifications' }));
    if (!list.length) root.append(el('p', { class: 'muted', text: 'No unread notifications.' }));
    const ul = el('ul', { class: 'list', id: 'notifications' });
    // Each links to what it is about: the lead, the task or the room.
    const target = (n) => (n.lead ? '#/leads/' + n.lead : n.task ? '#/tasks/' + n.task : '#/chat/' + (n.room || ''));
    for (const n of list.slice(0, 20)) {
      ul.append(el('li', {}, el('a', { href: target(n), text: n.text }), ' ', el('span', { class: 'muted', text: fmtDate(n.created_at) })));
    }
    root.append(ul);
  }
}

let started = false;
async function start() {
  // Without the list every part shows; a page of a switched-off part then
  // says so itself.
  await attempt(() => loadFeatures(get));
  buildNav();
  if (can('chat.use') && on('chat')) hub.connect();
  if (!started) {
    started = true;
    window.addEventListener('hashchange', route);
  }
  route();
}

document.getElementById('logout').addEventListener('click', async () => {
  await attempt(() => post('/auth/logout'));
  hub.disconnect();
  session.user = null;
  session.permissions = new Set();
  setCsrf(null);
  location.hash = '#/';
  renderLogin();
});

document.getElementById('menu-toggle').addEventListener('click', (e) => {
  const nav = document.getElementById('nav');
  const open = nav.classList.toggle('open');
  e.currentTarget.setAttribute('aria-expanded', String(open));
});

window.addEventListener('ea:unauthorized', () => {
  if (session.user) {
    session.user = null;
    hub.disconnect();
    renderLogin();
  }
});

// Closed for maintenance (everyone but admins): one page saying why, with
// a way to try again, instead of each page failing on its own.
window.addEventListener('ea:maintenance', (e) => {
  hub.disconnect();
  document.getElementById('nav').hidden = true;
  clear(main);
  main.append(el('section', { class: 'card login', id: 'maintenance', role: 'alert' },
    el('h1', { text: 'Down for maintenance' }),
    el('p', { text: e.detail || 'EA CRM is down for maintenance.' }),
    el('button', { type: 'button', class: 'primary', text: 'Try again', onclick: () => location.reload() })));
});

window.addEventListener('ea:second-factor-setup', async () => {
  if (!session.user || session.setupRequired) return;
  hub.disconnect();
  await attempt(loadMe);
  enter();
});

// A part was switched on or off (here, or the socket was told): the menus
// follow, and a page of a part now off says so.
window.addEventListener('ea:features-changed', async () => {
  if (!session.user || session.setupRequired) return;
  await attempt(() => loadFeatures(get));
  if (!(can('chat.use') && on('chat'))) hub.disconnect();
  else hub.connect();
  buildNav();
  route();
});

window.addEventListener('ea:permissions-changed', async () => {
  await attempt(loadMe);
  if (session.setupRequired) {
    hub.disconnect();
    return enter();
  }
  buildNav();
  route();
});

(async () => {
  try {
    await loadMe();
    enter();
  } catch (e) {
    if (!(e instanceof ApiError)) console.error(e);
    renderLogin();
  }
})();
