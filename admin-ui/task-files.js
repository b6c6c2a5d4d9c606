// A task's file attachments: list, download, upload with progress. Servers
// without task attachments answer 404 on the list, and the section says so
// instead of breaking the page.
import { get, upload } from './api.js';
import { el, clear, toast, fmtDate } from './ui.js';

function size(n) {
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KB';
  return (n / 1024 / 1024).toFixed(1) + ' MB';
}

export async function attachmentsSection(box, task, editable) {
  const list = el('ul', { class: 'list', id: 'task-file-list' });
  async function load() {
    let files;
    try {
      files = await get('/tasks/' + encodeURIComponent(task.id) + '/files');
    } catch (e) {
      clear(box).append(el('p', { class: 'muted', id: 'task-files-unavailable', text: e.status === 404 ? 'File attachments are not available on this server.' : e.message }));
      return false;
    }
    const items = Array.isArray(files) ? files : files.items || [];
    clear(list);
    for (const f of items) {
      list.append(el('li', {}, el('a', { href: '/api/v1/files/' + encodeURIComponent(f.id), download: f.name, text: f.name }),
        ' ', el('span', { class: 'muted', text: size(f.size) + ' · ' + fmtDate(f.created_at) })));
    }
    if (!items.length) list.append(el('li', { class: 'muted', text: 'No files.' }));
    return true;
  }
  if (!(await load())) return;
  clear(box).append(list);
  if (!editable) return;
  const file = el('input', { type: 'file', 'aria-label': 'Attach a file', id: 'task-file-input' });
  const progress = el('progress', { max: 1, value: 0, hidden: true });
  const form = el('form', { class: 'toolbar' }, file, progress, el('button', { type: 'submit', text: 'Upload' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = file.files[0];
    if (!f) return;
    const fd = new FormData();
    fd.append('file', f, f.name);
    progress.hidden = false;
    upload('/tasks/' + encodeURIComponent(task.id) + '/files', fd, null, (p) => { progress.value = p; })
      .then(() => { toast('Uploaded ' + f.name); return load(); })
      .catch((x) => toast(x.message, 'error'))
      .finally(() => { progress.hidden = true; file.value = ''; });
  });
  box.append(form);
}
