// The storefront page in a real browser: Debian's chromium, driven by
// playwright-core, against `pennyworth serve` with the demo catalog and the
// fake OpenAI upstream of tests/bridge/fakes (the bridge reaches it through
// OPENAI_BASE_URL). Step by step, on one page, without reloading it:
//   - it connects with the MCP client over /ws (real MCP frames);
//   - a search for "iphone" shows the iPhones; a product opens;
//   - a stock and a price change written through the catalog's admin path
//     (`pennyworth catalog set`, another process writing the database) reach
//     the card and the open detail view within a second;
//   - a question streams its answer token by token, the products the bridge
//     injected (X-Pennyworth-Context-Products) show as cited cards, and Stop
//     cancels a slow answer;
//   - the server is killed and started again on the same port: the page
//     reconnects and its subscriptions work again.
// The page with no provider configured (the offline model) is in
// offline.test.mjs. Screenshots at desktop (1280x800) and phone
// (390x844) sizes go to PW_ARTIFACTS (BUILDDIR/tests/web/artifacts).
//
// Every wait is bounded; the browser is closed and every server and fake
// stopped (servers by PID) in `after`.
//
// SPDX-License-Identifier: MIT

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, runPw, sleep } from '../server/lib/harness.mjs';
import { startFakeOpenAI } from '../bridge/fakes/openai.mjs';
import { artifactsDir, launchBrowser, webRoot } from './lib.mjs';

const STEP = { timeout: 60_000 };
const UPSTREAM_KEY = 'sk-fake-upstream-web-0123456789';
const UPSTREAM_MODEL = 'gpt-4o-mini'; // the fake's scenario key for openai/gpt-4o-mini
const QUESTION = 'Which iphone is the best value?';
const PIECES = ['For value, ', 'the iPhone 13 Pro ', 'is the newest ', 'phone here, ',
  'while the iPhone 6 ', 'costs the least.'];
const LIVE_MS = 1_000; // the bound for a pushed change to reach the card

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

function watchPage(page, log) {
  page.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/.test(m.text())) log.errors.push(`csp: ${m.text()}`);
  });
  page.on('websocket', (ws) => {
    log.sockets.push(ws.url());
    ws.on('framesent', (f) => log.sent.push(String(f.payload)));
  });
}

const card = (page, id) => page.locator(`#results [data-product-id="${id}"]`);
const lastAnswer = (page) => page.locator('#chat-log .msg.assistant').last();

async function startServe(dir, env, port) {
  const args = ['--web-root', webRoot()];
  if (port) args.push('--listen', `127.0.0.1:${port}`);
  // A restart may race the old socket's release: a few bounded tries.
  for (let i = 0; ; i++) {
    try {
      return await startServer({ tag: 'web', dir, env, args });
    } catch (e) {
      if (!port || i >= 10) throw e;
      await sleep(200);
    }
  }
}

// Writes through the admin path and returns when the write has committed.
async function setProduct(srv, id, ...args) {
  const r = await runPw(['catalog', 'set', id, ...args, '--db', srv.db]);
  assert.equal(r.code, 0, `catalog set: ${r.stderr}`);
}

// Waits (bounded) for the text of `locator` to change away from `before`;
// resolves the new text and how long it took.
async function changedText(page, locator, before, ms) {
  const start = Date.now();
  const handle = await locator.elementHandle({ timeout: ms });
  await page.waitForFunction(([el, old]) => el.textContent !== old, [handle, before],
    { timeout: ms, polling: 'raf' });
  return { text: await locator.textContent(), ms: Date.now() - start };
}

describe('the storefront page in chromium', () => {
  let fake;
  let srv;
  let dir;
  let browser;
  let page;
  let port;
  let env;
  const log = { errors: [], sockets: [], sent: [] };
  let artifacts;

  before(async () => {
    artifacts = artifactsDir();
    fake = await startFakeOpenAI({ apiKey: UPSTREAM_KEY });
    env = { OPENAI_API_KEY: UPSTREAM_KEY, OPENAI_BASE_URL: fake.baseUrl };
    dir = mkdtempSync(join(tmpdir(), 'pw-web-'));
    srv = await startServe(dir, env);
    port = srv.port;
    browser = await launchBrowser();
    const ctx = await browser.newContext({ viewport: DESKTOP });
    ctx.setDefaultTimeout(15_000);
    page = await ctx.newPage();
    watchPage(page, log);
  });

  after(async () => {
    await browser?.close();
    const r = await srv?.stop();
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(log.errors, [], 'the page raised errors or CSP violations');
    assert.equal(r?.code, 0, `server exit ${JSON.stringify(r)}\n${srv?.stderr().slice(-4000)}`);
  });

  it('connects to the catalog with the MCP client over /ws', STEP, async () => {
    await page.goto(`${srv.base}/`);
    await page.locator('#conn[data-state="online"]').waitFor();
    assert.equal(await page.locator('#conn-text').textContent(), 'Connected');
    assert.deepEqual(log.sockets, [`ws://127.0.0.1:${port}/ws`]);
    const first = JSON.parse(log.sent[0]);
    assert.equal(first.method, 'initialize');
    assert.equal(first.params.clientInfo.name, 'pennyworth-storefront');
    await page.evaluate(() => { window.__sameDocument = true; });
  });

  it('searches for "iphone" and shows the iPhones', STEP, async () => {
    await page.getByLabel('Search products').fill('iphone');
    await page.getByLabel('Search products').press('Enter');
    await page.locator('#results .card').first().waitFor();
    await page.waitForFunction(() => /found/.test(document.getElementById('result-status').textContent));
    const names = await page.locator('#results .card .name').allTextContents();
    for (const want of ['iPhone X', 'iPhone 5s', 'iPhone 6', 'iPhone 13 Pro']) {
      assert.ok(names.includes(want), `${want} in ${JSON.stringify(names)}`);
    }
    assert.ok(log.sent.some((m) => /"method":"tools\/call"/.test(m) && /search_products/.test(m)));
    // Every card has a local image, a price, a rating and a badge.
    const first = card(page, '124');
    assert.equal(await first.locator('.price').textContent(), '899.99 USD');
    assert.match(await first.locator('.badge').textContent(), /^In stock \(\d+\)$/);
    assert.match(await first.locator('img').getAttribute('src'), /placeholder\.svg$/);

    // Filters narrow the same search: smartphones up to 500.
    await page.getByLabel('Category').selectOption('smartphones');
    await page.getByLabel('Max price').fill('500');
    await page.getByLabel('Max price').press('Enter');
    await page.waitForFunction(() => !document.querySelector('#results [data-product-id="123"]'));
    const cheap = await page.locator('#results .card').evaluateAll((els) => els.map((e) => ({
      name: e.querySelector('.name').textContent,
      price: parseFloat(e.querySelector('.price').textContent),
    })));
    assert.ok(cheap.length >= 2, JSON.stringify(cheap));
    assert.ok(cheap.every((c) => c.price <= 500), JSON.stringify(cheap));
    assert.ok(cheap.some((c) => c.name === 'iPhone 6'));
    await page.getByLabel('Category').selectOption('');
    await page.getByLabel('Max price').fill('');
    await page.getByLabel('Max price').press('Enter');
    await page.locator('#results [data-product-id="123"]').waitFor();
  });

  it('opens a product from its resource', STEP, async () => {
    // By keyboard: the product name is a button.
    await card(page, '124').getByRole('button', { name: 'iPhone X' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('#detail');
    await dialog.locator('#detail-name').waitFor();
    assert.equal(await dialog.locator('#detail-name').textContent(), 'iPhone X');
    assert.match(await dialog.textContent(), /SMA-APP-IPH-124/);
    assert.match(await dialog.textContent(), /Face ID/);
    assert.ok(log.sent.some((m) => /resources\/read/.test(m) && /catalog:\/\/products\/124/.test(m)));
    await page.screenshot({ path: join(artifacts, 'storefront-detail-desktop.png') });
  });

  it('updates the badge and price live when the catalog changes', STEP, async (t) => {
    assert.ok(log.sent.some((m) => /resources\/subscribe/.test(m) && /products\/124/.test(m)),
      'the page subscribed to the product on screen');
    const badge = card(page, '124').locator('.badge');
    const detailBadge = page.locator('#detail .badge');
    const before = await badge.textContent();
    await setProduct(srv, '124', '--stock', '0');
    const b = await changedText(page, badge, before, 5_000);
    assert.equal(b.text, 'Out of stock');
    assert.ok(b.ms <= LIVE_MS, `the badge changed after ${b.ms} ms`);
    assert.equal(await detailBadge.textContent(), 'Out of stock', 'the open detail view follows');
    assert.equal(await badge.getAttribute('data-availability'), 'out-of-stock');

    const price = card(page, '124').locator('.price');
    await setProduct(srv, '124', '--price', '777.00', '--stock', '40');
    const p = await changedText(page, price, '899.99 USD', 5_000);
    assert.equal(p.text, '777.00 USD');
    assert.ok(p.ms <= LIVE_MS, `the price changed after ${p.ms} ms`);
    t.diagnostic(`badge after ${b.ms} ms, price after ${p.ms} ms`);
    await page.waitForFunction(() => document.querySelector('#results [data-product-id="124"] .badge')
      .textContent === 'In stock (40)', null, { timeout: 5_000 });
    assert.ok(await page.evaluate(() => window.__sameDocument), 'no reload happened');

    await page.keyboard.press('Escape');
    await page.locator('#detail').waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'iPhone X',
      'focus returns to the product that was opened');
  });

  it('streams a chat answer and shows the injected products as cited cards', STEP, async () => {
    fake.reset();
    fake.always(UPSTREAM_MODEL, { pieces: PIECES, gapMs: 120 });
    // Record every state of the answer text as the DOM changes.
    await page.evaluate(() => {
      window.__answerStates = [];
      new MutationObserver(() => {
        const all = document.querySelectorAll('#chat-log .msg.assistant .text');
        const t = all.length ? all[all.length - 1].textContent : '';
        if (window.__answerStates.at(-1) !== t) window.__answerStates.push(t);
      }).observe(document.getElementById('chat-log'), { subtree: true, childList: true, characterData: true });
    });
    const responseP = page.waitForResponse((r) => r.url().endsWith('/v1/chat/completions'));
    await page.getByLabel('Your question').fill(QUESTION);
    await page.getByLabel('Your question').press('Enter');
    const response = await responseP;
    assert.equal(response.status(), 200,
      'POST /v1/chat/completions answered (the bridge must be wired into serve)');
    const header = response.headers()['x-pennyworth-context-products'] ?? '';
    const ids = header.split(',').map((s) => s.trim()).filter(Boolean);
    assert.ok(ids.includes('124'), `the context names the iPhones: ${header}`);

    const msg = lastAnswer(page);
    await page.waitForFunction(() => {
      const all = document.querySelectorAll('#chat-log .msg.assistant');
      return all.length && all[all.length - 1].dataset.done === 'true';
    }, null, { timeout: 20_000 });
    assert.equal(await msg.locator('.text').textContent(), PIECES.join(''));
    const states = await page.evaluate(() => window.__answerStates.filter((t) => t.length));
    const partial = states.filter((t) => t.length < PIECES.join('').length);
    assert.ok(partial.length >= 3, `the answer arrived in pieces: ${JSON.stringify(states)}`);

    // The cited cards are exactly the injected products, filled from MCP.
    await page.waitForFunction((n) => {
      const all = document.querySelectorAll('#chat-log .msg.assistant');
      const list = all[all.length - 1].querySelector('.cited');
      return list && list.querySelectorAll('.card:not(.pending) .price').length === n;
    }, ids.length, { timeout: 10_000 });
    const cited = await msg.locator('.cited .card').evaluateAll((els) => els.map((e) => e.dataset.productId));
    assert.deepEqual(cited, ids);
    // Mentions of cited products in the answer open them.
    const mention = msg.locator('.mention', { hasText: 'iPhone 13 Pro' });
    assert.equal(await mention.count(), 1);
    assert.equal(await page.locator('#chat-log').getAttribute('aria-busy'), 'false');
    const rec = fake.seen(UPSTREAM_MODEL).at(-1);
    assert.equal(rec.stream, true);
    assert.ok(JSON.stringify(rec.body.messages).includes(QUESTION));
    await page.screenshot({ path: join(artifacts, 'storefront-desktop.png') });
  });

  it('stops a slow answer with the stop button', STEP, async () => {
    fake.reset();
    const slow = Array.from({ length: 40 }, (_, i) => `word${i} `);
    fake.always(UPSTREAM_MODEL, { pieces: slow, gapMs: 250 });
    await page.getByLabel('Your question').fill('Tell me about the iphone 6');
    await page.getByRole('button', { name: 'Send' }).click();
    const msg = lastAnswer(page);
    await page.waitForFunction(() => {
      const all = document.querySelectorAll('#chat-log .msg.assistant .text');
      return /word1 /.test(all[all.length - 1].textContent);
    }, null, { timeout: 15_000 });
    const stop = page.getByRole('button', { name: 'Stop' });
    assert.equal(await stop.isEnabled(), true);
    await stop.click();
    await msg.locator('.note', { hasText: 'Stopped.' }).waitFor({ timeout: 5_000 });
    const text = await msg.locator('.text').textContent();
    await sleep(600);
    assert.equal(await msg.locator('.text').textContent(), text, 'nothing arrives after Stop');
    assert.ok(!text.includes('word39'), 'the answer was cut short');
    assert.equal(await stop.isDisabled(), true);
    assert.equal(await page.getByRole('button', { name: 'Send' }).isEnabled(), true);
  });

  it('reconnects and resubscribes after the server is killed and restarted', STEP, async () => {
    process.kill(srv.pid, 'SIGKILL');
    await srv.exited;
    await page.waitForFunction(() => document.getElementById('conn').dataset.state !== 'online',
      null, { timeout: 10_000 });
    assert.match(await page.locator('#conn-text').textContent(), /Connecting|Connection lost/);
    await page.screenshot({ path: join(artifacts, 'storefront-offline-desktop.png') });
    srv = await startServe(dir, env, port);
    await page.locator('#conn[data-state="online"]').waitFor({ timeout: 20_000 });
    assert.equal(log.sockets.length >= 2, true, 'a new WebSocket was opened');
    // The subscription is back: a change reaches the card again.
    const badge = card(page, '124').locator('.badge');
    await page.waitForFunction(() => document.querySelector('#results [data-product-id="124"]'));
    const before = await badge.textContent();
    await setProduct(srv, '124', '--stock', '0');
    const b = await changedText(page, badge, before, 5_000);
    assert.equal(b.text, 'Out of stock');
    assert.ok(await page.evaluate(() => window.__sameDocument), 'no reload happened');
  });

  it('fits a phone-sized screen', STEP, async () => {
    const ctx = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
    ctx.setDefaultTimeout(15_000);
    const phone = await ctx.newPage();
    watchPage(phone, log);
    await phone.goto(`${srv.base}/`);
    await phone.locator('#conn[data-state="online"]').waitFor();
    await phone.getByLabel('Search products').fill('iphone');
    await phone.getByLabel('Search products').press('Enter');
    await phone.locator('#results .card').first().waitFor();
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px too wide)`);
    await phone.screenshot({ path: join(artifacts, 'storefront-phone.png') });
    fake.always(UPSTREAM_MODEL, { pieces: PIECES, gapMs: 20 });
    await phone.getByLabel('Your question').fill(QUESTION);
    await phone.getByLabel('Your question').press('Enter');
    await phone.waitForFunction(() => {
      const all = document.querySelectorAll('#chat-log .msg.assistant');
      return all.length && all[all.length - 1].dataset.done === 'true';
    }, null, { timeout: 20_000 });
    await phone.locator('#chat-form').scrollIntoViewIfNeeded();
    await phone.screenshot({ path: join(artifacts, 'storefront-phone-chat.png') });
    await ctx.close();
  });
});
