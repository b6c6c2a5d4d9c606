// AI views: a lead's score with its reasons, a drafted follow-up to edit and
// copy, the relationship map (SVG built node by node, with a list holding
// the same facts), the duplicates page, productivity patterns, and the AI
// administration tab. Model output is shown as text only; nothing is sent.
import { get, post } from './api.js';
import { el, clear, toast, attempt, field, fmtDate } from './ui.js';
import { can, on } from './session.js';
import { copy } from './bots.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'text') node.textContent = v;
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c) node.append(c);
  return node;
}

const KIND_LABEL = { same_domain: 'same website domain', shared_person: 'shared person', referral: 'referral', parent_company: 'parent company' };
const kindLabel = (k) => KIND_LABEL[k] || k.replace(/_/g, ' ');

/** The lead page's AI part: score, draft, relationship map, each while
 * its feature is switched on. */
export async function leadAiSection(root, lead) {
  if (!can('ai.use')) return;
  const shown = [];
  if (on('lead_scoring')) {
    const scoreBox = el('section', { id: 'lead-score', class: 'card' });
    root.append(scoreBox);
    shown.push(showScore(scoreBox, lead));
  }
  if (on('relationship_map')) {
    const mapBox = el('section', { id: 'relations', class: 'card' });
    root.append(mapBox);
    shown.push(showRelations(mapBox, lead));
  }
  if (on('drafting')) {
    const draftBox = el('section', { id: 'lead-draft', class: 'card' });
    root.append(draftBox);
    draftSection(draftBox, lead);
  }
  await Promise.all(shown);
}

async function showScore(box, lead) {
  box.append(el('h2', { text: 'AI score' }));
  const s = await attempt(() => get('/ai/leads/' + lead.id + '/score'));
  if (!s) return;
  box.append(el('p', {}, el('span', { class: 'score-big', id: 'lead-score-value', text: String(s.score) }), el('span', { class: 'muted', text: ' of 100' })));
  const ul = el('ul', { class: 'reasons' });
  for (const r of s.reasons) {
    const bar = el('meter', { min: 0, max: r.max || 1, value: r.points, 'aria-label': r.factor + ': ' + r.points + ' of ' + r.max });
    ul.append(el('li', {}, el('strong', { text: r.factor }), ' ', bar, ' ', el('span', { class: 'muted', text: r.points + '/' + r.max }), el('div', { text: r.detail })));
  }
  box.append(ul);
}

function draftSection(box, lead) {
  const channel = el('select', { 'aria-label': 'Draft for', id: 'draft-channel' }, el('option', { value: 'email', text: 'Email' }), el('option', { value: 'chat', text: 'Chat message' }));
  const tone = el('select', { 'aria-label': 'Tone', id: 'draft-tone' }, ['friendly', 'formal', 'brief'].map((t) => el('option', { value: t, text: t })));
  const subject = el('input', { 'aria-label': 'Subject', id: 'draft-subject', hidden: true, class: 'wide' });
  const body = el('textarea', { rows: 8, 'aria-label': 'Drafted message', id: 'draft-body', hidden: true, class: 'wide' });
  const note = el('p', { class: 'muted', id: 'draft-note' });
  const copyBtn = el('button', { type: 'button', hidden: true, text: 'Copy to clipboard', onclick: () => copy((subject.value && !subject.hidden ? 'Subject: ' + subject.value + '\n\n' : '') + body.value) });
  const go = el('button', { type: 'button', id: 'draft-button', text: 'Draft a message', onclick: () => attempt(async () => {
    go.disabled = true;
    try {
      const d = await post('/ai/leads/' + lead.id + '/draft', { channel: channel.value, tone: tone.value });
      subject.hidden = !d.subject;
      subject.value = d.subject || '';
      body.hidden = false;
      body.value = d.body;
      copyBtn.hidden = false;
      note.textContent = 'Drafted by the ' + d.provider + ' provider' + (d.fallback_reason ? ' (' + d.fallback_reason + ')' : '') + '. Edit it, then copy it; nothing is sent for you.';
      body.focus();
    } finally {
      go.disabled = false;
    }
  }) });
  box.append(el('h2', { text: 'Follow-up draft' }), el('div', { class: 'toolbar' }, channel, tone, go), subject, body, note, copyBtn);
}

async function showRelations(box, lead) {
  box.append(el('h2', { text: 'Relationship map' }));
  const rel = await attempt(() => get('/ai/leads/' + lead.id + '/relations'));
  if (!rel) return;
  // One node per neighbour, carrying every link it has to this lead.
  const byLead = new Map();
  for (const n of rel) {
    if (!byLead.has(n.lead)) byLead.set(n.lead, { id: n.lead, name: n.company_name, links: [] });
    byLead.get(n.lead).links.push(n);
  }
  const nodes = [...byLead.values()];
  if (!nodes.length) {
    box.append(el('p', { class: 'muted', id: 'relations-empty', text: 'No related leads yet: none shares a domain or a person, and no referral or parent company is recorded.' }));
  } else {
    box.append(relationSvg(lead, nodes));
    const ul = el('ul', { class: 'list', id: 'relations-list' });
    for (const n of nodes) {
      ul.append(el('li', {}, el('a', { href: '#/leads/' + n.id, text: n.name }), ' — ',
        n.links.map((l) => kindLabel(l.kind) + (l.kind === 'referral' || l.kind === 'parent_company' ? (l.direction === 'out' ? ' (from this lead)' : ' (to this lead)') : '') + (l.detail ? ': ' + l.detail : '')).join('; ')));
    }
    box.append(el('h3', { text: 'As a list' }), ul);
  }
  if (can('leads.write')) box.append(relateForm(box, lead));
}

function relationSvg(lead, nodes) {
  const c = 0;
  const radius = nodes.length === 1 ? 110 : Math.min(200, 90 + nodes.length * 8);
  const g = svg('g');
  const edges = svg('g');
  const label = (text, x, y, cls) => svg('text', { x, y, 'text-anchor': 'middle', class: cls, text: text.length > 22 ? text.slice(0, 21) + '…' : text });
  // The drawing is cropped to what it holds, so a single neighbour does
  // not leave a mostly empty square.
  const box = { minX: -70, maxX: 70, minY: -30, maxY: 45 };
  nodes.forEach((n, i) => {
    const a = (2 * Math.PI * i) / nodes.length - Math.PI / 2;
    const x = Math.round(c + radius * Math.cos(a));
    const y = Math.round(c + radius * Math.sin(a));
    const kinds = [...new Set(n.links.map((l) => l.kind))];
    // Names sit outside their node, away from the centre.
    const below = Math.sin(a) >= -0.2;
    const ly = below ? y + 24 : y - 15;
    box.minX = Math.min(box.minX, x - 75);
    box.maxX = Math.max(box.maxX, x + 75);
    box.minY = Math.min(box.minY, ly - 14, y - 14);
    box.maxY = Math.max(box.maxY, ly + 8, y + 14);
    edges.append(svg('line', { x1: c, y1: c, x2: x, y2: y, class: 'edge edge-' + kinds[0] }),
      label(kinds.map(kindLabel).join(', '), Math.round((c + x) / 2), Math.round((c + y) / 2) - 4, 'edge-label'));
    const link = svg('a', { href: '#/leads/' + n.id, 'aria-label': n.name + ': ' + kinds.map(kindLabel).join(', ') },
      svg('title', { text: n.name }),
      svg('circle', { cx: x, cy: y, r: 9, class: 'node' }),
      label(n.name, x, ly, 'node-label'));
    g.append(link);
  });
  const w = box.maxX - box.minX;
  const h = box.maxY - box.minY;
  return svg('svg', { viewBox: [box.minX, box.minY, w, h].join(' '), width: w, height: h, class: 'relmap', role: 'group', id: 'relations-map', 'aria-label': 'Relationship map of ' + lead.company_name + ' with ' + nodes.length + ' related leads' },
    edges,
    svg('circle', { cx: c, cy: c, r: 13, class: 'node node-centre' }),
    label(lead.company_name, c, c + 30, 'node-label centre-label'),
    g);
}

function relateForm(box, lead) {
  const to = el('input', { required: true, id: 'relate-to', placeholder: 'Company', 'aria-label': 'Related company', list: 'relate-options' });
  const options = el('datalist', { id: 'relate-options' });
  const found = new Map();
  to.addEventListener('input', async () => {
    const q = to.value.trim();
    if (q.length < 2) return;
    const page = await get('/leads?limit=8&q=' + encodeURIComponent(q)).catch(() => ({ items: [] }));
    clear(options);
    for (const l of page.items.filter((l) => l.id !== lead.id)) {
      found.set(l.company_name, l.id);
      options.append(el('option', { value: l.company_name }));
    }
  });
  const kind = el('select', { 'aria-label': 'Kind of relation', id: 'relate-kind' }, el('option', { value: 'referral', text: 'referred' }), el('option', { value: 'parent_company', text: 'is the parent company of' }));
  const form = el('form', { class: 'toolbar', id: 'relate-form' }, el('span', { text: lead.company_name }), kind, to, options, el('button', { type: 'submit', text: 'Record relation' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = found.get(to.value);
    if (!id) return toast('Pick a company from the suggestions', 'error');
    attempt(async () => {
      await post('/ai/leads/' + lead.id + '/relations', { to: id, kind: kind.value });
      toast('Relation recorded');
      clear(box);
      await showRelations(box, lead);
    });
  });
  return form;
}

/** Candidate duplicates, most likely first, each mergeable after a confirmation. */
export async function duplicatesPage(root) {
  root.append(el('h1', { text: 'Possible duplicates' }));
  const min = el('select', { 'aria-label': 'Lowest confidence', id: 'dup-min' }, [0.5, 0.7, 0.9].map((v) => el('option', { value: v, text: 'Confidence ≥ ' + Math.round(v * 100) + '%' })));
  const box = el('section', { id: 'duplicates' });
  root.append(el('div', { class: 'toolbar' }, min), box);
  const load = () => attempt(async () => {
    clear(box);
    const list = await get('/ai/duplicates?limit=50&min_confidence=' + min.value);
    if (!list.length) return box.append(el('p', { class: 'muted', text: 'No likely duplicates.' }));
    const ids = [...new Set(list.flatMap((d) => [d.lead_a, d.lead_b]))];
    const leads = new Map();
    await Promise.all(ids.map(async (id) => {
      const d = await get('/leads/' + id).catch(() => null);
      if (d) leads.set(id, d.lead);
    }));
    const mayMerge = can('leads.write') && can('leads.delete');
    for (const d of list) {
      const a = leads.get(d.lead_a);
      const b = leads.get(d.lead_b);
      if (!a || !b) continue;
      const describe = (l) => el('div', {}, el('a', { href: '#/leads/' + l.id, text: l.company_name }), el('div', { class: 'muted', text: [l.domain, l.country, 'created ' + fmtDate(l.created_at)].filter(Boolean).join(' · ') }));
      const merge = (keep, gone) => el('button', { type: 'button', text: 'Keep ' + keep.company_name, onclick: () => {
        if (!confirm('Merge "' + gone.company_name + '" into "' + keep.company_name + '"? Its contacts, follow-ups, calls and history move over and it goes to the trash.')) return;
        attempt(async () => { await post('/ai/duplicates/merge', { keep: keep.id, merge: gone.id }); toast('Merged into ' + keep.company_name); await load(); });
      } });
      box.append(el('article', { class: 'card dup' },
        el('p', {}, el('strong', { text: Math.round(d.confidence * 100) + '% likely the same' }), ' ', el('span', { class: 'muted', text: d.signals.join(' · ') })),
        el('div', { class: 'dup-pair' }, describe(a), describe(b)),
        mayMerge ? el('div', { class: 'toolbar' }, merge(a, b), merge(b, a)) : null));
    }
  });
  min.addEventListener('change', load);
  await load();
}

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** When leads are reached (hours and days on their clocks) and each rep's activity. */
export async function patternsPage(root) {
  root.append(el('h1', { text: 'Productivity patterns' }));
  const industry = el('input', { 'aria-label': 'Industry', placeholder: 'Industry (all)', id: 'patterns-industry' });
  const tz = el('input', { 'aria-label': 'Lead timezone', placeholder: 'Timezone, e.g. Europe/Berlin', id: 'patterns-tz' });
  const form = el('form', { class: 'toolbar' }, industry, tz, el('button', { type: 'submit', text: 'Apply' }));
  const box = el('section', { id: 'patterns' });
  root.append(form, box);
  let users = [];
  if (can('users.read')) users = (await get('/users?limit=200')).items;
  const userName = (id) => (users.find((u) => u.id === id) || {}).username || id;
  const load = () => attempt(async () => {
    const q = new URLSearchParams();
    if (industry.value.trim()) q.set('industry', industry.value.trim());
    if (tz.value.trim()) q.set('timezone', tz.value.trim());
    const p = await get('/ai/patterns?' + q);
    clear(box);
    box.append(el('p', { class: 'muted', text: p.touches + ' calls and follow-ups looked at; hours and days are on each lead\'s own clock.' }));
    if (!p.touches) return;
    const best = p.best_hours.find((s) => s.attempts >= 3);
    if (best) box.append(el('p', { id: 'best-hour' }, 'Best hour to reach people: ', el('strong', { text: String(best.slot).padStart(2, '0') + ':00' }), ' (' + Math.round(best.reach_rate * 100) + '% of ' + best.attempts + ' attempts)'));
    box.append(el('h2', { text: 'Reach rate by hour' }), heatmap(p.best_hours, 24, (i) => String(i).padStart(2, '0'), 'patterns-hours'));
    box.append(el('h2', { text: 'Reach rate by weekday' }), heatmap(p.best_days, 7, (i) => DAYS[i], 'patterns-days', 1));
    const tb = el('tbody');
    for (const r of p.reps) tb.append(el('tr', {}, el('th', { scope: 'row', text: userName(r.user) }), el('td', { text: String(r.activities) }), el('td', { text: Math.round(r.reach_rate * 100) + '%' }), el('td', { text: String(r.busiest_hour_utc).padStart(2, '0') + ':00 UTC' })));
    box.append(el('h2', { text: 'Per rep' }), el('div', { class: 'table-wrap' }, el('table', { class: 'table', id: 'patterns-reps' }, el('thead', {}, el('tr', {}, ['Rep', 'Activities', 'Reach rate', 'Busiest hour'].map((h) => el('th', { text: h })))), tb)));
  });
  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  await load();
}

/** A one-row heat map: a cell per slot, shaded by reach rate, the numbers as text. */
function heatmap(slots, count, name, id, first = 0) {
  const bySlot = new Map(slots.map((s) => [s.slot, s]));
  const head = el('tr', {});
  const row = el('tr', {});
  for (let i = 0; i < count; i++) {
    const s = bySlot.get(i + first);
    head.append(el('th', { scope: 'col', text: name(i) }));
    const rate = s && s.attempts ? s.reach_rate : null;
    const band = rate == null ? 'none' : Math.min(5, Math.floor(rate * 5 + 0.0001));
    row.append(el('td', { class: 'heat heat-' + band, title: s ? s.reached + ' of ' + s.attempts + ' reached' : 'no attempts', text: rate == null ? '–' : Math.round(rate * 100) + '%' }));
  }
  return el('div', { class: 'table-wrap' }, el('table', { class: 'table heatmap keep-cols', id }, el('thead', {}, head), el('tbody', {}, row)));
}

/** Administration tab: provider status, token use. */
export async function aiAdmin(box) {
  const s = await get('/ai/status');
  box.append(el('h2', { text: 'Provider' }),
    el('dl', { class: 'facts', id: 'ai-provider' },
      el('dt', { text: 'Provider' }), el('dd', { text: s.provider }),
      el('dt', { text: 'Model' }), el('dd', { text: s.model || '—' }),
      el('dt', { text: 'Circuit' }), el('dd', { class: s.circuit_open ? 'error' : '', text: s.circuit_open ? 'open: the model service is resting after failures; the local provider answers' : 'closed (normal)' })));
  box.append(el('h2', { text: 'Features' }),
    el('p', {}, 'Each AI feature is switched on and off under ', el('a', { href: '#/admin/features', text: 'Administration → Features' }), '.'),
    on('lead_scoring') ? el('button', { type: 'button', text: 'Rescore every lead', onclick: () => attempt(async () => { const r = await post('/ai/scores/recompute'); toast(r.changed + ' scores changed'); }) }) : null);
  if (on('lead_scoring')) {
    const fitBox = el('section', { id: 'ai-fit', 'aria-labelledby': 'ai-fit-title' });
    box.append(fitBox);
    await fitModel(fitBox);
  }
  const tb = el('tbody');
  for (const u of s.usage) tb.append(el('tr', {}, el('td', { text: u.feature }), el('td', { text: u.user || '—' }), el('td', { text: String(u.calls) }), el('td', { text: String(u.failures) }), el('td', { text: String(u.prompt_tokens + u.completion_tokens) })));
  if (!s.usage.length) tb.append(el('tr', {}, el('td', { colspan: 5, class: 'muted', text: 'No model calls yet.' })));
  box.append(el('h2', { text: 'Token use' }), el('div', { class: 'table-wrap' }, el('table', { class: 'table keep-cols', id: 'ai-usage' }, el('thead', {}, el('tr', {}, ['Feature', 'User', 'Calls', 'Failures', 'Tokens'].map((h) => el('th', { text: h })))), tb)));
}

/** The lead-fit model: whether a learned model or the win-rate rule scores
 * fit, when and on how many closed leads it was trained, its weights; with
 * `ai.manage` it is retrained on demand. */
async function fitModel(box, fit) {
  const f = fit || await get('/ai/fit');
  clear(box);
  const learned = f.mode === 'learned';
  box.append(el('h2', { id: 'ai-fit-title', text: 'Lead fit model' }),
    el('p', { id: 'ai-fit-mode', text: learned
      ? 'A model learned from this instance\'s won and lost leads scores fit.'
      : 'The win-rate rule scores fit: a model is learned once there are ' + f.min_closed + ' closed leads with both outcomes (now ' + f.samples + ').' }),
    el('dl', { class: 'facts', id: 'ai-fit-facts' },
      el('dt', { text: 'Trained' }), el('dd', { text: f.trained_at ? fmtDate(f.trained_at) : 'never' }),
      el('dt', { text: 'Closed leads' }), el('dd', { text: String(f.samples) }),
      el('dt', { text: 'Won' }), el('dd', { text: String(f.won) }),
      el('dt', { text: 'Lost' }), el('dd', { text: String(f.lost) }),
      el('dt', { text: 'Needed' }), el('dd', { text: String(f.min_closed) })));
  if (f.weights && f.weights.length) {
    box.append(el('div', { class: 'table-wrap' }, el('table', { class: 'table keep-cols', id: 'ai-fit-weights' },
      el('caption', { text: 'Learned weights, strongest first (positive favours winning)' }),
      el('thead', {}, el('tr', {}, ['Feature', 'Weight'].map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, f.weights.map((w) => el('tr', {}, el('th', { scope: 'row', text: w.feature }), el('td', { text: w.weight.toFixed(3) })))))));
  }
  if (can('ai.manage')) {
    box.append(el('button', { type: 'button', id: 'ai-fit-train', text: 'Train now', onclick: () => attempt(async () => {
      const r = await post('/ai/fit/train', {});
      toast(r.mode === 'learned' ? 'Fit model trained on ' + r.samples + ' leads' : 'Too little history: ' + r.samples + ' of ' + r.min_closed + ' closed leads');
      await fitModel(box, r);
    }) }));
  }
}
