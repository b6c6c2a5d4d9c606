// DOM helpers. User content only ever goes in as text.

/** el('div', {class: 'x', onclick: fn}, child, 'text', ...) */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k in node && typeof v !== 'string') node[k] = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function fmtDate(s) {
  if (!s) return '';
  const d = new Date(s);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

let toastBox = null;
export function toast(text, kind = 'info') {
  if (!toastBox) {
    toastBox = el('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastBox);
  }
  const t = el('div', { class: 'toast toast-' + kind, text });
  toastBox.append(t);
  setTimeout(() => t.remove(), 5000);
}

/** Runs an async action and shows its error message in a toast. */
export async function attempt(fn) {
  try {
    return await fn();
  } catch (e) {
    toast(e.message || String(e), 'error');
    return undefined;
  }
}

export function field(label, input) {
  return el('label', { class: 'field' }, el('span', { text: label }), input);
}

/** The little markdown subset of the chat, built from text nodes only. */
export function renderBody(text) {
  const frag = document.createDocumentFragment();
  const blocks = text.split(/```/);
  blocks.forEach((block, i) => {
    if (i % 2 === 1) {
      frag.append(el('pre', {}, el('code', { text: block.replace(/^\n/, '') })));
      return;
    }
    block.split('\n').forEach((line, j, lines) => {
      if (line.startsWith('> ')) frag.append(el('blockquote', {}, inline(line.slice(2))));
      else {
        frag.append(inline(line));
        if (j < lines.length - 1) frag.append(el('br'));
      }
    });
  });
  return frag;
}

function inline(text) {
  const frag = document.createDocumentFragment();
  const re = /(\*\*[^*]+\*\*|\*[^*]+\*|`[^`]+`|https?:\/\/[^\s<>"]+|@[A-Za-z0-9_.-]+)/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    frag.append(text.slice(last, m.index));
    const t = m[0];
    if (t.startsWith('**')) frag.append(el('strong', { text: t.slice(2, -2) }));
    else if (t.startsWith('`')) frag.append(el('code', { text: t.slice(1, -1) }));
    else if (t.startsWith('*')) frag.append(el('em', { text: t.slice(1, -1) }));
    else if (t.startsWith('@')) frag.append(el('span', { class: 'mention', text: t }));
    else frag.append(el('a', { href: t, target: '_blank', rel: 'noopener noreferrer', text: t }));
    last = m.index + t.length;
  }
  frag.append(text.slice(last));
  return frag;
}
