// A minimal MCP client Transport over WebSocket, for SDK v2
// (@modelcontextprotocol/client 2.x ships Streamable HTTP and stdio client
// transports but none for WebSocket). It speaks what the v1 SDK's
// WebSocketClientTransport speaks: subprotocol "mcp", one JSON-RPC message
// per text frame. A test adapter, not a product: the platform WebSocket
// (undici, in node 22+) does the framing.
//
// The socket is `_socket`, as in the v1 transport, so lib/net-taps.mjs taps
// both the same way.

import { parseJSONRPCMessage } from '@modelcontextprotocol/client';

const SUBPROTOCOL = 'mcp';
const CLOSE_WAIT_MS = 2000;

export class WebSocketClientTransport {
  constructor(url) {
    this._url = url;
    this._socket = undefined;
    this.onmessage = undefined;
    this.onerror = undefined;
    this.onclose = undefined;
  }

  start() {
    if (this._socket) throw new Error('WebSocketClientTransport already started');
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this._url, SUBPROTOCOL);
      this._socket = socket;
      let open = false;
      socket.onopen = () => {
        if (socket.protocol !== SUBPROTOCOL) {
          reject(new Error(`the server picked subprotocol "${socket.protocol}", not "${SUBPROTOCOL}"`));
          socket.close(1002);
          return;
        }
        open = true;
        resolve();
      };
      socket.onerror = (event) => {
        const error = event.error ?? new Error(`WebSocket error on ${this._url}`);
        if (!open) reject(error);
        this.onerror?.(error);
      };
      socket.onclose = () => this.onclose?.();
      socket.onmessage = (event) => {
        let message;
        try {
          message = parseJSONRPCMessage(JSON.parse(String(event.data)));
        } catch (error) {
          this.onerror?.(error);
          return;
        }
        this.onmessage?.(message);
      };
    });
  }

  async send(message) {
    if (!this._socket || this._socket.readyState !== WebSocket.OPEN) throw new Error('WebSocket not open');
    this._socket.send(JSON.stringify(message));
  }

  // Resolves once the closing handshake is over (bounded).
  close() {
    const socket = this._socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, CLOSE_WAIT_MS);
      socket.addEventListener('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.close(1000);
    });
  }
}
