// The storefront page in chromium against a `pennyworth serve` with no
// provider credentials at all (no OpenAI or AWS variables, no --config),
// as a newcomer first sees it after scripts/demo:
//   - the page takes the default model /v1/models offers, the built-in
//     offline model, and a chat question gets a complete answer, labelled
//     as offline, that lists the catalog's matching products (the ones the
//     server's own /mcp search returns) with their ids, shown as cited
//     cards;
//   - a model that does not exist still gets the page's help on how to
//     configure a provider.
// Every wait is bounded; the browser is closed and the server stopped by
// PID in `after`. A screenshot goes to PW_ARTIFACTS.
//
// SPDX-License-Identifier: MIT

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer } from '../server/lib/harness.mjs';
import { searchCatalog } from '../bridge/lib/bridge.mjs';
import { artifactsDir, launchBrowser, webRoot } from './lib.mjs';

const STEP = { timeout: 60_000 };
const QUESTION = 'Which smartphones do you have?';
const LABEL = '(offline demo model, no LLM configured)';

const lastAnswer = (page) => page.locator('#chat-log .msg.assistant').last();

async function ask(page, text) {
  await page.getByLabel('Your question').fill(text);
  await page.getByLabel('Your question').press('Enter');
}

describe('the storefront chat with no provider credentials', () => {
  let srv;
  let browser;
  let page;
  const errors = [];

  before(async () => {
    srv = await startServer({ tag: 'web-offline', env: {}, args: ['--web-root', webRoot()] });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  });

  after(async () => {
    await browser?.close();
    const r = await srv?.stop();
    assert.deepEqual(errors, [], 'the page raised errors');
    assert.equal(r?.code, 0, `server exit ${JSON.stringify(r)}\n${srv?.stderr().slice(-4000)}`);
  });

  it('answers a question from the catalog with the offline model', STEP, async () => {
    const expected = await searchCatalog({ srv }, QUESTION, 5); // through /mcp
    assert.ok(expected.length >= 3, 'the demo catalog has smartphones');
    await page.goto(`${srv.base}/`);
    await page.locator('#conn[data-state="online"]').waitFor({ timeout: 15_000 });
    // The page takes the model the server offers.
    await page.waitForFunction(() => document.getElementById('model').value === 'pennyworth-offline',
      null, { timeout: 10_000 });
    await ask(page, QUESTION);
    await page.waitForFunction(() => {
      const all = document.querySelectorAll('#chat-log .msg.assistant');
      return all.length && all[all.length - 1].dataset.done === 'true';
    }, null, { timeout: 20_000 });
    const msg = lastAnswer(page);
    const text = await msg.locator('.text').textContent();
    assert.ok(text.startsWith(LABEL), text);
    for (const p of expected) {
      assert.ok(text.includes(p.name), `${p.name} in the answer: ${text}`);
      assert.ok(text.includes(String(p.id)), `id ${p.id} in the answer`);
    }
    assert.equal(await msg.locator('details.help').count(), 0);
    await page.waitForFunction((n) => {
      const all = document.querySelectorAll('#chat-log .msg.assistant');
      const list = all[all.length - 1].querySelector('.cited');
      return list && list.querySelectorAll('.card:not(.pending) .price').length === n;
    }, expected.length, { timeout: 10_000 });
    const cited = await msg.locator('.cited .card').evaluateAll((els) =>
      els.map((e) => e.dataset.productId));
    assert.deepEqual(cited, expected.map((p) => String(p.id)));
    await page.screenshot({ path: join(artifactsDir(), 'storefront-offline-model-desktop.png') });
  });

  it('still says how to configure a provider for a model that does not exist', STEP, async () => {
    await page.locator('#model').fill('no-such-model');
    await ask(page, QUESTION);
    const msg = lastAnswer(page);
    await msg.locator('details.help').waitFor({ timeout: 30_000 });
    const help = await msg.locator('details.help').textContent();
    assert.match(help, /OPENAI_API_KEY/);
    assert.match(help, /AWS_REGION/);
    assert.match(help, /--config FILE/);
    assert.equal(await page.getByRole('button', { name: 'Send' }).isEnabled(), true);
  });
});
