// The storefront assistant page: wires the catalog search and product
// views (MCP over /ws through connection.js), live updates of every product
// on screen, the streamed chat (chat.js) and the API key dialog.
//
// What is "on screen", and so subscribed: the search results, the products
// cited in the chat, and the product open in the detail view. Each change
// of that set goes to CatalogConnection.watch; each update notification
// re-reads the product resource and patches every card showing it. After a
// reconnect the search runs again (stock may have moved while we were
// away) and the subscriptions are restored by the connection itself.
//
// SPDX-License-Identifier: MIT

import { getKey, setKey } from './auth.js';
import { DEFAULT_MODEL, listModels, streamChat } from './chat.js';
import { CatalogConnection, idFromUri, productUri } from './connection.js';
import {
  availabilityText, detailView, h, linkMentions, priceText, productCard, updateCards,
} from './views.js';

const $ = (id) => document.getElementById(id);
const SEARCH_LIMIT = 24;
const CHAT_HISTORY = 12; // messages sent with each question
const MAX_CITED = 20; // cited products kept subscribed

const ui = {
  conn: $('conn'), connText: $('conn-text'), connRetry: $('conn-retry'),
  keyButton: $('key-button'), keyDialog: $('key-dialog'), keyInput: $('key-input'),
  keyForget: $('key-forget'),
  search: $('search'), q: $('q'), category: $('category'), brand: $('brand'), brands: $('brands'),
  minPrice: $('min-price'), maxPrice: $('max-price'), inStock: $('in-stock'), sort: $('sort'),
  resultStatus: $('result-status'), results: $('results'),
  detail: $('detail'), detailBody: $('detail-body'), detailClose: $('detail-close'),
  chatLog: $('chat-log'), chatForm: $('chat-form'), chatInput: $('chat-input'),
  model: $('model'), models: $('models'), send: $('send'), stop: $('stop'),
  announce: $('announce'),
};

const conn = new CatalogConnection(wsUrl());
const known = new Map(); // id -> latest product seen
const brandsSeen = new Set();
let resultIds = [];
let citedIds = [];
let detailId = null;
let detailOpener = null;
let searchSeq = 0;
let categoriesLoaded = false;
let modelsLoaded = false;

function wsUrl() {
  const u = new URL('/ws', location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

function announce(text) {
  ui.announce.textContent = '';
  // A fresh text node after clearing makes screen readers speak it again.
  requestAnimationFrame(() => { ui.announce.textContent = text; });
}

function remember(p) {
  known.set(p.id, p);
  if (p.brand && !brandsSeen.has(p.brand)) {
    brandsSeen.add(p.brand);
    ui.brands.append(h('option', { value: p.brand }));
  }
}

function refreshWatch() {
  const ids = new Set([...resultIds, ...citedIds]);
  if (detailId) ids.add(detailId);
  conn.watch([...ids].map(productUri));
}

// Connection state -------------------------------------------------------------

function showState({ state, detail }) {
  ui.conn.dataset.state = state;
  ui.connRetry.hidden = !(state === 'waiting' || state === 'auth');
  ui.connRetry.textContent = state === 'auth' ? 'Enter API key' : 'Retry now';
  const texts = {
    connecting: 'Connecting…',
    online: 'Connected',
    waiting: `Connection lost, retrying in ${Math.max(1, Math.round(Number(detail) / 1000))} s`,
    auth: `API key needed: ${detail}`,
  };
  ui.connText.textContent = texts[state] ?? state;
  if (state === 'auth' && !resultIds.length) {
    ui.resultStatus.textContent = 'Enter an API key (top right) to search the catalog.';
  }
  document.body.classList.toggle('offline', state !== 'online');
}

conn.addEventListener('state', (ev) => showState(ev.detail));
ui.connRetry.addEventListener('click', () => {
  if (conn.state === 'auth') openKeyDialog();
  else conn.retryNow();
});

conn.addEventListener('online', () => {
  if (!categoriesLoaded) loadCategories();
  if (!modelsLoaded) loadModels();
  runSearch();
  const again = new Set([...citedIds, detailId].filter(Boolean));
  for (const id of again) refreshProduct(id);
});

conn.addEventListener('updated', (ev) => {
  const id = idFromUri(ev.detail.uri);
  if (id) refreshProduct(id, true);
});

async function refreshProduct(id, speak = false) {
  try {
    const p = await conn.product(id);
    remember(p);
    if (updateCards(document, p) && speak) {
      announce(`${p.name}: ${availabilityText(p)}, ${priceText(p)}`);
    }
  } catch (e) {
    console.warn(`refresh ${id}: ${e.message}`);
  }
}

// Search ----------------------------------------------------------------------------

async function loadCategories() {
  try {
    const r = await conn.call('list_categories');
    const keep = ui.category.value;
    ui.category.replaceChildren(h('option', { value: '' }, 'All categories'),
      ...(r.categories ?? []).map((c) => h('option', { value: c.name }, `${c.name} (${c.count})`)));
    ui.category.value = keep;
    categoriesLoaded = true;
  } catch (e) {
    console.warn(`categories: ${e.message}`);
  }
}

function searchArgs() {
  const args = { limit: SEARCH_LIMIT };
  const q = ui.q.value.trim();
  if (q) args.query = q;
  if (ui.category.value) args.category = ui.category.value;
  const brand = ui.brand.value.trim();
  if (brand) args.brand = brand;
  const min = ui.minPrice.valueAsNumber;
  const max = ui.maxPrice.valueAsNumber;
  if (Number.isFinite(min) && min >= 0) args.min_price = min;
  if (Number.isFinite(max) && max >= 0) args.max_price = max;
  if (ui.inStock.checked) args.availability = 'in-stock';
  if (ui.sort.value !== 'relevance') args.sort = ui.sort.value;
  return args;
}

async function runSearch() {
  const seq = ++searchSeq;
  if (!conn.online) {
    ui.resultStatus.textContent = 'Not connected: the search runs when the connection is back.';
    return;
  }
  ui.results.setAttribute('aria-busy', 'true');
  ui.resultStatus.textContent = 'Searching…';
  try {
    const r = await conn.call('search_products', searchArgs());
    if (seq !== searchSeq) return;
    const products = r.products ?? [];
    products.forEach(remember);
    resultIds = products.map((p) => p.id);
    ui.results.replaceChildren(...products.map((p) => productCard(p, openDetail)));
    const total = Number.isInteger(r.total) ? r.total : products.length;
    ui.resultStatus.textContent = products.length
      ? `${total} product${total === 1 ? '' : 's'} found${total > products.length ? `, showing ${products.length}` : ''}`
      : 'No products match. Try fewer words or filters.';
    refreshWatch();
  } catch (e) {
    if (seq === searchSeq) ui.resultStatus.textContent = `Search failed: ${e.message}`;
  } finally {
    if (seq === searchSeq) ui.results.removeAttribute('aria-busy');
  }
}

let typing = null;
ui.search.addEventListener('submit', (ev) => {
  ev.preventDefault();
  clearTimeout(typing);
  runSearch();
});
ui.q.addEventListener('input', () => {
  clearTimeout(typing);
  typing = setTimeout(runSearch, 300);
});
for (const el of [ui.category, ui.inStock, ui.sort]) el.addEventListener('change', runSearch);
for (const el of [ui.brand, ui.minPrice, ui.maxPrice]) el.addEventListener('change', runSearch);

// Detail view -------------------------------------------------------------------------

async function openDetail(id, opener) {
  detailOpener = opener ?? document.activeElement;
  let p = known.get(id);
  try {
    p = await conn.product(id);
    remember(p);
  } catch (e) {
    if (!p) {
      announce(`Could not open the product: ${e.message}`);
      return;
    }
  }
  ui.detailBody.replaceChildren(detailView(p));
  detailId = id;
  if (!ui.detail.open) ui.detail.showModal();
  ui.detailClose.focus();
  refreshWatch();
}

ui.detailClose.addEventListener('click', () => ui.detail.close());
ui.detail.addEventListener('close', () => {
  detailId = null;
  refreshWatch();
  if (detailOpener?.isConnected) detailOpener.focus();
});
// A click on the backdrop (outside the dialog's box) closes it too.
ui.detail.addEventListener('click', (ev) => {
  if (ev.target === ui.detail) ui.detail.close();
});

// Chat ----------------------------------------------------------------------------------

const history = [];
let controller = null;

async function loadModels() {
  const models = await listModels();
  modelsLoaded = true;
  ui.models.replaceChildren(...models.map((m) => h('option', { value: m })));
  if (models.length && !models.includes(ui.model.value)) ui.model.value = models[0];
}

const HELP = [
  'Chat needs a model provider. Start `pennyworth serve` with one of:',
  '• OPENAI_API_KEY (plus OPENAI_BASE_URL for any OpenAI-compatible server), and ask for model openai/NAME;',
  '• AWS_REGION with AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_BEARER_TOKEN_BEDROCK), and ask for model bedrock/MODEL_ID;',
  '• --config FILE naming model aliases and their deployments (docs/internals/BRIDGE.md).',
  'Without any, model pennyworth-offline lists the catalog\'s matches (no LLM).',
];

function chatMessage(role) {
  const text = h('div', { class: 'text' });
  const note = h('p', { class: 'note' });
  const el = h('div', { class: `msg ${role}` },
    h('p', { class: 'who' }, role === 'user' ? 'You' : 'Assistant'), text, note);
  ui.chatLog.append(el);
  el.scrollIntoView({ block: 'end' });
  return { el, text, note };
}

function citedList(msg, ids) {
  if (!ids.length) return;
  citedIds = [...new Set([...citedIds, ...ids])].slice(-MAX_CITED);
  const list = h('ul', { class: 'cited', 'aria-label': 'Catalog products given to the assistant' });
  msg.el.insertBefore(h('p', { class: 'cited-title' }, 'Products it was given:'), msg.note);
  msg.el.insertBefore(list, msg.note);
  const products = [];
  ids.forEach((id, i) => {
    const slot = h('li', { class: 'card compact pending', dataset: { productId: id } }, `Product ${id}`);
    list.append(slot);
    const fill = (p) => {
      remember(p);
      products[i] = p;
      slot.replaceWith(productCard(p, openDetail, { compact: true, label: `[${i + 1}]` }));
    };
    const cachedP = known.get(id);
    if (cachedP) fill(cachedP);
    conn.product(id).then(fill, (e) => console.warn(`cited ${id}: ${e.message}`));
  });
  refreshWatch();
  return products;
}

function chatError(msg, e) {
  msg.el.classList.add('error');
  const lines = [];
  switch (e.kind) {
    case 'auth':
      lines.push(`The server wants an API key for chat (${e.message}).`);
      break;
    case 'rate':
      lines.push(`${e.message} Wait a moment and ask again.`);
      break;
    case 'unavailable':
      lines.push('This server has no chat API: POST /v1/chat/completions is not served here.');
      break;
    default:
      lines.push(e.message);
  }
  msg.note.replaceChildren(lines.join(' '));
  if (e.kind === 'auth') {
    msg.note.append(' ', h('button', { type: 'button', onclick: openKeyDialog }, 'Enter API key'));
  }
  if (e.kind === 'config' || e.kind === 'upstream') {
    // Open in both cases: a provider that is not configured often shows up
    // as a failed upstream call (the default OpenAI host, no key).
    const help = h('details', { class: 'help', open: true },
      h('summary', {}, 'How to configure a provider'),
      ...HELP.map((l) => h('p', {}, l)));
    msg.note.append(help);
  }
}

async function ask(question) {
  history.push({ role: 'user', content: question });
  const mine = chatMessage('user');
  mine.text.textContent = question;
  const msg = chatMessage('assistant');
  const stream = document.createTextNode('');
  msg.text.append(stream);
  msg.note.textContent = 'Thinking…';
  controller = new AbortController();
  ui.stop.disabled = false;
  ui.send.disabled = true;
  ui.chatLog.setAttribute('aria-busy', 'true');
  let answer = '';
  let cited = [];
  try {
    const r = await streamChat({
      model: ui.model.value.trim() || DEFAULT_MODEL,
      messages: history.slice(-CHAT_HISTORY),
      signal: controller.signal,
      onProducts: (ids) => { cited = citedList(msg, ids) ?? []; },
      onToken: (t) => {
        if (!answer) msg.note.textContent = '';
        answer += t;
        stream.appendData(t);
        msg.el.scrollIntoView({ block: 'end' });
      },
    });
    msg.note.textContent = r.finishReason === 'length' ? 'The answer was cut at its length limit.' : '';
  } catch (e) {
    if (e.name === 'AbortError') msg.note.textContent = 'Stopped.';
    else chatError(msg, e);
  } finally {
    controller = null;
    ui.stop.disabled = true;
    ui.send.disabled = false;
    ui.chatLog.setAttribute('aria-busy', 'false');
    msg.el.dataset.done = 'true';
  }
  if (answer) {
    history.push({ role: 'assistant', content: answer });
    msg.text.replaceChildren(linkMentions(answer, cited.filter(Boolean), openDetail));
  } else if (history.at(-1)?.role === 'user') {
    history.pop(); // nothing came back: do not send the question twice
  }
  // Show the answer (or the error) from its start.
  msg.el.scrollIntoView({ block: 'nearest' });
  (answer ? msg.text : msg.note).scrollIntoView({ block: 'nearest' });
}

ui.chatForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const q = ui.chatInput.value.trim();
  if (!q || controller) return;
  ui.chatInput.value = '';
  ask(q);
});
ui.chatInput.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    ui.chatForm.requestSubmit();
  } else if (ev.key === 'Escape' && controller) {
    ev.preventDefault();
    controller.abort(); // the stop button's shortcut while an answer streams
  }
});
ui.stop.addEventListener('click', () => controller?.abort());

// API key -------------------------------------------------------------------------------

function showKeyState() {
  ui.keyButton.textContent = getKey() ? 'API key (set)' : 'API key';
}

function openKeyDialog() {
  ui.keyInput.value = getKey();
  ui.keyDialog.showModal();
  ui.keyInput.focus();
}

ui.keyButton.addEventListener('click', openKeyDialog);
ui.keyForget.addEventListener('click', () => {
  ui.keyInput.value = '';
  ui.keyDialog.close('save');
});
ui.keyDialog.addEventListener('close', () => {
  if (ui.keyDialog.returnValue !== 'save') return;
  ui.keyDialog.returnValue = '';
  setKey(ui.keyInput.value);
  ui.keyInput.value = '';
  showKeyState();
  modelsLoaded = false;
  conn.restart();
  ui.keyButton.focus();
});

showKeyState();
showState({ state: 'connecting', detail: '' });
conn.start();
