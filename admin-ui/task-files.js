// A task's file attachments (`/tasks/{id}/files`): list with thumbnails,
// download, upload with progress (optionally with a comment), removal by the
// uploader or whoever may edit the task. A server without task attachments
// answers 404 on the list, and the section says so instead of breaking the page.
import { del, upload } from './api.js';
import { allItems } from './pager.js';
import { el, clear, toast, attempt, fmtDate } from './ui.js';
import { session, canAny } from './session.js';

function size(n) {
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KB';
  return (n / 1024 / 1024).toFixed(1) + ' MB';
}

/**
 * Fills `box` with the task's files. `opts.comments` is the comments list,
 * where files sent with a comment are linked too; `opts.mayEdit` mirrors the
 * task edit rule; `opts.userName` names uploaders; `opts.onChange` runs after
 * an upload or removal. Resolves to an object with
 * `available`, `reload()` and `send(file, commentId)`.
 */
export async function attachmentsSection(box, task, opts) {
  const base = '/tasks/' + encodeURIComponent(task.id) + '/files';
  const list = el('ul', { class: 'files', id: 'task-file-list' });
  const state = { available: false, reload: load, send };

  const href = (f) => '/api/v1' + base + '/' + encodeURIComponent(f.id);
  function link(f) {
    return el('a', { href: href(f), download: f.name, class: 'file-link', 'data-file': f.id },
      f.has_thumbnail ? el('img', { src: href(f) + '/thumbnail', alt: '', class: 'thumb', loading: 'lazy' }) : null,
      f.name);
  }

  async function load() {
    let files;
    try {
      files = await allItems(base);
    } catch (e) {
      state.available = false;
      clear(box).append(el('p', { class: 'muted', id: 'task-files-unavailable', text: e.status === 404 ? 'File attachments are not available on this server.' : e.message }));
      return false;
    }
    state.available = true;
    clear(list);
    for (const f of files) {
      const mine = f.uploader === session.user.id;
      list.append(el('li', { 'data-file': f.id }, link(f),
        el('span', { class: 'muted', text: ' ' + size(f.size) + ' · ' + opts.userName(f.uploader) + ' · ' + fmtDate(f.created_at) + (f.comment ? ' · with a comment' : '') }),
        mine || opts.mayEdit() ? el('button', { type: 'button', class: 'link', 'aria-label': 'Remove ' + f.name, text: '×', onclick: () => remove(f) }) : null));
      const holder = f.comment && opts.comments.querySelector('[data-comment="' + CSS.escape(f.comment) + '"] .comment-files');
      if (holder && !holder.querySelector('[data-file="' + CSS.escape(f.id) + '"]')) holder.append(link(f));
    }
    if (!files.length) list.append(el('li', { class: 'muted', text: 'No files.' }));
    return true;
  }

  function remove(f) {
    if (!confirm('Remove ' + f.name + '?')) return;
    attempt(async () => {
      await del(base + '/' + encodeURIComponent(f.id));
      toast('Removed ' + f.name);
      for (const a of opts.comments.querySelectorAll('[data-file="' + CSS.escape(f.id) + '"]')) a.remove();
      await load();
      await opts.onChange();
    });
  }

  function send(file, commentId, progress) {
    const fd = new FormData();
    fd.append('file', file, file.name);
    if (commentId) fd.append('comment', commentId);
    if (progress) {
      progress.hidden = false;
      progress.value = 0;
    }
    return upload(base, fd, null, (p) => { if (progress) progress.value = p; })
      .then(async () => {
        toast('Uploaded ' + file.name);
        await load();
        await opts.onChange();
      })
      .catch((x) => toast(x.message, 'error'))
      .finally(() => { if (progress) progress.hidden = true; });
  }

  if (!(await load())) return state;
  clear(box).append(list);
  if (canAny('tasks.write', 'tasks.manage')) {
    const input = el('input', { type: 'file', 'aria-label': 'Attach a file', id: 'task-file-input' });
    const progress = el('progress', { max: 1, value: 0, hidden: true, 'aria-label': 'Upload progress' });
    const form = el('form', { class: 'toolbar', id: 'task-file-form' }, input, progress, el('button', { type: 'submit', text: 'Upload' }));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const f = input.files[0];
      if (f) send(f, null, progress).then(() => { input.value = ''; });
    });
    box.append(form);
  }
  return state;
}
