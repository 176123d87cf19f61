// DOM builders for products: result cards, cited cards in the chat, the
// detail view, and the live update of all three. Text from the catalog is
// only ever set as text (textContent, text nodes), never parsed as HTML.
//
// Product images: the demo catalog's thumbnails point at a remote CDN and
// the page must not load remote images, so only same-origin image URLs are
// used; everything else shows the local placeholder.svg.
//
// SPDX-License-Identifier: MIT

export const PLACEHOLDER = 'placeholder.svg';

let nextId = 0; // element ids for aria-labelledby, unique within the page

// h('p', {class: 'x', 'aria-label': 'y'}, 'text', child...) -> element.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function imageFor(product) {
  const src = product?.attributes?.thumbnail ?? product?.image;
  if (typeof src !== 'string' || !src) return PLACEHOLDER;
  try {
    const url = new URL(src, location.href);
    return url.origin === location.origin ? url.href : PLACEHOLDER;
  } catch {
    return PLACEHOLDER;
  }
}

export function availabilityText(p) {
  const stock = Number.isFinite(p.stock) ? p.stock : null;
  switch (p.availability) {
    case 'in-stock': return stock !== null ? `In stock (${stock})` : 'In stock';
    case 'limited': return stock !== null ? `Only ${stock} left` : 'Limited stock';
    case 'out-of-stock': return 'Out of stock';
    default: return p.availability ?? 'Unknown availability';
  }
}

export function priceText(p) {
  return p.price?.formatted ?? '';
}

export function ratingNode(p) {
  if (typeof p.rating !== 'number') return null;
  const r = Math.round(p.rating * 10) / 10;
  const full = Math.round(p.rating);
  return h('p', { class: 'rating' },
    h('span', { 'aria-hidden': 'true', class: 'stars' }, '★'.repeat(full) + '☆'.repeat(5 - full)),
    h('span', { class: 'visually-hidden' }, `Rated ${r} out of 5`),
    h('span', { 'aria-hidden': 'true' }, ` ${r.toFixed(1)}`));
}

function badge(p) {
  return h('p', { class: 'badge', 'data-availability': p.availability ?? 'unknown' }, availabilityText(p));
}

function img(p, size) {
  const el = h('img', { src: imageFor(p), alt: '', width: size, height: size, loading: 'lazy', decoding: 'async' });
  el.addEventListener('error', () => { if (!el.src.endsWith(PLACEHOLDER)) el.src = PLACEHOLDER; }, { once: true });
  return el;
}

// A result card. onOpen(id, button) opens the detail view.
export function productCard(p, onOpen, { compact = false, label } = {}) {
  const nameId = `product-name-${++nextId}`;
  const open = h('button', { type: 'button', class: 'open', id: nameId }, p.name);
  open.addEventListener('click', () => onOpen(p.id, open));
  const card = h('li', {
    class: compact ? 'card compact' : 'card',
    dataset: { productId: p.id },
  },
  h('article', { 'aria-labelledby': nameId },
    img(p, compact ? 48 : 96),
    h('div', { class: 'body' },
      label ? h('span', { class: 'cite-label' }, label) : null,
      h('h3', { class: 'name' }, open),
      h('p', { class: 'brand' }, [p.brand, compact ? null : p.category].filter(Boolean).join(' · ')),
      h('p', { class: 'price' }, priceText(p)),
      compact ? null : ratingNode(p),
      badge(p))));
  return card;
}

// Applies a fresh product to every card showing it; true when something
// the shopper sees changed (price or availability).
export function updateCards(root, p) {
  let changed = false;
  for (const card of root.querySelectorAll(`[data-product-id="${CSS.escape(p.id)}"]`)) {
    const price = card.querySelector('.price');
    const b = card.querySelector('.badge');
    const newPrice = priceText(p);
    const newBadge = availabilityText(p);
    if (price && price.textContent !== newPrice) {
      price.textContent = newPrice;
      changed = true;
    }
    if (b && (b.textContent !== newBadge || b.dataset.availability !== p.availability)) {
      b.textContent = newBadge;
      b.dataset.availability = p.availability ?? 'unknown';
      changed = true;
    }
    if (changed) {
      card.classList.remove('flash');
      void card.offsetWidth; // restart the animation
      card.classList.add('flash');
    }
  }
  return changed;
}

const FACTS = [
  ['SKU', (p) => p.sku],
  ['Category', (p) => p.category],
  ['Warranty', (p) => p.attributes?.warrantyInformation],
  ['Shipping', (p) => p.attributes?.shippingInformation],
  ['Returns', (p) => p.attributes?.returnPolicy],
  ['Minimum order', (p) => p.attributes?.minimumOrderQuantity],
  ['Updated', (p) => p.updatedAt],
];

// The body of the detail dialog for a product.
export function detailView(p) {
  const facts = h('dl', { class: 'facts' });
  for (const [name, get] of FACTS) {
    const v = get(p);
    if (v === undefined || v === null || v === '') continue;
    facts.append(h('dt', {}, name), h('dd', {}, String(v)));
  }
  return h('div', { class: 'detail-body', dataset: { productId: p.id } },
    img(p, 160),
    h('div', { class: 'detail-text' },
      h('h2', { id: 'detail-name' }, p.name),
      h('p', { class: 'brand' }, p.brand ?? ''),
      h('p', { class: 'price' }, priceText(p)),
      badge(p),
      ratingNode(p),
      p.description ? h('p', { class: 'description' }, p.description) : null,
      facts,
      Array.isArray(p.tags) && p.tags.length
        ? h('ul', { class: 'tags', 'aria-label': 'Tags' }, p.tags.map((t) => h('li', {}, t)))
        : null));
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// Turns mentions of cited products in an answer (their names, or "id N")
// into buttons that open them. `text` is the plain answer; returns a
// fragment of text nodes and buttons.
export function linkMentions(text, products, onOpen) {
  const frag = document.createDocumentFragment();
  const byKey = new Map();
  const alts = [];
  for (const p of [...products].sort((a, b) => b.name.length - a.name.length)) {
    if (p.name && p.name.length >= 3) {
      byKey.set(p.name.toLowerCase(), p);
      alts.push(escapeRe(p.name));
    }
    byKey.set(`id ${p.id}`.toLowerCase(), p);
  }
  const ids = [...products].map((p) => escapeRe(String(p.id)));
  if (ids.length) alts.push(`id[ :#]*(?:${ids.join('|')})\\b`);
  if (!alts.length) {
    frag.append(text);
    return frag;
  }
  const re = new RegExp(alts.join('|'), 'gi');
  let last = 0;
  for (const m of text.matchAll(re)) {
    const key = m[0].toLowerCase().replace(/^id[ :#]*/, 'id ');
    const p = byKey.get(key);
    if (!p) continue;
    frag.append(text.slice(last, m.index));
    const b = h('button', { type: 'button', class: 'mention', dataset: { mention: p.id } }, m[0]);
    b.addEventListener('click', () => onOpen(p.id, b));
    frag.append(b);
    last = m.index + m[0].length;
  }
  frag.append(text.slice(last));
  return frag;
}
