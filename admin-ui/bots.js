// Chat bots: each bot's connection (administration tab, `bots.manage`),
// hub rooms bridged to platform chats, and, for everyone, linking one's own
// chat account and the daily digest time (account page).
import { get, post, put, del } from './api.js';
import { el, clear, toast, attempt, field, fmtDate } from './ui.js';
import { can } from './session.js';

export async function botsAdmin(box) {
  const [status, bridges] = await Promise.all([get('/bots/status'), get('/bridges')]);
  box.append(el('h2', { text: 'Bots' }));
  if (!status.bots.length) {
    box.append(el('p', { class: 'muted', id: 'bots-none', text: 'No bot is configured. Set TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN and restart to add one.' }));
  } else {
    const tb = el('tbody');
    for (const b of status.bots) {
      tb.append(el('tr', { 'data-platform': b.platform },
        el('th', { scope: 'row', text: b.platform }),
        el('td', { text: b.username ? '@' + b.username : '' }),
        el('td', {}, el('span', { class: 'dot ' + (b.connected ? 'online' : 'offline') }), b.connected ? 'connected' : 'not connected'),
        el('td', { text: b.last_ok_at ? fmtDate(b.last_ok_at) : '—' }),
        el('td', { class: b.last_error ? 'error' : 'muted', text: b.last_error ? b.last_error + ' (' + fmtDate(b.last_error_at) + ')' : 'none' })));
    }
    box.append(el('div', { class: 'table-wrap' }, el('table', { class: 'table keep-cols', id: 'bots-status' },
      el('thead', {}, el('tr', {}, ['Platform', 'Bot', 'Connection', 'Last success', 'Last error'].map((h) => el('th', { text: h })))), tb)));
  }
  for (const b of status.backlog || []) {
    const age = b.oldest_age_seconds >= 120 ? Math.round(b.oldest_age_seconds / 60) + ' min' : b.oldest_age_seconds + ' s';
    box.append(el('p', { class: 'warning', 'data-backlog': b.platform, role: 'status',
      text: b.platform + ': ' + b.pending + ' message' + (b.pending === 1 ? '' : 's') + ' waiting to be sent, the oldest for ' + age
        + (b.last_error ? '. Last error: ' + b.last_error : '') + '. They go out in order once the platform takes them.' }));
  }
  box.append(el('h2', { text: 'Bridged rooms' }), el('p', { class: 'muted', text: 'Messages in a bridged room and its platform chat are mirrored both ways.' }));
  let rooms = [];
  if (can('chat.use')) rooms = await get('/rooms');
  const roomName = (id) => (rooms.find((r) => r.id === id) || {}).name || id;
  const ul = el('ul', { class: 'list', id: 'bridges' });
  for (const b of bridges) {
    ul.append(el('li', {}, el('strong', { text: '#' + roomName(b.room) }), ' ↔ ' + b.platform + ' chat ', el('code', { text: b.chat_id }), ' ',
      el('span', { class: 'muted', text: fmtDate(b.created_at) }), ' ',
      el('button', { type: 'button', text: 'Remove', 'aria-label': 'Remove the bridge of #' + roomName(b.room), onclick: () => {
        if (!confirm('Stop mirroring #' + roomName(b.room) + '?')) return;
        attempt(async () => { await del('/bridges/' + b.id); toast('Bridge removed'); clear(box); await botsAdmin(box); });
      } })));
  }
  if (!bridges.length) ul.append(el('li', { class: 'muted', text: 'No bridged rooms.' }));
  box.append(ul);

  const room = el('select', { required: true, id: 'bridge-room', 'aria-label': 'Hub room' },
    rooms.filter((r) => r.joined && r.kind !== 'direct').map((r) => el('option', { value: r.id, text: '#' + r.name })));
  const platform = el('select', { id: 'bridge-platform', 'aria-label': 'Platform' }, el('option', { value: 'telegram', text: 'Telegram' }));
  const chat = el('input', { required: true, id: 'bridge-chat', inputmode: 'numeric', placeholder: '-1001234567890', 'aria-label': 'Platform chat id' });
  const form = el('form', { class: 'card inline-form', id: 'bridge-form' }, field('Hub room', room), field('Platform', platform), field('Chat id', chat),
    el('button', { type: 'submit', class: 'primary', text: 'Bridge' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(async () => {
      await post('/bridges', { room: room.value, platform: platform.value, chat_id: chat.value.trim() });
      toast('Bridge created');
      clear(box);
      await botsAdmin(box);
    });
  });
  if (!room.options.length) box.append(el('p', { class: 'muted', text: 'Join a room in the chat hub to bridge it.' }));
  else box.append(el('p', { class: 'muted', text: 'The chat id of a Telegram group is a negative number; the bot must be a member of that group.' }), form);
}

/** The account page's section: link a chat account, choose the digest time. */
export function chatAccountSection() {
  const section = el('section', { class: 'card', id: 'link-account' });
  const out = el('div', { 'aria-live': 'polite', id: 'link-code-box' });
  let timer = null;
  const showCode = (c) => {
    clear(out);
    clearInterval(timer);
    const left = el('span', { class: 'muted', id: 'link-code-expiry' });
    const tick = () => {
      const secs = Math.round((new Date(c.expires_at) - Date.now()) / 1000);
      if (secs <= 0) {
        left.textContent = 'expired — create a new code';
        clearInterval(timer);
        return;
      }
      left.textContent = 'valid for ' + Math.floor(secs / 60) + ' min ' + String(secs % 60).padStart(2, '0') + ' s (until ' + fmtDate(c.expires_at) + ')';
    };
    tick();
    timer = setInterval(() => (out.isConnected ? tick() : clearInterval(timer)), 1000);
    const command = '/link ' + c.code;
    out.append(
      el('p', {}, 'Your code: ', el('code', { class: 'secret', id: 'link-code', text: c.code }), ' ', left),
      el('p', {}, 'Send ', el('code', { text: command }), ' to the EA CRM bot in a private chat on Telegram or Discord. The code works once.'),
      el('button', { type: 'button', text: 'Copy the command', onclick: () => copy(command) }));
  };
  section.append(el('h2', { text: 'Link a chat account' }),
    el('p', { class: 'muted', text: 'Use the Telegram or Discord bot as yourself: log follow-ups, create leads and get reminders from chat.' }),
    el('button', { type: 'button', id: 'link-code-create', class: 'primary', text: 'Create a link code', onclick: () => attempt(async () => showCode(await post('/me/link-code'))) }),
    out);

  const time = el('input', { type: 'time', id: 'digest-time', 'aria-label': 'Digest time' });
  const current = el('p', { id: 'digest-current', 'aria-live': 'polite' });
  const showCurrent = (t) => {
    current.textContent = t ? 'Your digest comes at ' + t + ' each day.' : 'You get no digest.';
    time.value = t || '';
  };
  get('/me/digest').then((r) => showCurrent(r.time), () => {});
  const digest = el('form', { class: 'toolbar', id: 'digest-form' }, field('Daily digest at (your time)', time),
    el('button', { type: 'submit', text: 'Save' }),
    el('button', { type: 'button', text: 'Stop the digest', onclick: () => attempt(async () => { await put('/me/digest', { time: null }); showCurrent(null); toast('Digest stopped'); }) }));
  digest.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!time.value) return toast('Pick a time first', 'error');
    attempt(async () => {
      const r = await put('/me/digest', { time: time.value });
      showCurrent(r.time);
      toast('Digest at ' + r.time + ' each day');
    });
  });
  section.append(el('h3', { text: 'Daily digest' }), el('p', { class: 'muted', text: 'The bot sends your due follow-ups once a day to your linked account.' }), current, digest);
  return section;
}

export async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    toast('Copied');
  } catch (_) {
    toast('Copy failed: select the text and copy it yourself', 'error');
  }
}
