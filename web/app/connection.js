// The page's MCP connection to the catalog: one official SDK Client over
// /ws at a time, kept alive across server restarts, with the product
// subscriptions the page wants restored on every new session.
//
// States (the `state` event carries {state, detail}):
//
//   connecting --connect ok--> online --socket closed--> waiting
//       ^   |                                              |
//       |   +--connect failed------------------------------+
//       +------------- backoff timer, or retryNow() -------+
//   connecting --key refused--> auth --setKey()/retryNow()--> connecting
//
// Backoff: 250 ms doubling to 5 s, each delay drawn between half and all of
// its step (jitter, so many pages do not reconnect in lockstep); it resets
// once a connection opens.
//
// Subscriptions: watch(uris) sets the wanted set; sync() brings the
// session's subscriptions to it (subscribe new, unsubscribe gone). A new
// session starts with none and syncs the whole set, which is the
// resubscribe after a restart. Updates arrive as `updated` events ({uri}).
//
// SPDX-License-Identifier: MIT

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { AuthError, getKey, wsProtocols } from './auth.js';
import { BrowserWebSocketTransport } from './ws-transport.js';

const CONNECT_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 15_000;
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 5_000;

export function backoffDelay(attempt, random = Math.random) {
  const step = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
  return Math.round(step / 2 + (random() * step) / 2);
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// A server that needs a key refuses the upgrade itself, and a browser sees
// no status for that; ask the ticket endpoint without a key to learn why.
async function probeAuth() {
  try {
    const res = await fetch('/auth/ws-ticket', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    if (res.status === 401) return new AuthError('this server needs an API key', 401);
  } catch {
    // the server is down: not an authentication problem
  }
  return null;
}

export class CatalogConnection extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.client = null;
    this.state = 'idle';
    this.detail = '';
    this.wanted = new Set();
    this.subscribed = new Set();
    this.syncing = Promise.resolve();
    this.wake = null; // resolves the current wait early
    this.attempt = 0;
  }

  start() {
    if (this.state === 'idle') this.loop();
  }

  // Skips the remaining backoff (or leaves the auth state) and connects now.
  retryNow() {
    this.wake?.();
  }

  // Reconnects now, e.g. with a new API key: ends the open session (the
  // loop then connects again after the shortest backoff) or ends a wait.
  restart() {
    this.attempt = 0;
    if (this.client) this.client.close().catch(() => {});
    else this.wake?.();
  }

  setState(state, detail = '') {
    this.state = state;
    this.detail = detail;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, detail } }));
  }

  // Resolves after ms (Infinity: only when woken by retryNow or restart).
  wait(ms) {
    return new Promise((resolve) => {
      let timer = null;
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      if (ms !== Infinity) timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  async loop() {
    for (;;) {
      this.setState('connecting', this.attempt ? `attempt ${this.attempt + 1}` : '');
      let client = null;
      try {
        const protocols = await withTimeout(wsProtocols(getKey()), CONNECT_TIMEOUT_MS, 'ticket');
        const transport = new BrowserWebSocketTransport(this.url, protocols);
        client = new Client({ name: 'pennyworth-storefront', version: '1.0.0' });
        client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
          this.dispatchEvent(new CustomEvent('updated', { detail: { uri: n.params.uri } }));
        });
        const closed = new Promise((resolve) => { client.onclose = resolve; });
        try {
          await withTimeout(client.connect(transport), CONNECT_TIMEOUT_MS, 'MCP initialize');
        } catch (e) {
          if (!getKey()) throw (await probeAuth()) ?? e;
          throw e;
        }
        this.client = client;
        this.subscribed = new Set();
        this.attempt = 0;
        this.setState('online');
        this.dispatchEvent(new Event('online'));
        this.sync();
        await closed;
        this.client = null;
        this.subscribed = new Set();
      } catch (e) {
        this.client = null;
        client?.close().catch(() => {});
        if (e instanceof AuthError) {
          this.setState('auth', e.message);
          await this.wait(Infinity);
          continue;
        }
      }
      const delay = backoffDelay(this.attempt++);
      this.setState('waiting', String(delay));
      await this.wait(delay);
    }
  }

  get online() {
    return this.state === 'online' && this.client !== null;
  }

  requireClient() {
    if (!this.client) throw new Error('not connected to the catalog');
    return this.client;
  }

  // Calls a catalog tool; its structured result, or throws with its text.
  async call(name, args = {}) {
    const r = await this.requireClient().callTool({ name, arguments: args }, undefined,
      { timeout: REQUEST_TIMEOUT_MS });
    if (r.isError) throw new Error(r.content?.map((c) => c.text ?? '').join(' ') || `${name} failed`);
    return r.structuredContent ?? {};
  }

  // Reads catalog://products/ID; the product object.
  async product(id) {
    const uri = productUri(id);
    const r = await this.requireClient().readResource({ uri }, { timeout: REQUEST_TIMEOUT_MS });
    const text = r.contents?.find((c) => c.uri === uri)?.text ?? r.contents?.[0]?.text;
    if (typeof text !== 'string') throw new Error(`${uri}: no JSON contents`);
    return JSON.parse(text);
  }

  // The resources the page shows now; the session follows (see sync).
  watch(uris) {
    this.wanted = new Set(uris);
    this.sync();
  }

  sync() {
    this.syncing = this.syncing.then(() => this.syncNow()).catch(() => {});
    return this.syncing;
  }

  async syncNow() {
    const client = this.client;
    if (!client) return;
    // One refused subscription (a product deleted meanwhile) must not stop
    // the others, so each is tried on its own.
    for (const uri of this.wanted) {
      if (this.subscribed.has(uri) || client !== this.client) continue;
      try {
        await client.subscribeResource({ uri }, { timeout: REQUEST_TIMEOUT_MS });
        this.subscribed.add(uri);
      } catch (e) {
        console.warn(`subscribe ${uri}: ${e.message}`);
      }
    }
    for (const uri of [...this.subscribed]) {
      if (this.wanted.has(uri) || client !== this.client) continue;
      this.subscribed.delete(uri);
      await client.unsubscribeResource({ uri }, { timeout: REQUEST_TIMEOUT_MS }).catch(() => {});
    }
    this.dispatchEvent(new CustomEvent('subscribed', { detail: { count: this.subscribed.size } }));
  }
}

export function productUri(id) {
  return `catalog://products/${encodeURIComponent(id)}`;
}

export function idFromUri(uri) {
  const m = /^catalog:\/\/products\/(.+)$/.exec(uri);
  return m ? decodeURIComponent(m[1]) : null;
}
