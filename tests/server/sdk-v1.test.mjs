// The official MCP TypeScript SDK v1 (@modelcontextprotocol/sdk, with its
// WebSocketClientTransport and StreamableHTTPClientTransport) against a real
// `pennyworth serve`: the full interop session of tests/interop (every
// tool, resource, template, prompt and completion, a subscription fed by
// `pennyworth catalog set` from another process, progress, ping, close),
// every server message validated against the official schema of the
// negotiated revision. v1 always offers its latest revision.
//
// Over ws, http, wss and https (a self-signed certificate made at run
// time), and once with SEP-1699 polling, where the server keeps closing the
// SSE connections and the SDK has to resume with Last-Event-ID.

import { sdkV1 } from '../interop/lib/sdk-adapters.mjs';
import { defineSessionSuite } from '../interop/lib/session-suite.mjs';
import { wsLink, httpLink } from './lib/links.mjs';

for (const link of [
  wsLink(), httpLink(), wsLink({ tls: true }), httpLink({ tls: true }),
  httpLink({ args: ['--sse-poll-ms', '300', '--sse-retry-ms', '100'] }),
]) {
  defineSessionSuite(sdkV1, link);
}
