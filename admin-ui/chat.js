// The chat hub: one socket for the whole panel (badges, mentions, presence),
// and the room view with live messages, history scroll-back, edits,
// replies, reactions, typing, uploads, pins, reminders and search.
// How far each room is read lives on the server (PUT /rooms/{id}/read), so
// unread counts follow the user from one device to another.
import { get, post, patch, put, del, upload } from './api.js';
import { el, clear, toast, attempt, fmtDate, renderBody } from './ui.js';
import { session, can } from './session.js';
import { pager } from './pager.js';

const lastSeq = new Map(); // room -> highest seq received on this page
const seen = {}; // room -> seq read, as the server last said
const reported = new Map(); // room -> timer of a pending read report
const REACTIONS = ['👍', '❤️', '😄', '🎉', '👀'];
// Consecutive messages of one author within this long share one header.
const GROUP_MS = 5 * 60 * 1000;
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
  for (const r of rooms) if ((seen[r.id] || 0) < (r.last_read || 0)) seen[r.id] = r.last_read;
  updateBadges();
}

// A direct room has no name of its own: it is called after the other person.
function roomLabel(r, users) {
  if (r.kind === 'channel') return '# ' + r.name;
  if (r.kind === 'direct') {
    const otherId = (r.direct_pair || []).find((id) => id !== session.user.id);
    const other = otherId && (users || []).find((u) => u.id === otherId);
    return '@ ' + (other ? other.username : r.name || 'direct message');
  }
  return '🔒 ' + r.name;
}

function unread(room) {
  const last = Math.max(room.last_seq, lastSeq.get(room.id) || 0);
  return Math.max(0, last - (seen[room.id] || 0));
}

// Records locally at once, and tells the server once things settle: a
// burst of messages read makes one report, not one per message.
function markSeen(room, seq) {
  if ((seen[room] || 0) >= seq) return;
  seen[room] = seq;
  clearTimeout(reported.get(room));
  reported.set(room, setTimeout(() => {
    reported.delete(room);
    put('/rooms/' + room + '/read', { seq: seen[room] })
      .then((m) => { if ((seen[room] || 0) < m.last_read) seen[room] = m.last_read; updateBadges(); })
      .catch(() => null);
  }, 400));
  updateBadges();
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
      if (m.author === session.user.id) markSeen(m.room, m.seq);
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
  } else if (topic === 'room.read') {
    // Read on another device (or tab): the badge falls here too.
    if ((seen[payload.room] || 0) < payload.seq) seen[payload.room] = payload.seq;
    updateBadges();
  } else if (topic === 'room.member_removed') {
    // Taken out of a room (here or on another device): it leaves the list.
    refreshRooms().catch(() => null);
    if (view && view.room === payload.room) {
      toast('You are no longer in this room');
      leaveView();
    }
  } else if (topic === 'pins.changed' && view) {
    view.loadPins();
  } else if (topic === 'message.updated' && view && payload && payload.room === view.room) {
    view.update(payload);
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

// Back to the hub's first room (a different hash, so the page redraws).
function leaveView() {
  location.hash = location.hash === '#/chat' ? '#/chat/' : '#/chat';
}

let directory = null; // the user list, for names, DMs and member pickers
async function users() {
  if (!directory) directory = await get('/users?limit=200').then((p) => p.items).catch(() => []);
  return directory;
}

export async function chatPage(root, args) {
  await refreshRooms();
  const people = await users();
  let target = decodeURIComponent(args[0] || '');
  if (target.startsWith('lead:')) target = await leadRoom(target.slice(5));
  const roomList = el('ul', { class: 'rooms', id: 'room-list' });
  const pane = el('section', { class: 'room-pane' });
  const aside = el('aside', { class: 'chat-side' }, el('h1', { text: 'Chat' }), searchForm(), roomList, newRoomForm(people), remindersBox());
  root.append(el('div', { class: 'chat' }, aside, pane));
  if ('Notification' in window && Notification.permission === 'default') {
    root.prepend(el('button', { type: 'button', class: 'link', text: 'Enable desktop notifications', onclick: (e) => { Notification.requestPermission(); e.target.remove(); } }));
  }
  const current = rooms.find((r) => r.id === target) || rooms.find((r) => r.joined);
  view = new RoomView(current, roomList, pane, people);
  view.renderRooms();
  if (current) await view.open();
  else pane.append(el('p', { class: 'muted', text: 'No rooms yet: create a channel.' }));
  window.addEventListener('hashchange', () => { view = null; }, { once: true });
}

// Channels (public), private groups with chosen members, or a direct
// message with one person.
function newRoomForm(people) {
  const kind = el('select', { id: 'new-room-kind', 'aria-label': 'Kind of room' },
    el('option', { value: 'channel', text: 'Channel (public)' }),
    el('option', { value: 'group', text: 'Private group' }),
    el('option', { value: 'direct', text: 'Direct message' }));
  const name = el('input', { id: 'new-room-name', placeholder: 'Name', 'aria-label': 'New room name' });
  const others = people.filter((u) => u.id !== session.user.id && u.active !== false);
  const who = el('select', { id: 'new-room-members', multiple: true, size: 4, 'aria-label': 'Members' },
    ...others.map((u) => el('option', { value: u.id, text: u.username })));
  const whoField = el('label', { class: 'field', hidden: true }, el('span', { text: 'People' }), who);
  kind.addEventListener('change', () => {
    name.hidden = kind.value === 'direct';
    whoField.hidden = kind.value === 'channel';
    who.multiple = kind.value !== 'direct';
  });
  const form = el('form', { class: 'new-room', id: 'new-room' }, kind, name, whoField,
    el('button', { type: 'submit', text: 'Create' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(async () => {
      const members = [...who.selectedOptions].map((o) => o.value);
      const r = await post('/rooms', { name: name.value, kind: kind.value, members });
      await refreshRooms();
      hub.subscribe(r.id);
      location.hash = '#/chat/' + r.id;
    });
  });
  // Folded, so at phone width the room is not pushed below the fold.
  return el('details', { class: 'new-room-box', id: 'new-room-box' }, el('summary', { text: 'New conversation' }), form);
}

// Search across every room the user is in.
function searchForm() {
  const q = el('input', { type: 'search', id: 'chat-search', placeholder: 'Search messages', 'aria-label': 'Search messages' });
  const results = el('ol', { class: 'search-results', id: 'search-results', 'aria-live': 'polite' });
  const more = el('div', { id: 'search-more' });
  const form = el('form', { role: 'search' }, q, results, more);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clear(more);
    if (!q.value.trim()) { clear(results); return; }
    // Newest first, 30 at a time; "Older results" reads on.
    const found = pager('/messages/search?q=' + encodeURIComponent(q.value.trim()), (items, first) => {
      if (first) clear(results);
      if (first && !items.length) results.append(el('li', { class: 'muted', text: 'Nothing found.' }));
      for (const m of items) {
        const r = rooms.find((r) => r.id === m.room);
        results.append(el('li', {}, el('a', { href: '#/chat/' + m.room + '/' + m.seq },
          el('span', { class: 'muted', text: (r ? roomLabel(r, directory) : '') + ' · ' + m.author_name + ' · ' + fmtDate(m.created_at) }),
          el('span', { class: 'snippet', text: m.body.slice(0, 160) }))));
      }
    }, { limit: 30, label: 'Older results' });
    more.append(found.more);
    attempt(found.first);
  });
  return form;
}

// The user's reminders, with a cancel button each.
function remindersBox() {
  const list = el('ul', { class: 'reminders', id: 'reminders' });
  const box = el('details', { class: 'reminders-box' }, el('summary', { text: 'Reminders' }), list);
  // Soonest first, a page at a time.
  const reminders = pager('/reminders', (items, first) => {
    if (first) clear(list);
    if (first && !items.length) list.append(el('li', { class: 'muted', text: 'No reminders.' }));
    for (const r of items) {
      list.append(el('li', {}, el('span', { text: r.text || 'a message' }), ' ',
        el('time', { class: 'muted', text: (r.fired_at ? 'done ' : '') + fmtDate(r.due_at) }), ' ',
        el('button', { type: 'button', class: 'link', text: 'Cancel', 'aria-label': 'Cancel reminder ' + (r.text || ''),
          onclick: () => attempt(async () => { await del('/reminders/' + r.id); toast('Reminder cancelled'); load(); }) })));
    }
  }, { label: 'Later reminders', id: 'reminders-more' });
  box.append(reminders.more);
  const load = () => attempt(reminders.first);
  box.addEventListener('toggle', () => { if (box.open) load(); });
  window.addEventListener('ea:reminders-changed', () => { if (box.open) load(); });
  return box;
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
  constructor(room, list, pane, people) {
    this.info = room;
    this.room = room && room.id;
    this.list = list;
    this.pane = pane;
    this.users = people;
    this.typers = new Map();
    this.messages = []; // loaded messages, by seq
    this.byId = new Map();
    this.pinned = new Set();
    this.replyTo = null;
    this.oldest = null; // lowest seq loaded
    this.exhausted = false; // nothing older than `oldest`
  }

  renderRooms() {
    clear(this.list);
    for (const r of rooms) {
      const n = unread(r);
      const a = el('a', { href: '#/chat/' + r.id, 'aria-current': r.id === this.room ? 'page' : null, 'data-room': r.name || roomLabel(r, this.users) },
        roomLabel(r, this.users),
        n && r.joined ? el('span', { class: 'badge', 'aria-label': n + ' unread', text: String(n) }) : null,
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
    // Where the "new messages" line goes: what was read before opening.
    this.readBefore = seen[r.id] || 0;
    this.msgs = el('ol', { class: 'messages', id: 'messages', 'aria-live': 'polite', tabindex: 0, 'aria-label': 'Messages' });
    this.older = el('button', { type: 'button', class: 'link older', id: 'load-older', text: 'Load older messages', onclick: () => this.loadOlder() });
    this.msgs.addEventListener('scroll', () => { if (this.msgs.scrollTop < 40) this.loadOlder(); });
    this.pins = el('ul', { class: 'pins', id: 'pins' });
    this.typingLine = el('p', { class: 'typing muted' });
    this.presenceLine = el('p', { class: 'members' });
    const input = el('textarea', { rows: 2, id: 'chat-input', 'aria-label': 'Message', placeholder: 'Message — @ to mention, Enter to send' });
    this.input = input;
    this.replyLine = el('div', { class: 'replying', id: 'replying', hidden: true });
    const suggest = el('ul', { class: 'suggest', role: 'listbox', hidden: true });
    const file = el('input', { type: 'file', 'aria-label': 'Attach a file' });
    const progress = el('progress', { max: 1, value: 0, hidden: true });
    const form = el('form', { class: 'composer' }, this.replyLine, input, suggest, el('div', { class: 'toolbar' }, file, progress, el('button', { type: 'submit', class: 'primary', text: 'Send' })));
    clear(this.pane);
    this.pane.append(...[el('h2', { id: 'room-title', text: roomLabel(r, this.users) }), r.topic ? el('p', { class: 'muted', text: r.topic }) : null, this.presenceLine, this.membersBox(r), el('details', {}, el('summary', { text: 'Pinned' }), this.pins), this.older, this.msgs, this.typingLine, form].filter(Boolean));
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
      } else if (e.key === 'Escape') {
        suggest.hidden = true;
        this.setReply(null);
      }
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const body = input.value.trim();
      if (body) {
        const key = crypto.randomUUID();
        const frame = { type: 'send', room: this.room, body, idempotency_key: key, client_id: key };
        if (this.replyTo) frame.reply_to = this.replyTo.id;
        hub.pending.set(key, { room: this.room, body });
        if (!hub.send(frame)) toast('Offline: the message is sent when the connection is back');
        input.value = '';
        this.setReply(null);
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

  // Members, and adding people to a group (any member) or a channel (its
  // creator or a moderator); a direct room keeps its two people.
  membersBox(r) {
    if (r.kind === 'direct') return null;
    const list = el('ul', { class: 'member-list', id: 'member-list' });
    const mayRemove = r.created_by === session.user.id || can('chat.moderate');
    const box = el('details', { class: 'members-box', open: this.membersOpen }, el('summary', { text: 'Members (' + (this.members || []).length + ')' }), list);
    box.addEventListener('toggle', () => { this.membersOpen = box.open; });
    const redraw = async () => {
      this.members = await get('/rooms/' + r.id + '/members');
      box.replaceWith(this.membersBox(r));
      this.renderPresence();
    };
    for (const mem of this.members || []) {
      const u = this.users.find((u) => u.id === mem.user);
      const name = u ? u.username : mem.user.slice(0, 8);
      const self = mem.user === session.user.id;
      list.append(el('li', { 'data-user': name }, name + (mem.role === 'owner' ? ' (owner)' : ''),
        self ? el('button', { type: 'button', class: 'link', text: 'Leave', 'data-action': 'leave', onclick: () => {
          if (!confirm('Leave this room?')) return;
          attempt(async () => {
            await del('/rooms/' + r.id + '/members/' + mem.user);
            toast('You left ' + roomLabel(r, this.users));
            await refreshRooms();
            leaveView();
          });
        } }) : null,
        !self && mayRemove ? el('button', { type: 'button', class: 'link', text: 'Remove', 'aria-label': 'Remove ' + name, 'data-action': 'remove',
          onclick: () => attempt(async () => { await del('/rooms/' + r.id + '/members/' + mem.user); toast('Removed ' + name); await redraw(); }) }) : null));
    }
    const mayAdd = r.kind === 'group' || r.created_by === session.user.id || can('chat.moderate');
    if (mayAdd) {
      const inRoom = new Set((this.members || []).map((m) => m.user));
      const pick = el('select', { id: 'add-member', 'aria-label': 'Add a member' }, el('option', { value: '', text: 'Add someone…' }),
        ...this.users.filter((u) => !inRoom.has(u.id)).map((u) => el('option', { value: u.id, text: u.username })));
      const form = el('form', { class: 'toolbar' }, pick, el('button', { type: 'submit', text: 'Add' }));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        if (!pick.value) return;
        attempt(async () => {
          await post('/rooms/' + r.id + '/members', { user: pick.value });
          toast('Added ' + pick.selectedOptions[0].textContent);
          await redraw();
        });
      });
      box.append(form);
    }
    return box;
  }

  async reload() {
    const jump = Number(decodeURIComponent((location.hash.split('/')[3]) || '')) || 0;
    const path = jump ? '/messages?before=' + (jump + 25) + '&limit=50' : '/messages?limit=50';
    const list = await get('/rooms/' + this.room + path);
    // Messages that arrived live while the page was read stay (the page
    // may have been read before they were stored).
    const last = list.length ? list[list.length - 1].seq : 0;
    const live = jump ? [] : this.messages.filter((m) => m.seq > last);
    this.messages = list.concat(live);
    this.byId = new Map(this.messages.map((m) => [m.id, m]));
    this.oldest = list.length ? list[0].seq : null;
    this.exhausted = list.length < 50 || this.oldest <= 1;
    this.renderAll();
    const top = this.messages.reduce((a, m) => Math.max(a, m.seq), 0);
    if (top > (lastSeq.get(this.room) || 0)) lastSeq.set(this.room, top);
    if (jump) {
      const hit = this.msgs.querySelector('[data-seq="' + jump + '"]');
      if (hit) { hit.classList.add('hit'); hit.scrollIntoView({ block: 'center' }); }
    } else {
      const divider = this.msgs.querySelector('.divider');
      if (divider) divider.scrollIntoView({ block: 'start' });
      else this.msgs.scrollTop = this.msgs.scrollHeight;
    }
    markSeen(this.room, Math.max(top, lastSeq.get(this.room) || 0));
    updateBadges();
  }

  // One page older than what is shown, kept in place on screen.
  async loadOlder() {
    if (this.loading || this.exhausted || this.oldest === null) return;
    this.loading = true;
    try {
      const list = await get('/rooms/' + this.room + '/messages?before=' + this.oldest + '&limit=50');
      if (list.length < 50) this.exhausted = true;
      if (!list.length) return;
      const fromBottom = this.msgs.scrollHeight - this.msgs.scrollTop;
      for (const m of list) this.byId.set(m.id, m);
      this.messages = list.concat(this.messages);
      this.oldest = list[0].seq;
      if (this.oldest <= 1) this.exhausted = true;
      this.renderAll();
      this.msgs.scrollTop = this.msgs.scrollHeight - fromBottom;
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      this.loading = false;
    }
  }

  renderAll() {
    clear(this.msgs);
    let prev = null;
    for (const m of this.messages) {
      if (m.seq > this.readBefore && (!prev || prev.seq <= this.readBefore) && this.readBefore > 0) {
        this.msgs.append(el('li', { class: 'divider', text: 'New messages' }));
        prev = null;
      }
      this.msgs.append(this.item(m, prev));
      prev = m;
    }
    this.older.hidden = this.exhausted;
  }

  append(m) {
    const known = this.byId.get(m.id);
    this.byId.set(m.id, m);
    if (known) return this.update(m);
    const atBottom = this.msgs.scrollHeight - this.msgs.scrollTop - this.msgs.clientHeight < 80;
    const prev = this.messages[this.messages.length - 1] || null;
    this.messages.push(m);
    this.msgs.append(this.item(m, prev));
    const mine = m.author === session.user.id;
    if (atBottom || mine) this.msgs.scrollTop = this.msgs.scrollHeight;
  }

  // An edit, a deletion or a reaction: the message is drawn again in place.
  update(m) {
    const i = this.messages.findIndex((x) => x.id === m.id);
    if (i < 0) return;
    this.messages[i] = m;
    this.byId.set(m.id, m);
    const li = this.msgs.querySelector('[data-seq="' + m.seq + '"]');
    if (li) li.replaceWith(this.item(m, this.messages[i - 1] || null));
  }

  item(m, prev) {
    const mine = m.author === session.user.id;
    const grouped = prev && prev.author === m.author && !m.reply_to &&
      new Date(m.created_at) - new Date(prev.created_at) < GROUP_MS;
    const deleted = !!m.deleted_at;
    const act = (label, fn, extra = {}) => el('button', { type: 'button', class: 'link', text: label, onclick: fn, ...extra });
    const actions = deleted ? null : el('span', { class: 'actions' },
      act('Reply', () => this.setReply(m), { 'data-action': 'reply' }),
      act('React', (e) => this.picker(m, e.target), { 'data-action': 'react', 'aria-haspopup': 'true' }),
      mine ? act('Edit', () => this.edit(m), { 'data-action': 'edit' }) : null,
      mine || can('chat.moderate') ? act('Delete', () => this.remove(m), { 'data-action': 'delete' }) : null,
      this.pinned.has(m.id)
        ? act('Unpin', () => attempt(() => del('/messages/' + m.id + '/pin').then(() => this.loadPins())), { 'data-action': 'unpin' })
        : act('Pin', () => attempt(() => post('/messages/' + m.id + '/pin').then(() => this.loadPins())), { 'data-action': 'pin' }),
      act('Remind me', () => this.remind(m), { 'data-action': 'remind' }));
    const meta = el('div', { class: grouped ? 'meta compact' : 'meta' },
      grouped ? null : el('span', { class: 'dot ' + (presence.get(m.author) || 'offline') }),
      grouped ? null : el('strong', { text: m.author_name }),
      el('time', { datetime: m.created_at, title: fmtDate(m.created_at), text: grouped ? new Date(m.created_at).toLocaleTimeString(undefined, { timeStyle: 'short' }) : fmtDate(m.created_at) }),
      m.edited_at && !deleted ? el('span', { class: 'muted', text: '(edited)' }) : null,
      actions);
    const parent = m.reply_to ? this.byId.get(m.reply_to) : null;
    const quote = m.reply_to ? el('blockquote', { class: 'reply-quote' },
      parent ? el('strong', { text: parent.author_name + ': ' }) : null,
      parent ? (parent.deleted_at ? 'message deleted' : parent.body.slice(0, 140)) : 'an earlier message') : null;
    return el('li', { class: 'msg' + (mine ? ' mine' : '') + (grouped ? ' grouped' : ''), 'data-seq': String(m.seq), 'data-id': m.id },
      meta, quote,
      el('div', { class: 'body' }, deleted ? el('em', { text: 'message deleted' }) : renderBody(m.body)),
      m.file && !deleted ? attachment(m.file) : null,
      this.reactions(m),
      // A bot proposal's Confirm/Cancel: only its asker can press them.
      m.actions && m.actions.length ? el('div', { class: 'bot-actions' }, ...m.actions.map((a) =>
        el('button', { type: 'button', text: a.label, onclick: () => attempt(() => post('/messages/' + m.id + '/actions/' + encodeURIComponent(a.key), {})) }))) : null);
  }

  reactions(m) {
    if (!m.reactions || !m.reactions.length) return null;
    const counts = new Map();
    for (const r of m.reactions) {
      const c = counts.get(r.emoji) || { n: 0, mine: false };
      c.n += 1;
      c.mine = c.mine || r.user === session.user.id;
      counts.set(r.emoji, c);
    }
    return el('div', { class: 'reactions' }, ...[...counts].map(([emoji, c]) =>
      el('button', { type: 'button', class: 'reaction', 'aria-pressed': c.mine ? 'true' : 'false', 'aria-label': emoji + ' ' + c.n,
        text: emoji + ' ' + c.n, onclick: () => this.react(m, emoji, !c.mine) })));
  }

  react(m, emoji, on) {
    attempt(async () => this.update(await post('/messages/' + m.id + '/reactions', { emoji, on })));
  }

  picker(m, anchor) {
    const open = anchor.parentNode.querySelector('.picker');
    if (open) { open.remove(); return; }
    const box = el('span', { class: 'picker', role: 'group', 'aria-label': 'Pick a reaction' },
      ...REACTIONS.map((e) => el('button', { type: 'button', class: 'link', text: e, 'aria-label': 'React ' + e, onclick: () => { box.remove(); this.react(m, e, true); } })));
    anchor.after(box);
    box.firstChild.focus();
  }

  setReply(m) {
    this.replyTo = m;
    clear(this.replyLine);
    this.replyLine.hidden = !m;
    if (!m) return;
    this.replyLine.append(el('span', { text: 'Replying to ' + m.author_name + ': ' + m.body.slice(0, 80) }),
      el('button', { type: 'button', class: 'link', text: 'Cancel reply', onclick: () => this.setReply(null) }));
    this.input.focus();
  }

  edit(m) {
    const li = this.msgs.querySelector('[data-seq="' + m.seq + '"]');
    const body = li && li.querySelector('.body');
    if (!body) return;
    const box = el('textarea', { class: 'edit-input', rows: 2, 'aria-label': 'Edit message' });
    box.value = m.body;
    const save = () => attempt(async () => this.update(await patch('/messages/' + m.id, { body: box.value })));
    const form = el('form', { class: 'edit' }, box, el('div', { class: 'toolbar' },
      el('button', { type: 'submit', class: 'primary', text: 'Save' }),
      el('button', { type: 'button', text: 'Cancel', onclick: () => this.update(m) })));
    form.addEventListener('submit', (e) => { e.preventDefault(); save(); });
    box.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); save(); }
      else if (e.key === 'Escape') { e.preventDefault(); this.update(m); this.input.focus(); }
    });
    body.replaceWith(form);
    box.focus();
  }

  remove(m) {
    if (!confirm('Delete this message?')) return;
    attempt(async () => this.update(await del('/messages/' + m.id)));
  }

  remind(m) {
    const at = prompt('Remind me in how many minutes?', '30');
    if (!at) return;
    attempt(async () => {
      await post('/reminders', { message: m.id, due_at: new Date(Date.now() + Number(at) * 60000).toISOString(), text: m.body.slice(0, 200) });
      toast('Reminder set');
      window.dispatchEvent(new CustomEvent('ea:reminders-changed'));
    });
  }

  async loadPins() {
    const pins = await get('/rooms/' + this.room + '/pins').catch(() => []);
    const before = this.pinned;
    this.pinned = new Set(pins.map((p) => p.message));
    clear(this.pins);
    for (const p of pins) {
      const m = this.byId.get(p.message) || { author_name: '', body: 'an older message' };
      this.pins.append(el('li', {}, el('strong', { text: m.author_name }), ': ', m.body, ' ', el('span', { class: 'muted', text: fmtDate(p.pinned_at) }), ' ',
        el('button', { type: 'button', class: 'link', text: 'Unpin', onclick: () => attempt(() => del('/messages/' + p.message + '/pin').then(() => this.loadPins())) })));
    }
    if (!pins.length) this.pins.append(el('li', { class: 'muted', text: 'Nothing pinned.' }));
    // Redraw the messages whose Pin/Unpin button changed.
    for (const id of new Set([...before, ...this.pinned])) {
      if (before.has(id) !== this.pinned.has(id) && this.byId.has(id)) this.update(this.byId.get(id));
    }
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

// A shared file: an image shows its thumbnail (the full image opens on
// click); any other file is a link named after the file.
function attachment(id) {
  const href = '/api/v1/files/' + id;
  const link = el('a', { class: 'file', href, target: '_blank', rel: 'noopener', text: 'Attachment' });
  const img = el('img', { class: 'thumb', src: href + '/thumbnail', alt: 'Shared image', loading: 'lazy' });
  const box = el('div', { class: 'attachment' }, el('a', { href, target: '_blank', rel: 'noopener' }, img));
  img.addEventListener('error', () => {
    box.replaceWith(link);
    fileName(id).then((name) => { if (name) link.textContent = name; });
  }, { once: true });
  return box;
}

// The file's name, from the download's Content-Disposition (read with a
// HEAD request: no body is fetched).
async function fileName(id) {
  const r = await fetch('/api/v1/files/' + id, { method: 'HEAD', credentials: 'same-origin' }).catch(() => null);
  const cd = r && r.ok ? r.headers.get('content-disposition') || '' : '';
  const star = cd.match(/filename\*=UTF-8''([^;]+)/i);
  if (star) return decodeURIComponent(star[1]);
  const plain = cd.match(/filename="?([^";]+)"?/i);
  return plain ? plain[1] : null;
}
