// The storefront page with API keys, in chromium: a server that has a key
// refuses the page's WebSocket until a key is entered; the key typed into
// the dialog is kept in session storage only, opens /ws through a ticket
// (POST /auth/ws-ticket, then the "pw-ticket.*" subprotocol), authorises
// the chat with a header, and never appears in a URL. Forgetting it brings
// the "key needed" state back. The page itself (static files) stays public,
// so a browser can load it before it has a key.
//
// Every wait is bounded; the browser is closed and the server stopped by
// PID in `after`.
//
// SPDX-License-Identifier: MIT

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, runPw } from '../server/lib/harness.mjs';
import { startFakeOpenAI } from '../bridge/fakes/openai.mjs';
import { artifactsDir, launchBrowser, webRoot } from './lib.mjs';

const STEP = { timeout: 60_000 };
const UPSTREAM_KEY = 'sk-fake-upstream-web-keys-0123';

describe('the storefront page with an API key', () => {
  let fake;
  let srv;
  let browser;
  let page;
  let key;
  const urls = [];
  const errors = [];

  before(async () => {
    fake = await startFakeOpenAI({ apiKey: UPSTREAM_KEY });
    srv = await startServer({
      tag: 'web-keys',
      args: ['--web-root', webRoot()],
      env: { OPENAI_API_KEY: UPSTREAM_KEY, OPENAI_BASE_URL: fake.baseUrl },
    });
    // A key created while the server runs closes open mode from the next
    // request on.
    const r = await runPw(['keys', 'create', '--name', 'web-test', '--tier', 'enterprise',
      '--scopes', 'chat,mcp', '--db', srv.db]);
    assert.equal(r.code, 0, r.stderr);
    key = r.stdout.trim().split('\n')[0];
    assert.match(key, /^pw_/);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(15_000);
    page.on('request', (req) => urls.push(req.url()));
    page.on('websocket', (ws) => urls.push(ws.url()));
    page.on('pageerror', (e) => errors.push(e.message));
  });

  after(async () => {
    await browser?.close();
    const r = await srv?.stop();
    await fake?.close();
    assert.deepEqual(errors, []);
    assert.equal(r?.code, 0, `server exit ${JSON.stringify(r)}\n${srv?.stderr().slice(-4000)}`);
  });

  it('loads the page and asks for a key', STEP, async () => {
    await page.goto(`${srv.base}/`);
    await page.locator('#conn[data-state="auth"]').waitFor({ timeout: 20_000 });
    assert.match(await page.locator('#conn-text').textContent(), /API key needed/);
    await page.screenshot({ path: join(artifactsDir(), 'storefront-key-needed-desktop.png') });
  });

  it('connects with the key entered once, kept in session storage', STEP, async () => {
    await page.getByRole('button', { name: 'Enter API key' }).click();
    await page.getByLabel('Key', { exact: true }).fill(key);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('#conn[data-state="online"]').waitFor({ timeout: 20_000 });
    const stored = await page.evaluate(() => ({
      session: sessionStorage.getItem('pennyworth.apiKey'),
      local: localStorage.length,
      cookie: document.cookie,
    }));
    assert.deepEqual(stored, { session: key, local: 0, cookie: '' });
    await page.getByLabel('Search products').fill('iphone');
    await page.getByLabel('Search products').press('Enter');
    await page.locator('#results [data-product-id="124"]').waitFor();
  });

  it('sends the key with the chat request, never in a URL', STEP, async () => {
    fake.always('gpt-4o-mini', { text: 'The iPhone 6 is the cheapest.' });
    const responseP = page.waitForResponse((r) => r.url().endsWith('/v1/chat/completions'));
    await page.getByLabel('Your question').fill('Which iphone is the cheapest?');
    await page.getByLabel('Your question').press('Enter');
    const res = await responseP;
    assert.equal(res.status(), 200);
    assert.equal((await res.request().allHeaders()).authorization, `Bearer ${key}`);
    await page.waitForFunction(() => {
      const all = document.querySelectorAll('#chat-log .msg.assistant');
      return all.length && all[all.length - 1].dataset.done === 'true';
    }, null, { timeout: 20_000 });
    assert.ok(urls.length > 3);
    const secret = key.slice(key.lastIndexOf('_') + 1);
    for (const u of urls) assert.ok(!u.includes(secret), `the key is in ${u}`);
    assert.ok(urls.some((u) => u.endsWith('/auth/ws-ticket')), 'the socket was opened with a ticket');
  });

  it('forgets the key and asks again', STEP, async () => {
    await page.getByRole('button', { name: 'API key (set)' }).click();
    await page.getByRole('button', { name: 'Forget key' }).click();
    await page.locator('#conn[data-state="auth"]').waitFor({ timeout: 20_000 });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('pennyworth.apiKey')), null);
  });
});
