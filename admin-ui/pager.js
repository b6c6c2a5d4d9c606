// Reading the API's paged lists: every list that grows with use answers
// `{items, next_cursor}` and takes `after=<next_cursor>` and `limit` for the
// next page. `pager` shows one page and a button for the next; `allItems`
// reads a list whole, for the few views that need all of it (a task's
// comments and files, which the page keeps in step by polling).
import { get } from './api.js';
import { el, attempt } from './ui.js';

/** `path` with `limit` and, when given, `after` added to its query. */
function pagePath(path, limit, after) {
  const sep = path.includes('?') ? '&' : '?';
  return path + sep + 'limit=' + limit + (after ? '&after=' + encodeURIComponent(after) : '');
}

/**
 * A pager over `path`: `first()` reads the first page (again) and resolves
 * to its items; `more` is a button, hidden on the last page, that reads the
 * next one. Each page's items go to `show(items, isFirst)`.
 */
export function pager(path, show, { limit = 50, label = 'More', id } = {}) {
  const more = el('button', { type: 'button', class: 'link', text: label, id, hidden: true });
  let cursor = null;
  async function read(first) {
    const page = await get(pagePath(path, limit, first ? null : cursor));
    show(page.items, first);
    cursor = page.next_cursor || null;
    more.hidden = !cursor;
    return page.items;
  }
  more.addEventListener('click', () => attempt(() => read(false)));
  return { more, first: () => read(true) };
}

/** Every item of the list at `path`, read 200 at a time (at most 50 pages). */
export async function allItems(path) {
  const items = [];
  let after = null;
  for (let n = 0; n < 50; n++) {
    const page = await get(pagePath(path, 200, after));
    items.push(...page.items);
    after = page.next_cursor;
    if (!after) break;
  }
  return items;
}
