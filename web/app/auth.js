// API keys for the page. The key is typed once, kept in this tab's
// sessionStorage (it is gone when the tab closes and never reaches
// localStorage, a cookie or a URL), and sent in headers: `Authorization:
// Bearer` on fetch. A WebSocket cannot carry headers from a browser, so for
// /ws the page first trades the key for a single-use ticket (POST
// /auth/ws-ticket with the key in a header, valid for seconds) and offers
// the ticket as a second WebSocket subprotocol, "pw-ticket.<ticket>", next
// to "mcp"; the server answers with "mcp" and redeems the ticket at the
// upgrade (see include/pennyworth/access.h). With no key (the server's open
// loopback mode) nothing is sent and no ticket is asked for.
//
// SPDX-License-Identifier: MIT

const STORE = 'pennyworth.apiKey';
const TICKET_PREFIX = 'pw-ticket.';

export function getKey() {
  try {
    return sessionStorage.getItem(STORE) ?? '';
  } catch {
    return ''; // storage disabled: behave as if no key was given
  }
}

export function setKey(key) {
  const k = key.trim();
  try {
    if (k) sessionStorage.setItem(STORE, k);
    else sessionStorage.removeItem(STORE);
  } catch {
    // storage disabled: the key lives only as long as this call's result
  }
  return k;
}

// Headers that authenticate a fetch (empty without a key).
export function authHeaders(key = getKey()) {
  return key ? { authorization: `Bearer ${key}` } : {};
}

export class AuthError extends Error {
  constructor(message, status) {
    super(message);
    this.name = 'AuthError';
    this.status = status;
  }
}

// The subprotocols to offer on /ws: ["mcp"] in open mode, else "mcp" and a
// fresh ticket for the key. Throws AuthError when the server refuses the
// key. A server without the ticket endpoint (404/405) is one that checks no
// keys, so the plain list is right there too.
export async function wsProtocols(key = getKey(), signal) {
  if (!key) return ['mcp'];
  const res = await fetch('/auth/ws-ticket', {
    method: 'POST',
    headers: { ...authHeaders(key), 'content-type': 'application/json' },
    body: '{}',
    signal,
  });
  if (res.status === 404 || res.status === 405) return ['mcp'];
  const body = await res.json().catch(() => ({}));
  if (res.status === 401 || res.status === 403) {
    throw new AuthError(body?.error?.message ?? 'the server refused the API key', res.status);
  }
  if (!res.ok || typeof body.ticket !== 'string') {
    throw new Error(body?.error?.message ?? `ticket request failed (HTTP ${res.status})`);
  }
  // The server names the subprotocol to offer; the ticket alone is enough.
  const protocol = typeof body.protocol === 'string' && body.protocol.startsWith(TICKET_PREFIX)
    ? body.protocol : TICKET_PREFIX + body.ticket;
  return ['mcp', protocol];
}
