// The chat hub: one socket for the whole panel (badges, mentions, presence),
// and the room view with live messages, typing, uploads, pins and reminders.
import { get, post, upload } from './api.js';
import { el, clear, toast, attempt, fmtDate, renderBody } from './ui.js';
import { session } from './session.js';

const lastSeq = new Map(); // room -> highest seq received on this page
const seen = JSON.parse(localStorage.getItem('ea_seen') || '{}'); // room -> seq read
const presence = new Map();
let rooms = [];
let view = null; // the open room view, if any

export const hub = {
  ws: null,
  wanted: false,
  retry: 0,
  mentions: 0,
  pending: new Map(), // idempotency key -> body, until acked
  connect() {
    this.wanted = true;
    if (this.ws) return;
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/api/v1/ws');
    this.ws = ws;
    ws.addEventListener('open', async () => {
      this.retry = 0;
      document.body.classList.remove('offline');
      await refreshRooms();
      for (const r of rooms.filter((r) => r.joined)) this.subscribe(r.id);
      for (const [key, m] of this.pending) this.send({ type: 'send', room: m.room, body: m.body, idempotency_key: key, client_id: key });
      const n = await get('/notifications/unread-count').catch(() => null);
      if (n) setMentions(n.unread_count);
    });
    ws.addEventListener('message', (e) => onFrame(JSON.parse(e.data)));
    ws.addEventListener('close', () => {
      this.ws = null;
      document.body.classList.add('offline');
      if (!this.wanted) return;
      const delay = Math.min(15000, 500 * 2 ** this.retry++);
      setTimeout(() => this.wanted && this.connect(), delay);
    });
  },
  disconnect() {
    this.wanted = false;
    if (this.ws) this.ws.close();
    this.ws = null;
  },
  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  },
  subscribe(room) {
    const after = lastSeq.has(room) ? lastSeq.get(room) : seen[room] ?? 0;
    this.send({ type: 'subscribe', room, after_seq: after });
  },
};

async function refreshRooms() {
  rooms = await get('/rooms');
  updateBadges();
}

function unread(room) {
  const last = Math.max(room.last_seq, lastSeq.get(room.id) || 0);
  return Math.max(0, last - (seen[room.id] || 0));
}

function markSeen(room, seq) {
  if ((seen[room] || 0) < seq) {
    seen[room] = seq;
    localStorage.setItem('ea_seen', JSON.stringify(seen));
  }
}

function setMentions(n) {
  hub.mentions = n;
  const b = document.getElementById('mention-badge');
  if (b) {
    b.textContent = String(n);
    b.hidden = n === 0;
  }
  updateBadges();
}

function updateBadges() {
  const total = rooms.filter((r) => r.joined).reduce((a, r) => a + unread(r), 0);
  const b = document.getElementById('chat-badge');
  if (b) {
    b.textContent = String(total);
    b.hidden = total === 0;
  }
  if (view) view.renderRooms();
}

function onFrame(f) {
  switch (f.type) {
    case 'hello':
      for (const p of f.presence || []) presence.set(p.user, p.status);
      break;
    case 'presence':
      for (const p of f.changes) presence.set(p.user, p.status);
      if (view) view.renderRooms();
      break;
    case 'message': {
      const m = f.message;
      if ((lastSeq.get(m.room) || 0) >= m.seq) break;
      lastSeq.set(m.room, m.seq);
      const r = rooms.find((r) => r.id === m.room);
      if (r) r.last_seq = Math.max(r.last_seq, m.seq);
      if (view && view.room === m.room) {
        view.append(m);
        if (document.visibilityState === 'visible') markSeen(m.room, m.seq);
      }
      updateBadges();
      break;
    }
    case 'ack':
      hub.pending.delete(f.client_id);
      break;
    case 'typing':
      if (view && view.room === f.room) view.typing(f.user);
      break;
    case 'event':
      onEvent(f.topic, f.payload);
      break;
    case 'maintenance':
      // The server closes the socket next; reconnecting is pointless
      // until it reopens, so the panel shows why instead.
      hub.disconnect();
      window.dispatchEvent(new CustomEvent('ea:maintenance', { detail: f.message }));
      break;
    case 'feature_disabled':
      // An admin switched the chat off: the server closes the socket next,
      // and the menus drop the chat.
      hub.disconnect();
      toast(f.message, 'error');
      window.dispatchEvent(new CustomEvent('ea:features-changed'));
      break;
    case 'error':
      toast(f.message, 'error');
      if (f.client_id) hub.pending.delete(f.client_id);
      break;
  }
}

function onEvent(topic, payload) {
  // Other pages (the import's progress) listen for their own topics.
  window.dispatchEvent(new CustomEvent('ea:event', { detail: { topic, payload } }));
  if (topic === 'notification.created') {
    setMentions(hub.mentions + 1);
    toast(payload.text || 'New notification');
    beep();
    if ('Notification' in window && Notification.permission === 'granted' && document.visibilityState !== 'visible') {
      new Notification('EA CRM', { body: payload.text || '' });
    }
  } else if (topic === 'notifications.read') {
    setMentions(payload.unread_count || 0);
  } else if (topic === 'pins.changed' && view) {
    view.loadPins();
  } else if (topic === 'message.updated' && view) {
    view.reload();
  }
}

let audio = null;
function beep() {
  try {
    audio = audio || new AudioContext();
    const o = audio.createOscillator();
    const g = audio.createGain();
    o.frequency.value = 880;
    g.gain.value = 0.05;
    o.connect(g).connect(audio.destination);
    o.start();
    o.stop(audio.currentTime + 0.15);
  } catch (_) {
    /* no audio: the toast is enough */
  }
}

export async function chatPage(root, args) {
  await refreshRooms();
  let target = decodeURIComponent(args[0] || '');
  if (target.startsWith('lead:')) target = await leadRoom(target.slice(5));
  const roomList = el('ul', { class: 'rooms', id: 'room-list' });
  const pane = el('section', { class: 'room-pane' });
  const newRoom = el('input', { placeholder: 'New channel', 'aria-label': 'New channel name' });
  const newForm = el('form', { class: 'toolbar' }, newRoom, el('button', { type: 'submit', text: 'Create' }));
  newForm.addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(async () => {
      const r = await post('/rooms', { name: newRoom.value, kind: 'channel' });
      location.hash = '#/chat/' + r.id;
    });
  });
  root.append(el('div', { class: 'chat' }, el('aside', {}, el('h1', { text: 'Chat' }), roomList, newForm), pane));
  if ('Notification' in window && Notification.permission === 'default') {
    root.prepend(el('button', { type: 'button', class: 'link', text: 'Enable desktop notifications', onclick: (e) => { Notification.requestPermission(); e.target.remove(); } }));
  }
  const current = rooms.find((r) => r.id === target) || rooms.find((r) => r.joined);
  view = new RoomView(current, roomList, pane);
  view.renderRooms();
  if (current) await view.open();
  else pane.append(el('p', { class: 'muted', text: 'No rooms yet: create a channel.' }));
  window.addEventListener('hashchange', () => { view = null; }, { once: true });
}

async function leadRoom(leadId) {
  const found = rooms.find((r) => r.subject_kind === 'lead' && r.subject_id === leadId);
  if (found) return found.id;
  const lead = await get('/leads/' + leadId);
  const r = await post('/rooms', { name: lead.lead.company_name, kind: 'group', subject_kind: 'lead', subject_id: leadId });
  await refreshRooms();
  hub.subscribe(r.id);
  return r.id;
}

class RoomView {
  constructor(room, list, pane) {
    this.info = room;
    this.room = room && room.id;
    this.list = list;
    this.pane = pane;
    this.typers = new Map();
  }

  renderRooms() {
    clear(this.list);
    for (const r of rooms) {
      const n = unread(r);
      const a = el('a', { href: '#/chat/' + r.id, 'aria-current': r.id === this.room ? 'page' : null, 'data-room': r.name },
        (r.kind === 'channel' ? '# ' : '') + r.name,
        n && r.joined ? el('span', { class: 'badge', text: String(n) }) : null,
        r.joined ? null : el('span', { class: 'muted', text: ' (join)' }));
      this.list.append(el('li', {}, a));
    }
  }

  async open() {
    const r = this.info;
    if (!r.joined) {
      await post('/rooms/' + r.id + '/join');
      r.joined = true;
      hub.subscribe(r.id);
    }
    this.members = await get('/rooms/' + r.id + '/members');
    // Opening a room reads its mentions: the badge falls on every device.
    const unreadHere = await get('/notifications?unread=true&limit=200')
      .then((page) => page.items.filter((n) => n.room === r.id).map((n) => n.id))
      .catch(() => []);
    if (unreadHere.length) await post('/notifications/read', { ids: unreadHere }).catch(() => null);
    this.users = await get('/users?limit=200').then((p) => p.items).catch(() => []);
    this.msgs = el('ol', { class: 'messages', id: 'messages', 'aria-live': 'polite' });
    this.pins = el('ul', { class: 'pins' });
    this.typingLine = el('p', { class: 'typing muted' });
    this.presenceLine = el('p', { class: 'members' });
    const input = el('textarea', { rows: 2, id: 'chat-input', 'aria-label': 'Message', placeholder: 'Message — @ to mention, Enter to send' });
    const suggest = el('ul', { class: 'suggest', role: 'listbox', hidden: true });
    const file = el('input', { type: 'file', 'aria-label': 'Attach a file' });
    const progress = el('progress', { max: 1, value: 0, hidden: true });
    const form = el('form', { class: 'composer' }, input, suggest, el('div', { class: 'toolbar' }, file, progress, el('button', { type: 'submit', class: 'primary', text: 'Send' })));
    clear(this.pane);
    this.pane.append(...[el('h2', { text: (r.kind === 'channel' ? '# ' : '') + r.name }), r.topic ? el('p', { class: 'muted', text: r.topic }) : null, this.presenceLine, el('details', {}, el('summary', { text: 'Pinned' }), this.pins), this.msgs, this.typingLine, form].filter(Boolean));
    this.renderPresence();

    let lastTyping = 0;
    input.addEventListener('input', () => {
      if (Date.now() - lastTyping > 2500) {
        hub.send({ type: 'typing', room: this.room });
        lastTyping = Date.now();
      }
      this.autocomplete(input, suggest);
    });
    input.addEventListener('keydown', (e) => {
      if (!suggest.hidden && (e.key === 'Tab' || (e.key === 'Enter' && suggest.firstChild))) {
        e.preventDefault();
        suggest.firstChild.click();
      } else if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        form.requestSubmit();
      } else if (e.key === 'Escape') suggest.hidden = true;
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const body = input.value.trim();
      if (body) {
        const key = crypto.randomUUID();
        hub.pending.set(key, { room: this.room, body });
        if (!hub.send({ type: 'send', room: this.room, body, idempotency_key: key, client_id: key })) toast('Offline: the message is sent when the connection is back');
        input.value = '';
      }
      if (file.files[0]) {
        const f = file.files[0];
        const fd = new FormData();
        fd.append('file', f, f.name);
        progress.hidden = false;
        upload('/rooms/' + this.room + '/files', fd, null, (p) => { progress.value = p; })
          .then(() => toast('Uploaded ' + f.name))
          .catch((x) => toast(x.message, 'error'))
          .finally(() => { progress.hidden = true; file.value = ''; });
      }
    });
    await this.reload();
    await this.loadPins();
    input.focus();
  }

  async reload() {
    const list = await get('/rooms/' + this.room + '/messages?limit=50');
    clear(this.msgs);
    for (const m of list) this.append(m);
    const top = list.reduce((a, m) => Math.max(a, m.seq), 0);
    if (top > (lastSeq.get(this.room) || 0)) lastSeq.set(this.room, top);
    markSeen(this.room, Math.max(top, lastSeq.get(this.room) || 0));
    updateBadges();
  }

  append(m) {
    this.byId = this.byId || new Map();
    this.byId.set(m.id, m);
    const existing = this.msgs.querySelector('[data-seq="' + m.seq + '"]');
    const mine = m.author === session.user.id;
    const actions = el('span', { class: 'actions' },
      el('button', { type: 'button', class: 'link', text: 'Pin', onclick: () => attempt(() => post('/messages/' + m.id + '/pin').then(() => this.loadPins())) }),
      el('button', { type: 'button', class: 'link', text: 'Remind me', onclick: () => this.remind(m) }));
    const li = el('li', { class: mine ? 'msg mine' : 'msg', 'data-seq': String(m.seq) },
      el('div', { class: 'meta' }, el('span', { class: 'dot ' + (presence.get(m.author) || 'offline') }), el('strong', { text: m.author_name }), ' ', el('time', { text: fmtDate(m.created_at) }), m.edited_at ? ' (edited)' : '', actions),
      el('div', { class: 'body' }, m.deleted_at ? el('em', { text: 'message deleted' }) : renderBody(m.body)),
      m.file ? el('a', { href: '/api/v1/files/' + m.file, target: '_blank', rel: 'noopener', text: 'Attachment' }) : null,
      // A bot proposal's Confirm/Cancel: only its asker can press them.
      m.actions && m.actions.length ? el('div', { class: 'bot-actions' }, ...m.actions.map((a) =>
        el('button', { type: 'button', text: a.label, onclick: () => attempt(() => post('/messages/' + m.id + '/actions/' + encodeURIComponent(a.key), {})) }))) : null);
    if (existing) existing.replaceWith(li);
    else this.msgs.append(li);
    li.scrollIntoView({ block: 'end' });
  }

  remind(m) {
    const at = prompt('Remind me in how many minutes?', '30');
    if (!at) return;
    attempt(async () => {
      await post('/reminders', { message: m.id, due_at: new Date(Date.now() + Number(at) * 60000).toISOString(), text: m.body.slice(0, 200) });
      toast('Reminder set');
    });
  }

  async loadPins() {
    const pins = await get('/rooms/' + this.room + '/pins').catch(() => []);
    clear(this.pins);
    for (const p of pins) {
      const m = (this.byId && this.byId.get(p.message)) || { author_name: '', body: 'an older message' };
      this.pins.append(el('li', {}, el('strong', { text: m.author_name }), ': ', m.body, ' ', el('span', { class: 'muted', text: fmtDate(p.pinned_at) })));
    }
    if (!pins.length) this.pins.append(el('li', { class: 'muted', text: 'Nothing pinned.' }));
  }

  renderPresence() {
    clear(this.presenceLine);
    for (const mem of this.members || []) {
      const u = (this.users || []).find((u) => u.id === mem.user);
      this.presenceLine.append(el('span', { class: 'member' }, el('span', { class: 'dot ' + (presence.get(mem.user) || 'offline'), title: presence.get(mem.user) || 'offline' }), u ? u.username : mem.user.slice(0, 8)));
    }
  }

  typing(user) {
    const u = (this.users || []).find((u) => u.id === user);
    this.typers.set(u ? u.username : 'someone', Date.now());
    const show = () => {
      const now = Date.now();
      const names = [...this.typers].filter(([, t]) => now - t < 4000).map(([n]) => n);
      this.typingLine.textContent = names.length ? names.join(', ') + ' typing…' : '';
    };
    show();
    setTimeout(show, 4100);
  }

  autocomplete(input, suggest) {
    const before = input.value.slice(0, input.selectionStart);
    const m = before.match(/@([A-Za-z0-9_.-]*)$/);
    clear(suggest);
    if (!m) {
      suggest.hidden = true;
      return;
    }
    const names = (this.members || []).map((mem) => (this.users || []).find((u) => u.id === mem.user)).filter(Boolean).map((u) => u.username);
    const options = ['here', 'all', ...names].filter((n) => n.startsWith(m[1])).slice(0, 6);
    for (const n of options) {
      suggest.append(el('li', { role: 'option', tabindex: -1, text: '@' + n, onclick: () => {
        input.value = before.slice(0, before.length - m[1].length) + n + ' ' + input.value.slice(input.selectionStart);
        suggest.hidden = true;
        input.focus();
      } }));
    }
    suggest.hidden = options.length === 0;
  }
}
