// Small hand-written SVG charts built through the DOM (no markup strings).
// Every chart sits in a <figure> with a caption and a table holding the same
// numbers, so screen readers and copy-paste get the data too. Colours come
// from CSS classes, which keeps light and dark mode in style.css.
import { el } from './ui.js';

const NS = 'http://www.w3.org/2000/svg';

// Charts draw in a narrower box on phones so their 12px text stays
// readable once the SVG is scaled to the screen.
const narrow = () => window.matchMedia('(max-width: 700px)').matches;

export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function short(text, max) {
  const s = String(text);
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** A figure: caption, chart, and the same numbers as a table. */
export function figure(id, caption, chart, head, rows) {
  const table = el('table', { class: 'table chart-table keep-cols' },
    el('thead', {}, el('tr', {}, head.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c, i) => (i === 0 ? el('th', { scope: 'row', text: String(c) }) : el('td', { text: String(c) })))))));
  return el('figure', { class: 'chart card', id },
    el('figcaption', { text: caption }),
    rows.length ? chart : el('p', { class: 'muted', text: 'No data in this range.' }),
    rows.length ? el('details', { class: 'chart-data' }, el('summary', { text: 'Data table' }), el('div', { class: 'table-wrap' }, table)) : null);
}

/**
 * Horizontal bars. rows: [{label, value, note?, segments?: [{value, cls, name}]}];
 * with segments the bar is stacked and `value` is their sum.
 */
export function barChart(label, rows) {
  const width = narrow() ? 360 : 640;
  const rowH = 28;
  const labelW = narrow() ? 96 : 150;
  const noteW = narrow() ? 76 : 90;
  const barW = width - labelW - noteW;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const height = rows.length * rowH + 4;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart-svg', role: 'img', 'aria-label': label });
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    const g = svg('g', {});
    g.append(svg('text', { x: labelW - 8, y: y + rowH / 2 + 1, 'text-anchor': 'end', 'dominant-baseline': 'middle', class: 'chart-label' }, short(r.label, narrow() ? 13 : 20)));
    const parts = r.segments || [{ value: r.value, cls: r.cls || 's0', name: '' }];
    let x = labelW;
    for (const p of parts) {
      const w = (p.value / max) * barW;
      if (w <= 0) continue;
      g.append(svg('rect', { x, y: y + 4, width: w, height: rowH - 10, rx: 3, class: 'bar ' + (p.cls || 's0') },
        svg('title', {}, (p.name ? p.name + ': ' : '') + p.value)));
      x += w;
    }
    g.append(svg('text', { x: x + 6, y: y + rowH / 2 + 1, 'dominant-baseline': 'middle', class: 'chart-value' }, r.note ?? String(r.value)));
    root.append(g);
  });
  return root;
}

/** Vertical columns over time: points [{label, value}] in order. */
export function columnChart(label, points) {
  const width = narrow() ? 360 : 640;
  const height = 200;
  const left = 34;
  const bottom = 24;
  const top = 10;
  const plotW = width - left - 6;
  const plotH = height - bottom - top;
  const max = Math.max(1, ...points.map((p) => p.value));
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart-svg', role: 'img', 'aria-label': label });
  root.append(svg('line', { x1: left, y1: top + plotH, x2: width - 6, y2: top + plotH, class: 'axis' }));
  root.append(svg('text', { x: left - 6, y: top + 4, 'text-anchor': 'end', class: 'chart-label' }, String(max)));
  root.append(svg('text', { x: left - 6, y: top + plotH, 'text-anchor': 'end', class: 'chart-label' }, '0'));
  const step = plotW / Math.max(1, points.length);
  const every = Math.max(1, Math.ceil(points.length / (narrow() ? 5 : 8)));
  points.forEach((p, i) => {
    const h = (p.value / max) * plotH;
    const x = left + i * step;
    if (h > 0) {
      root.append(svg('rect', { x: x + step * 0.15, y: top + plotH - h, width: Math.max(1, step * 0.7), height: h, class: 'bar s0' },
        svg('title', {}, p.label + ': ' + p.value)));
    }
    if (i % every === 0) {
      root.append(svg('text', { x: x + step / 2, y: height - 6, 'text-anchor': 'middle', class: 'chart-label' }, p.label.slice(5)));
    }
  });
  return root;
}

/** A row of legend chips for stacked bars. */
export function legend(items) {
  return el('ul', { class: 'legend' }, items.map((it) => el('li', {},
    svg('svg', { viewBox: '0 0 10 10', width: 10, height: 10, 'aria-hidden': 'true' }, svg('rect', { width: 10, height: 10, rx: 2, class: 'bar ' + it.cls })),
    ' ' + it.name)));
}
