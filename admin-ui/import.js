// The import wizard: pick a CSV/XLSX file, map columns, dry-run, import.
import { upload } from './api.js';
import { el, clear, toast, field } from './ui.js';

const FIELDS = ['company_name', 'website', 'industry', 'status', 'country', 'state', 'timezone', 'owner', 'source', 'tags', 'contact_name', 'contact_first_name', 'contact_last_name', 'contact_position', 'contact_email', 'contact_phone', 'contact_linkedin'];
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

export async function importPage(root) {
  root.append(el('h1', { text: 'Import leads' }));
  const file = el('input', { type: 'file', accept: '.csv,.xlsx,text/csv', id: 'import-file', required: true });
  const policy = el('select', { id: 'import-policy' }, ['skip', 'update', 'create'].map((p) => el('option', { value: p, text: 'Duplicates: ' + p })));
  const mapBox = el('div', { class: 'mapping' });
  const progress = el('progress', { max: 1, value: 0, hidden: true, id: 'import-progress' });
  const report = el('section', { id: 'import-report', 'aria-live': 'polite' });
  const dry = el('button', { type: 'button', id: 'import-dry-run', text: '1. Check (dry run)' });
  const run = el('button', { type: 'button', class: 'primary', id: 'import-run', text: '2. Import', disabled: true });
  root.append(el('div', { class: 'card' }, field('File (CSV or XLSX)', file), policy, mapBox, el('div', { class: 'toolbar' }, dry, run, progress)), report);

  const selects = new Map();
  file.addEventListener('change', async () => {
    clear(mapBox);
    selects.clear();
    run.disabled = true;
    const f = file.files[0];
    if (!f || f.name.toLowerCase().endsWith('.xlsx')) return;
    const header = (await f.slice(0, 64 * 1024).text()).split(/\r?\n/)[0];
    const cols = header.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
    mapBox.append(el('p', { class: 'muted', text: 'Map columns (automatic when left blank):' }));
    for (const c of cols) {
      const s = el('select', { 'aria-label': 'Field for column ' + c }, el('option', { value: '', text: '(automatic)' }), FIELDS.map((x) => el('option', { value: x, text: x })));
      selects.set(c, s);
      mapBox.append(field(c, s));
    }
  });

  async function send(dryRun) {
    const f = file.files[0];
    if (!f) return toast('Choose a file first', 'error');
    const mapping = {};
    for (const [c, s] of selects) if (s.value) mapping[c] = s.value;
    const q = new URLSearchParams({ dry_run: String(dryRun), policy: policy.value });
    if (Object.keys(mapping).length) q.set('mapping', JSON.stringify(mapping));
    const type = f.name.toLowerCase().endsWith('.xlsx') ? XLSX : 'text/csv';
    progress.hidden = false;
    progress.value = 0;
    clear(report);
    try {
      const r = await upload('/leads/import?' + q, f, type, (p) => { progress.value = p; });
      showReport(r);
      run.disabled = !dryRun;
    } catch (e) {
      report.append(el('p', { class: 'error', text: e.message }));
    } finally {
      progress.hidden = true;
    }
  }

  function showReport(r) {
    report.append(el('h2', { text: r.dry_run ? 'Dry run: nothing was written' : 'Import finished' }));
    const dl = el('dl', { class: 'facts' });
    for (const k of ['rows', 'created', 'updated', 'unchanged', 'skipped', 'failed', 'contacts_added']) dl.append(el('dt', { text: k }), el('dd', { text: String(r[k]), 'data-key': k }));
    report.append(dl);
    if (r.errors.length) {
      const tb = el('tbody');
      for (const e of r.errors) tb.append(el('tr', {}, el('td', { text: String(e.row) }), el('td', { text: e.column || '' }), el('td', { text: e.reason })));
      report.append(el('h3', { text: 'Rows with errors' }), el('table', { class: 'table', id: 'import-errors' }, el('thead', {}, el('tr', {}, el('th', { text: 'Row' }), el('th', { text: 'Column' }), el('th', { text: 'Problem' }))), tb));
    }
  }
  dry.addEventListener('click', () => send(true));
  run.addEventListener('click', () => send(false));
}
