// "Your account": display name, email and timezone, password, two-factor
// sign-in, open sessions with "sign out everywhere else", linked chat
// accounts, notification preferences and the digest.
import { get, post, patch, put, del } from './api.js';
import { el, clear, toast, attempt, field, fmtDate } from './ui.js';
import { session, can } from './session.js';
import { chatAccountSection } from './bots.js';
import { secondFactorSection } from './second-factor.js';

export function accountPage(root) {
  root.append(el('h1', { text: 'Your account' }));
  const u = session.user;
  root.append(el('p', {}, 'Signed in as ', el('strong', { text: u.username }), ' (' + u.role + ')'));
  const cur = el('input', { type: 'password', autocomplete: 'current-password', required: true });
  const next = el('input', { type: 'password', autocomplete: 'new-password', required: true, minLength: 8 });
  const form = el('form', { class: 'card' }, el('h2', { text: 'Change password' }), field('Current password', cur), field('New password', next), el('button', { type: 'submit', class: 'primary', text: 'Change password' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(async () => {
      await post('/auth/password', { current_password: cur.value, new_password: next.value });
      toast('Password changed');
      form.reset();
    });
  });
  root.append(profileSection(), form, sessionsSection(), secondFactorSection(), notificationSection(), linkedAccountsSection(), chatAccountSection());
}

/** Display name, email and timezone; the timezone drives the due views,
 * reminders and the digest. */
function profileSection() {
  const u = session.user;
  const name = el('input', { id: 'profile-name', required: true, maxLength: 100, autocomplete: 'name', value: u.display_name || '' });
  const email = el('input', { id: 'profile-email', type: 'email', required: true, autocomplete: 'email', value: u.email || '' });
  const zone = el('select', { id: 'profile-timezone' }, el('option', { value: u.timezone, text: u.timezone, selected: true }));
  attempt(async () => {
    const zones = await get('/geo/timezones');
    clear(zone);
    for (const z of zones) zone.append(el('option', { value: z, text: z, selected: z === session.user.timezone }));
  });
  const form = el('form', { class: 'card', id: 'profile-form' }, el('h2', { text: 'Profile' }),
    field('Display name', name), field('Email', email),
    field('Time zone (due dates, reminders and the digest follow it)', zone),
    el('button', { type: 'submit', class: 'primary', text: 'Save profile' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(async () => {
      const me = await patch('/auth/me', { display_name: name.value, email: email.value, timezone: zone.value });
      session.user = { ...session.user, ...me };
      document.getElementById('whoami').textContent = me.display_name || me.username;
      toast('Profile saved');
    });
  });
  return form;
}

/** The open sessions, this one marked, each can be ended; "sign out
 * everywhere else" ends all the others. */
function sessionsSection() {
  const box = el('section', { class: 'card', id: 'sessions' }, el('h2', { text: 'Where you are signed in' }));
  const list = el('ul', { class: 'list', id: 'session-list' });
  const load = () => attempt(async () => {
    const items = await get('/auth/sessions');
    clear(list);
    for (const s of items) {
      const what = (s.user_agent || 'Unknown device') + (s.ip ? ' · ' + s.ip : '');
      list.append(el('li', { 'data-session': s.id, class: s.current ? 'current' : null },
        el('strong', { text: s.current ? 'This browser' : what }),
        el('span', { class: 'muted', text: ' last active ' + fmtDate(s.last_seen_at) + ', signed in ' + fmtDate(s.created_at) }),
        s.current ? null : el('button', { type: 'button', text: 'Sign out', 'aria-label': 'Sign out ' + what, onclick: () => attempt(async () => {
          await del('/auth/sessions/' + encodeURIComponent(s.id));
          toast('Signed out that session');
          await load();
        }) })));
    }
  });
  const all = el('button', { type: 'button', id: 'sign-out-others', text: 'Sign out everywhere else', onclick: () => attempt(async () => {
    if (!window.confirm('Sign out of every other browser and app?')) return;
    const r = await del('/auth/sessions/others');
    toast('Signed out ' + r.sessions_ended + (r.sessions_ended === 1 ? ' other session' : ' other sessions'));
    await load();
  }) });
  box.append(list, all);
  load();
  return box;
}

/** Telegram and Discord accounts linked to this user, each can be unlinked. */
function linkedAccountsSection() {
  const box = el('section', { class: 'card', id: 'linked-accounts' }, el('h2', { text: 'Linked chat accounts' }));
  const list = el('ul', { class: 'list' });
  const load = () => attempt(async () => {
    const links = await get('/me/links');
    clear(list);
    if (!links.length) list.append(el('li', { class: 'muted', text: 'No chat account is linked.' }));
    for (const l of links) {
      const label = (l.platform === 'telegram' ? 'Telegram' : l.platform === 'discord' ? 'Discord' : l.platform) + ' account ' + l.platform_user_id;
      list.append(el('li', {}, el('span', { text: label }), el('span', { class: 'muted', text: ' linked ' + fmtDate(l.created_at) + ' ' }),
        el('button', { type: 'button', text: 'Unlink', 'aria-label': 'Unlink ' + label, onclick: () => attempt(async () => {
          await del('/me/links/' + encodeURIComponent(l.id));
          toast('Unlinked ' + label);
          await load();
        }) })));
    }
  });
  box.append(list);
  load();
  return box;
}

/** Where the user hears of what: a hub and a bot switch per kind, and
 * muted rooms. */
function notificationSection() {
  const box = el('section', { class: 'card', id: 'notification-settings' }, el('h2', { text: 'Notifications' }));
  attempt(async () => {
    const [s, rooms] = await Promise.all([get('/me/notification-settings'), can('chat.use') ? get('/rooms') : []]);
    const hub = new Set(s.hub_off);
    const bot = new Set(s.bot_off);
    const muted = new Set(s.muted_rooms);
    const save = () => attempt(async () => {
      await put('/me/notification-settings', { hub_off: [...hub], bot_off: [...bot], muted_rooms: [...muted] });
      toast('Notification settings saved');
    });
    const toggle = (set, key, label) => {
      const input = el('input', { type: 'checkbox', checked: !set.has(key), 'aria-label': label });
      input.addEventListener('change', () => {
        if (input.checked) set.delete(key);
        else set.add(key);
        save();
      });
      return input;
    };
    const tb = el('tbody');
    for (const k of s.kinds) {
      tb.append(el('tr', {}, el('th', { scope: 'row', text: k.description }),
        el('td', {}, toggle(hub, k.kind, k.kind + ' in the hub')),
        el('td', {}, toggle(bot, k.kind, k.kind + ' by bot'))));
    }
    box.append(el('div', { class: 'table-wrap' }, el('table', { class: 'table' }, el('thead', {}, el('tr', {}, ['', 'In the hub', 'By bot message'].map((h) => el('th', { text: h })))), tb)));
    const joined = (rooms || []).filter((r) => r.joined);
    if (joined.length) {
      box.append(el('h3', { text: 'Muted rooms' }), el('p', { class: 'muted', text: 'Mentions in a muted room reach you nowhere.' }),
        el('ul', { class: 'list' }, joined.map((r) => {
          const input = el('input', { type: 'checkbox', checked: muted.has(r.id) });
          input.addEventListener('change', () => {
            if (input.checked) muted.add(r.id);
            else muted.delete(r.id);
            save();
          });
          return el('li', {}, el('label', {}, input, ' ' + (r.name || r.id)));
        })));
    }
  });
  return box;
}
