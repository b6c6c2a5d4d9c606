// The import wizard: pick a CSV/XLSX file, check and change how its columns
// map to fields, dry-run with per-row errors, import with progress, report,
// and undo within the window. Each check or import is a job on the server:
// the upload is answered at once, progress comes from the job (read every
// half second, and from the live connection's import.progress events), so
// closing the page does not stop an import. Below, the past imports (the
// user's own; everyone's with leads.read.all), each with its report and an
// Undo button while the server's undo window lasts.
import { upload, get, post } from './api.js';
import { el, clear, toast, attempt, field, fmtDate } from './ui.js';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

const isXlsx = (f) => f.name.toLowerCase().endsWith('.xlsx');
const typeOf = (f) => (isXlsx(f) ? XLSX : 'text/csv');

export async function importPage(root) {
  root.append(el('h1', { text: 'Import leads' }));
  const file = el('input', { type: 'file', accept: '.csv,.xlsx,text/csv,' + XLSX, id: 'import-file', required: true });
  const policy = el('select', { id: 'import-policy', 'aria-label': 'Duplicates' }, ['skip', 'update', 'create'].map((p) => el('option', { value: p, text: 'Duplicates: ' + p })));
  const mapBox = el('section', { class: 'mapping', id: 'import-mapping', 'aria-live': 'polite' });
  const progress = el('progress', { max: 1, value: 0, hidden: true, id: 'import-progress' });
  const progressText = el('span', { class: 'muted', id: 'import-progress-text' });
  const report = el('section', { id: 'import-report', 'aria-live': 'polite' });
  const dry = el('button', { type: 'button', id: 'import-dry-run', text: '2. Check (dry run)', disabled: true });
  const run = el('button', { type: 'button', class: 'primary', id: 'import-run', text: '3. Import', disabled: true });
  root.append(
    el('div', { class: 'card' }, field('1. File (CSV or XLSX)', file), policy, mapBox, el('div', { class: 'toolbar' }, dry, run, progress, progressText)),
    report);
  const past = el('section', { id: 'import-history', 'aria-labelledby': 'import-history-title' });
  root.append(past);
  let historyLimit = 20;
  const refreshHistory = () => attempt(() => showHistory(past, historyLimit, (more) => { historyLimit = more; refreshHistory(); }));
  refreshHistory();

  // header -> its <select>; the mapping sent is every column's choice.
  const selects = new Map();
  let checkedRows = 0;

  file.addEventListener('change', async () => {
    clear(mapBox);
    clear(report);
    selects.clear();
    run.disabled = true;
    dry.disabled = true;
    const f = file.files[0];
    if (!f) return;
    mapBox.append(el('p', { class: 'muted', text: 'Reading the columns…' }));
    try {
      const cols = await upload('/leads/import/columns', f, typeOf(f));
      showColumns(cols);
      dry.disabled = false;
    } catch (e) {
      clear(mapBox);
      mapBox.append(el('p', { class: 'error', text: e.message }));
    }
  });

  function showColumns(cols) {
    clear(mapBox);
    mapBox.append(el('h2', { text: 'Columns' }), el('p', { class: 'muted', text: 'Each column fills the field shown; change any that are wrong, or ignore a column.' }));
    const tb = el('tbody');
    for (const c of cols.columns) {
      const s = el('select', { 'aria-label': 'Field for column ' + c.header, 'data-header': c.header },
        el('option', { value: '', text: '(ignore)' }),
        cols.fields.map((x) => el('option', { value: x, text: x.replace(/_/g, ' '), selected: x === c.field })));
      if (!c.field) s.value = '';
      s.addEventListener('change', () => {
        run.disabled = true; // the last check no longer matches
        markDuplicates();
      });
      selects.set(c.header, s);
      tb.append(el('tr', {}, el('th', { scope: 'row', text: c.header }), el('td', {}, s), el('td', { class: 'muted', text: c.samples.filter(Boolean).join(' · ') })));
    }
    mapBox.append(el('div', { class: 'table-wrap' }, el('table', { class: 'table', id: 'import-columns' },
      el('thead', {}, el('tr', {}, el('th', { text: 'Column' }), el('th', { text: 'Field' }), el('th', { text: 'First values' }))), tb)));
    markDuplicates();
  }

  // Two columns on one field: only the first would count, so say so.
  function markDuplicates() {
    const seen = new Set();
    for (const s of selects.values()) {
      const dup = s.value && seen.has(s.value);
      s.classList.toggle('invalid', Boolean(dup));
      s.title = dup ? 'Another column already fills this field' : '';
      if (s.value) seen.add(s.value);
    }
  }

  function mapping() {
    const m = {};
    for (const [header, s] of selects) m[header] = s.value;
    return m;
  }

  async function send(dryRun) {
    const f = file.files[0];
    if (!f) return toast('Choose a file first', 'error');
    const m = mapping();
    if (!Object.values(m).includes('company_name')) return toast('Map one column to company_name', 'error');
    const q = new URLSearchParams({ dry_run: String(dryRun), policy: policy.value, mapping: JSON.stringify(m), name: f.name });
    progress.hidden = false;
    progress.value = 0;
    progressText.textContent = 'Uploading…';
    dry.disabled = true;
    run.disabled = true;
    clear(report);
    // The job's progress: from its events when the live connection is up,
    // and from reading the job in between.
    let jobId = null;
    const showProgress = (rows, total) => {
      progressText.textContent = rows + (total ? ' of ' + total : '') + ' rows';
      if (total) progress.value = Math.min(1, rows / total);
    };
    const onProgress = (e) => {
      const { topic, payload } = e.detail;
      if (topic !== 'import.progress' || payload.job !== jobId) return;
      showProgress(payload.rows_done, payload.rows_total);
    };
    window.addEventListener('ea:event', onProgress);
    try {
      const answer = await upload('/leads/import?' + q, f, typeOf(f), (p) => {
        progress.value = p;
        if (p >= 1) progressText.textContent = 'Processing rows…';
      });
      jobId = answer.job.id;
      progress.value = 0;
      const job = await follow(jobId, showProgress);
      progress.value = 1;
      if (job.status === 'failed') throw new Error(job.error || 'The import failed');
      showReport(report, job.report);
      if (!dryRun) showUndo(job, report, refreshHistory);
      refreshHistory();
      if (dryRun) checkedRows = job.report.rows;
      run.disabled = !dryRun;
    } catch (e) {
      report.append(el('p', { class: 'error', role: 'alert', text: e.message }));
    } finally {
      window.removeEventListener('ea:event', onProgress);
      progress.hidden = true;
      progressText.textContent = '';
      dry.disabled = false;
    }
  }

  // Reads the job until it has finished.
  async function follow(id, onRows) {
    for (;;) {
      const job = await get('/leads/imports/' + encodeURIComponent(id));
      if (job.status !== 'queued' && job.status !== 'running') return job;
      onRows(job.rows_done, job.rows_total);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  dry.addEventListener('click', () => send(true));
  run.addEventListener('click', () => send(false));
}

function showUndo(job, report, after) {
  if (!job.undo_until) return;
  const undo = el('button', { type: 'button', id: 'import-undo', text: 'Undo this import' });
  const note = el('span', { class: 'muted', text: ' until ' + fmtDate(job.undo_until) + ': created leads go to the trash, updated leads get their earlier values back.' });
  const box = el('p', { id: 'import-undo-box' }, undo, note);
  undo.addEventListener('click', async () => {
    if (!window.confirm('Undo this import? The leads it created go to the trash and the leads it updated get their earlier values back.')) return;
    undo.disabled = true;
    try {
      const done = await post('/leads/imports/' + encodeURIComponent(job.id) + '/undo');
      const u = done.undo;
      clear(box);
      box.append(el('span', { id: 'import-undone', text: `Undone: ${u.trashed} created leads moved to the trash, ${u.restored} updated leads restored.` }));
      if (u.left_count) {
        box.append(el('span', { class: 'error', text: ` ${u.left_count} leads changed since the import were left as they are.` }));
      }
      if (after) after();
    } catch (e) {
      undo.disabled = false;
      toast(e.message, 'error');
    }
  });
  report.append(box);
}

/** A job's report into `report`; `live` for the import just run (whose
 * tables carry ids), not for one of the past imports. */
function showReport(report, r, live = true) {
  report.append(el(live ? 'h2' : 'h3', { text: r.dry_run ? 'Dry run: nothing was written' : 'Import finished' }));
  const dl = el('dl', { class: 'facts' });
  for (const k of ['rows', 'created', 'updated', 'unchanged', 'skipped', 'failed', 'contacts_added']) dl.append(el('dt', { text: k.replace('_', ' ') }), el('dd', { text: String(r[k]), 'data-key': k }));
  report.append(dl);
  if (r.errors.length) {
    const tb = el('tbody');
    for (const e of r.errors) tb.append(el('tr', {}, el('td', { text: String(e.row) }), el('td', { text: e.column || '' }), el('td', { text: e.reason })));
    report.append(el(live ? 'h3' : 'h4', { text: 'Rows with errors' }), el('div', { class: 'table-wrap' }, el('table', { class: 'table', id: live ? 'import-errors' : null }, el('thead', {}, el('tr', {}, el('th', { text: 'Row' }), el('th', { text: 'Column' }), el('th', { text: 'Problem' }))), tb)));
  } else if (r.dry_run) {
    report.append(el('p', { class: 'muted', text: 'No errors found. Import when ready.' }));
  }
  if (r.names_read && r.names_read.length) {
    const tb = el('tbody');
    for (const n of r.names_read) tb.append(el('tr', {}, el('td', { text: `${n.field} "${n.typed}"` }), el('td', { text: n.read_as }), el('td', { text: String(n.first_row) }), el('td', { text: String(n.rows) })));
    report.append(el(live ? 'h3' : 'h4', { text: 'Names read as codes' }), el('div', { class: 'table-wrap' }, el('table', { class: 'table', id: live ? 'import-names' : null }, el('thead', {}, el('tr', {}, el('th', { text: 'Typed' }), el('th', { text: 'Read as' }), el('th', { text: 'First row' }), el('th', { text: 'Rows' }))), tb)));
  }
}

const STATES = { queued: 'Queued', running: 'Running', completed: 'Completed', failed: 'Failed', undone: 'Undone' };

/** Whether the server still takes an undo of `job`: it names the end of
 * the window (`undo_until`) only for a finished import not undone yet. */
const undoable = (job) => Boolean(job.undo_until) && new Date(job.undo_until) > new Date();

/** The past imports, newest first, `limit` of them; `more(n)` shows n. */
async function showHistory(box, limit, more) {
  const list = await get('/leads/imports?limit=' + limit);
  clear(box);
  box.append(el('h2', { id: 'import-history-title', text: 'Past imports' }));
  if (!list.items.length) {
    box.append(el('p', { class: 'muted', text: 'No imports yet.' }));
    return;
  }
  const ul = el('ul', { class: 'list import-jobs' });
  for (const job of list.items) {
    const r = job.report;
    const counts = job.status === 'queued' || job.status === 'running'
      ? `${job.rows_done}${job.rows_total ? ' of ' + job.rows_total : ''} rows so far`
      : `${r.rows} rows: ${r.created} created, ${r.updated} updated, ${r.skipped} skipped, ${r.failed} failed`;
    const name = job.file_name || 'Import ' + job.id;
    const details = el('details', {}, el('summary', { text: 'Report' }));
    showReport(details, r, false);
    if (job.error) details.append(el('p', { class: 'error', text: job.error }));
    const actions = el('div', { class: 'toolbar' });
    if (undoable(job)) {
      actions.append(
        el('button', { type: 'button', 'data-action': 'undo', text: 'Undo', 'aria-label': 'Undo the import of ' + name, onclick: (e) => attempt(async () => {
          if (!window.confirm('Undo the import of ' + name + '? The leads it created go to the trash and the leads it updated get their earlier values back.')) return;
          e.currentTarget.disabled = true;
          const done = await post('/leads/imports/' + encodeURIComponent(job.id) + '/undo');
          const u = done.undo;
          toast(`Undone: ${u.trashed} created leads moved to the trash, ${u.restored} updated leads restored` + (u.left_count ? `; ${u.left_count} changed since were left as they are` : '') + '.');
          more(limit);
        }) }),
        el('span', { class: 'muted', text: ' until ' + fmtDate(job.undo_until) }));
    } else if (job.undone_at) {
      actions.append(el('span', { class: 'muted', text: 'Undone ' + fmtDate(job.undone_at) }));
    } else if (job.undo_until) {
      actions.append(el('span', { class: 'muted', text: 'Could be undone until ' + fmtDate(job.undo_until) }));
    }
    ul.append(el('li', { 'data-import': job.id, 'data-status': job.status },
      el('strong', { text: name }), ' ',
      el('span', { class: 'import-state', text: (job.dry_run ? 'Dry run, ' : '') + (STATES[job.status] || job.status) }),
      el('div', { class: 'muted', text: `${counts} · by ${job.owner_name} · ${fmtDate(job.created_at)}` }),
      details, actions));
  }
  box.append(ul);
  if (list.items.length >= limit && limit < 200) {
    box.append(el('button', { type: 'button', id: 'import-history-more', text: 'Show older imports', onclick: () => more(200) }));
  }
}
