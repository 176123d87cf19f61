// An MCP client transport over the browser's WebSocket, implementing the
// official SDK's Transport interface (start, send, close, onmessage,
// onclose, onerror) so the SDK's Client runs the protocol. The SDK ships a
// WebSocket transport of its own, but it always offers exactly the
// subprotocol list ["mcp"] and hides the close code; the page needs to
// offer a ticket subprotocol next to "mcp" (see auth.js) and to tell a
// refused connection from a server that went away.
//
// One message per WebSocket text frame, JSON-RPC 2.0, checked with the
// SDK's own message schema. The server must pick the "mcp" subprotocol;
// anything else is closed at once.
//
// SPDX-License-Identifier: MIT

import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';

export class BrowserWebSocketTransport {
  constructor(url, protocols = ['mcp']) {
    this.url = url;
    this.protocols = protocols;
    this.socket = null;
    this.closeCode = 0;
    this.closeReason = '';
    this.onclose = undefined;
    this.onerror = undefined;
    this.onmessage = undefined;
  }

  start() {
    if (this.socket) throw new Error('BrowserWebSocketTransport: already started');
    return new Promise((resolve, reject) => {
      let opened = false;
      const ws = new WebSocket(this.url, this.protocols);
      this.socket = ws;
      ws.onopen = () => {
        if (ws.protocol !== 'mcp') {
          ws.close(1002, 'subprotocol mcp expected');
          reject(new Error(`the server picked subprotocol "${ws.protocol}", not "mcp"`));
          return;
        }
        opened = true;
        resolve();
      };
      ws.onerror = () => {
        // The event carries no detail; the close that follows has the code.
        if (opened) this.onerror?.(new Error('WebSocket error'));
      };
      ws.onclose = (ev) => {
        this.closeCode = ev.code;
        this.closeReason = ev.reason;
        if (!opened) {
          reject(new Error(`could not open ${this.url} (WebSocket close ${ev.code})`));
          return;
        }
        this.onclose?.();
      };
      ws.onmessage = (ev) => {
        let msg;
        try {
          msg = JSONRPCMessageSchema.parse(JSON.parse(ev.data));
        } catch (e) {
          this.onerror?.(e instanceof Error ? e : new Error(String(e)));
          return;
        }
        this.onmessage?.(msg);
      };
    });
  }

  async send(message) {
    const ws = this.socket;
    if (!ws || ws.readyState !== WebSocket.OPEN) throw new Error('not connected');
    ws.send(JSON.stringify(message));
  }

  async close() {
    const ws = this.socket;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'bye');
  }
}
