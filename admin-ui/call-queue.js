// The Caller's call queue (GET /calls/queue): the leads to call now, where
// it is business hours, due follow-ups first. Each contact's phone is a
// `tel:` link, and a call's outcome is logged with one click (calls.log).
import { post } from './api.js';
import { pager } from './pager.js';
import { el, clear, toast, attempt, fmtDate } from './ui.js';
import { reachLinks } from './contacts.js';

/** The outcomes POST /leads/{id}/calls takes, as people say them. */
export const CALL_OUTCOMES = [
  ['connected', 'Connected'], ['no_answer', 'No answer'], ['voicemail', 'Voicemail'], ['busy', 'Busy'],
  ['wrong_number', 'Wrong number'], ['interested', 'Interested'], ['not_interested', 'Not interested'], ['callback', 'Call back'],
];

const REASONS = { follow_up_due: 'Follow-up due', never_contacted: 'Never contacted' };

export async function callQueuePage(root) {
  root.append(el('h1', { text: 'Call queue' }),
    el('p', { class: 'muted', text: 'Leads to call now, where it is business hours: due follow-ups first, then leads never contacted, by score.' }));
  const refresh = el('button', { type: 'button', id: 'call-queue-refresh', text: 'Refresh' });
  const list = el('ol', { class: 'call-queue', id: 'call-queue' });
  // Each entry brings its lead's contacts: the numbers to call.
  const queue = pager('/calls/queue', (entries, first) => {
    if (first) clear(list);
    for (const e of entries) list.append(entry(e, e.contacts || []));
    if (first && !entries.length && !list.childElementCount) list.append(el('li', { class: 'muted', id: 'call-queue-empty', text: 'Nobody to call right now.' }));
  }, { label: 'More leads', id: 'call-queue-more' });
  root.append(el('div', { class: 'toolbar' }, refresh), list, queue.more);

  const load = () => queue.first();

  function entry(e, contacts) {
    const lead = e.lead;
    const notes = el('input', { id: 'call-notes-' + lead.id, placeholder: 'What was said (optional)', autocomplete: 'off' });
    const done = el('p', { class: 'logged', role: 'status', hidden: true });
    const outcomes = el('div', { class: 'toolbar outcomes', role: 'group', 'aria-label': 'Log the call to ' + lead.company_name });
    const item = el('li', { class: 'card', 'data-lead': lead.id },
      el('h2', {}, el('a', { href: '#/leads/' + lead.id, text: lead.company_name })),
      el('p', { class: 'muted', text: [REASONS[e.reason] || e.reason, lead.next_follow_up_at ? 'due ' + fmtDate(lead.next_follow_up_at) : null, 'their time ' + e.local_time + (lead.timezone ? ' (' + lead.timezone + ')' : '')].filter(Boolean).join(' · ') }),
      el('ul', { class: 'list' }, contacts.length
        ? contacts.map((c) => el('li', {}, el('strong', { text: c.name }), c.position ? ' (' + c.position + ')' : '', ' ', reachLinks(c)))
        : el('li', { class: 'muted', text: 'No contacts yet.' })),
      el('label', { class: 'field' }, el('span', { text: 'Call notes' }), notes),
      outcomes, done);
    for (const [value, label] of CALL_OUTCOMES) {
      outcomes.append(el('button', { type: 'button', 'data-outcome': value, text: label, onclick: () => attempt(async () => {
        await post('/leads/' + lead.id + '/calls', { outcome: value, notes: notes.value.trim() || null });
        toast('Call logged: ' + lead.company_name + ' — ' + label);
        done.textContent = 'Logged: ' + label;
        done.hidden = false;
        for (const b of outcomes.querySelectorAll('button')) b.disabled = true;
        notes.disabled = true;
      }) }));
    }
    return item;
  }

  refresh.addEventListener('click', () => attempt(load));
  await load();
}
