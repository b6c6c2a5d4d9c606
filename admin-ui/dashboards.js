// Analytics dashboards (`analytics.read`): Marketing (funnel with stage
// conversion, leads by source and other dimensions, time to first contact
// and responses to contact attempts) and Production
// (workload, overdue, throughput, cycle time), over a chosen date range.
import { get } from './api.js';
import { el, clear, attempt, fmtDate } from './ui.js';
import { session, can } from './session.js';
import { barChart, columnChart, figure, legend } from './charts.js';

const DAY = 86400000;

function isoDay(d) {
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 10);
}

// The chosen range survives switching between the two dashboards.
const range = { from: isoDay(new Date(Date.now() - 29 * DAY)), to: isoDay(new Date()) };

/** The range as API bounds: local midnights, `to` exclusive (the next day). */
function bounds() {
  const from = new Date(range.from + 'T00:00');
  const to = new Date(new Date(range.to + 'T00:00').getTime() + DAY);
  return { from, to, query: 'from=' + encodeURIComponent(from.toISOString()) + '&to=' + encodeURIComponent(to.toISOString()) };
}

const pct = (x) => (x === null || x === undefined ? '—' : Math.round(x * 100) + '%');
const hours = (h) => (h === null || h === undefined ? '—' : h < 10 ? h.toFixed(1) + ' h' : Math.round(h) + ' h');

async function userNames() {
  const people = can('users.read') ? (await get('/users?limit=200')).items : [];
  return (id) => {
    if (!id) return 'Unassigned';
    const u = people.find((p) => p.id === id) || (session.user.id === id ? session.user : null);
    return u ? u.username : id.slice(0, 8);
  };
}

export async function analyticsPage(root, args) {
  const fallback = can('tasks.manage') ? 'production' : 'marketing';
  const tab = args[0] === 'production' || args[0] === 'marketing' ? args[0] : fallback;
  root.append(el('h1', { text: tab === 'production' ? 'Production dashboard' : 'Marketing dashboard' }));
  root.append(el('nav', { class: 'tabs', 'aria-label': 'Dashboards' },
    el('a', { href: '#/analytics/marketing', id: 'dash-marketing-tab', 'aria-current': tab === 'marketing' ? 'page' : null, text: 'Marketing' }),
    el('a', { href: '#/analytics/production', id: 'dash-production-tab', 'aria-current': tab === 'production' ? 'page' : null, text: 'Production' })));

  const from = el('input', { type: 'date', value: range.from, id: 'range-from', required: true });
  const to = el('input', { type: 'date', value: range.to, id: 'range-to', required: true });
  const error = el('span', { class: 'error', role: 'alert' });
  const form = el('form', { class: 'toolbar', id: 'range-form', 'aria-label': 'Date range' },
    el('label', {}, 'From ', from), el('label', {}, 'To ', to),
    el('button', { type: 'submit', text: 'Apply' }),
    el('button', { type: 'button', class: 'link', text: 'Last 7 days', onclick: () => preset(7) }),
    el('button', { type: 'button', class: 'link', text: 'Last 30 days', onclick: () => preset(30) }),
    el('button', { type: 'button', class: 'link', text: 'Last 90 days', onclick: () => preset(90) }), error);
  const body = el('div', { class: 'dashboard', id: 'dashboard-' + tab });
  root.append(form, body);

  const draw = () => attempt(async () => {
    error.textContent = '';
    if (from.value > to.value) {
      error.textContent = 'The start must not be after the end.';
      return;
    }
    range.from = from.value;
    range.to = to.value;
    const next = el('div', {});
    await (tab === 'production' ? production(next) : marketing(next));
    clear(body).append(...next.childNodes);
  });
  function preset(days) {
    to.value = isoDay(new Date());
    from.value = isoDay(new Date(Date.now() - (days - 1) * DAY));
    draw();
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    draw();
  });
  await draw();
}

function kpis(items) {
  return el('div', { class: 'kpis' }, items.map(([id, label, value]) =>
    el('div', { class: 'kpi card', id }, el('span', { class: 'kpi-value', text: String(value) }), el('span', { text: label }))));
}

async function marketing(box) {
  const b = bounds();
  const name = await userNames();
  const dimension = el('select', { 'aria-label': 'Break leads down by', id: 'leads-by' },
    ['source', 'owner', 'country', 'industry'].map((d) => el('option', { value: d, text: 'by ' + d })));
  const [funnel, bySource] = await Promise.all([get('/analytics/funnel?' + b.query), get('/analytics/leads?by=source&' + b.query)]);

  const path = funnel.filter((s) => !s.is_lost);
  const lost = funnel.filter((s) => s.is_lost);
  const created = path.length ? path[0].reached : 0;
  const won = path.filter((s) => s.is_won).reduce((a, s) => a + s.reached, 0);
  const lostCount = lost.reduce((a, s) => a + s.current, 0);
  box.append(kpis([
    ['kpi-leads', 'Leads created', created],
    ['kpi-won', 'Won', won],
    ['kpi-lost', 'Lost', lostCount],
    ['kpi-conversion', 'Lead → won', pct(created ? won / created : null)],
  ]));

  const funnelRows = [
    ...path.map((s, i) => ({ label: s.name, value: s.reached, cls: s.is_won ? 's-won' : 's0', note: s.reached + (i ? ' · ' + pct(s.conversion) : '') })),
    ...lost.map((s) => ({ label: s.name, value: s.current, cls: 's-lost', note: s.current + ' lost' })),
  ];
  box.append(figure('chart-funnel', 'Funnel: leads created in the range that reached each stage, with conversion from the stage before',
    barChart('Lead funnel by stage', funnelRows),
    ['Stage', 'Now at this stage', 'Reached', 'Conversion from previous'],
    funnel.map((s) => [s.name + (s.is_lost ? ' (lost)' : ''), s.current, s.is_lost ? '—' : s.reached, pct(s.conversion)])));

  const breakdown = el('div', { id: 'breakdown' });
  const drawBreakdown = (rows, by) => {
    const label = (k) => (by === 'owner' ? (k ? name(k) : 'No owner') : k || '(none)');
    const sorted = [...rows].sort((a, b) => b.leads - a.leads).slice(0, 15);
    clear(breakdown).append(
      legend([{ cls: 's-won', name: 'won' }, { cls: 's-lost', name: 'lost' }, { cls: 's1', name: 'open' }]),
      figure('chart-leads-by', 'Leads created in the range by ' + by + ', with won and lost, and the win rate',
        barChart('Leads by ' + by, sorted.map((r) => ({
          label: label(r.key), value: r.leads, note: r.leads + ' · ' + pct(r.win_rate),
          segments: [{ value: r.won, cls: 's-won', name: 'won' }, { value: r.lost, cls: 's-lost', name: 'lost' }, { value: Math.max(0, r.leads - r.won - r.lost), cls: 's1', name: 'open' }],
        }))),
        [by[0].toUpperCase() + by.slice(1), 'Leads', 'Won', 'Lost', 'Win rate'],
        sorted.map((r) => [label(r.key), r.leads, r.won, r.lost, pct(r.win_rate)])));
  };
  dimension.addEventListener('change', () => attempt(async () => drawBreakdown(await get('/analytics/leads?by=' + dimension.value + '&' + b.query), dimension.value)));
  box.append(el('h2', {}, 'Leads ', dimension), breakdown);
  drawBreakdown(bySource, 'source');
  await contact(box, b, name);
}

/** A plain table in a card, with a caption and a note when empty. */
function reportTable(id, caption, head, rows) {
  return el('figure', { class: 'card report', id },
    el('figcaption', { text: caption }),
    rows.length
      ? el('div', { class: 'table-wrap' }, el('table', { class: 'table keep-cols' },
        el('thead', {}, el('tr', {}, head.map((h) => el('th', { scope: 'col', text: h })))),
        el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c, i) => (i === 0 ? el('th', { scope: 'row', text: String(c) }) : el('td', { text: String(c) }))))))))
      : el('p', { class: 'muted', text: 'No data in this range.' }));
}

/** Time to first contact (GET /analytics/first-contact) and responses to
 * contact attempts (GET /analytics/responses) over the same range. */
async function contact(box, b, name) {
  const by = el('select', { 'aria-label': 'Break first contact down by', id: 'first-contact-by' },
    ['owner', 'source', 'country', 'industry'].map((d) => el('option', { value: d, text: 'by ' + d })));
  const holder = el('div', { id: 'first-contact' });
  const contactRow = (label, r) => [label, r.leads, r.contacted, pct(r.contacted_rate), hours(r.median_hours), hours(r.mean_hours), r.within_hour, r.within_day];
  const head = ['Leads created', 'Contacted', 'Contacted rate', 'Median time', 'Mean time', 'Within an hour', 'Within a day'];
  const draw = (report, dim) => {
    const label = (k) => (dim === 'owner' ? (k ? name(k) : 'No owner') : k || '(none)');
    const rows = report.overall.leads ? [contactRow('All leads', report.overall), ...report.groups.map((g) => contactRow(label(g.key), g))] : [];
    clear(holder).append(reportTable('table-first-contact', 'Time to first contact (a call, or a follow-up done) for leads created in the range, by ' + dim,
      [dim[0].toUpperCase() + dim.slice(1), ...head], rows));
  };
  const [first, responses] = await Promise.all([get('/analytics/first-contact?by=owner&' + b.query), get('/analytics/responses?' + b.query)]);
  by.addEventListener('change', () => attempt(async () => draw(await get('/analytics/first-contact?by=' + by.value + '&' + b.query), by.value)));
  box.append(el('h2', {}, 'First contact ', by), holder);
  draw(first, 'owner');
  const respRow = (label, r) => [label, r.calls, r.calls_answered, r.follow_ups, r.follow_ups_replied, pct(r.response_rate)];
  const respHead = ['Calls', 'Answered', 'Follow-ups', 'Replied', 'Response rate'];
  box.append(el('h2', { text: 'Responses' }),
    reportTable('table-responses-rep', 'Contact attempts made in the range per rep, and how many got a response', ['Rep', ...respHead], responses.by_rep.map((r) => respRow(name(r.key), r))),
    reportTable('table-responses-day', 'Contact attempts per day', ['Day', ...respHead], responses.per_day.map((r) => respRow(r.key, r))));
}

async function production(box) {
  const b = bounds();
  const name = await userNames();
  const [workload, report, statuses] = await Promise.all([
    get('/analytics/workload'),
    get('/analytics/tasks?' + b.query),
    can('tasks.read') ? get('/tasks/statuses') : Promise.resolve([]),
  ]);
  const rows = report.by_person_and_type;
  const done = rows.reduce((a, r) => a + r.done, 0);
  const cycleSum = rows.reduce((a, r) => a + (r.mean_cycle_hours || 0) * r.done, 0);
  const withDue = rows.reduce((a, r) => a + r.with_due, 0);
  const onTime = rows.reduce((a, r) => a + r.on_time, 0);
  const open = workload.reduce((a, w) => a + w.open, 0);
  const overdue = workload.reduce((a, w) => a + w.overdue, 0);
  box.append(kpis([
    ['kpi-open', 'Open tasks', open],
    ['kpi-overdue', 'Overdue', overdue],
    ['kpi-done', 'Done in range', done],
    ['kpi-cycle', 'Mean cycle time', hours(done ? cycleSum / done : null)],
    ['kpi-on-time', 'On time', pct(withDue ? onTime / withDue : null)],
  ]));

  // Workload: open work per person, stacked by status.
  const openStatuses = statuses.filter((s) => !s.is_closed);
  const keys = openStatuses.length ? openStatuses.map((s) => s.key) : [...new Set(workload.flatMap((w) => w.by_status.map((s) => s.status)))];
  const statusName = (k) => (statuses.find((s) => s.key === k) || { name: k }).name;
  const cls = (k) => 's' + (Math.max(0, keys.indexOf(k)) % 5);
  box.append(el('h2', { text: 'Workload' }), legend(keys.map((k) => ({ cls: cls(k), name: statusName(k) }))));
  box.append(figure('chart-workload', 'Open tasks per person by status (now), with how many are overdue',
    barChart('Open tasks per person', workload.map((w) => ({
      label: name(w.assignee), value: w.open, note: w.open + (w.overdue ? ' · ' + w.overdue + ' overdue' : ''),
      segments: keys.map((k) => ({ value: (w.by_status.find((s) => s.status === k) || { count: 0 }).count, cls: cls(k), name: statusName(k) })),
    }))),
    ['Person', ...keys.map(statusName), 'Open', 'Overdue'],
    workload.map((w) => [name(w.assignee), ...keys.map((k) => (w.by_status.find((s) => s.status === k) || { count: 0 }).count), w.open, w.overdue])));

  // Throughput: tasks done per UTC day across the whole range.
  const perDay = new Map(report.done_per_day.map((d) => [d.day, d.count]));
  const points = [];
  for (let t = Date.UTC(b.from.getUTCFullYear(), b.from.getUTCMonth(), b.from.getUTCDate()); t < b.to.getTime(); t += DAY) {
    const day = new Date(t).toISOString().slice(0, 10);
    points.push({ label: day, value: perDay.get(day) || 0 });
  }
  box.append(el('h2', { text: 'Throughput' }));
  box.append(figure('chart-throughput', 'Tasks done per day (UTC) in the range: ' + done + ' in all',
    columnChart('Tasks done per day', points), ['Day', 'Done'],
    done ? points.filter((p) => p.value).map((p) => [p.label, p.value]) : []));

  // Per person: done, cycle time and on-time rate (summed over task types).
  const byPerson = new Map();
  for (const r of rows) {
    const p = byPerson.get(r.assignee || '') || { assignee: r.assignee, done: 0, cycle: 0, withDue: 0, onTime: 0 };
    p.done += r.done;
    p.cycle += (r.mean_cycle_hours || 0) * r.done;
    p.withDue += r.with_due;
    p.onTime += r.on_time;
    byPerson.set(r.assignee || '', p);
  }
  const persons = [...byPerson.values()].sort((a, b) => b.done - a.done);
  box.append(figure('chart-cycle', 'Done per person in the range, with mean cycle time (start to done) and on-time rate',
    barChart('Tasks done per person', persons.map((p) => ({ label: name(p.assignee), value: p.done, note: p.done + ' · ' + hours(p.cycle / p.done) }))),
    ['Person', 'Type', 'Done', 'Mean cycle', 'With due date', 'On time'],
    rows.map((r) => [name(r.assignee), r.task_type, r.done, hours(r.mean_cycle_hours), r.with_due, pct(r.on_time_rate)])));

  if (can('tasks.read')) {
    const late = await get('/tasks?due=overdue&sort=due&limit=10');
    box.append(el('h2', { text: 'Overdue now' }));
    const ul = el('ul', { class: 'list', id: 'overdue-list' });
    for (const t of late.items) {
      ul.append(el('li', {}, el('a', { href: '#/tasks/' + t.id, text: t.title }), ' ',
        el('span', { class: 'due due-overdue', text: 'due ' + fmtDate(t.due_at) }), ' ', el('span', { class: 'muted', text: '@' + name(t.assignee) })));
    }
    if (!late.items.length) ul.append(el('li', { class: 'muted', text: 'Nothing overdue.' }));
    box.append(ul);
  }
}
