// The official MCP TypeScript SDK v2 (@modelcontextprotocol/client) against
// a real `pennyworth serve`: the full interop session of tests/interop
// (every tool, resource, template, prompt and completion, a subscription
// fed by `pennyworth catalog set` from another process, progress, ping,
// close), every server message validated against the official schema of
// the negotiated revision.
//
// v2 has a Streamable HTTP client transport but none for WebSocket; over
// WebSocket it runs on tests/interop/lib/ws-transport.mjs, a minimal
// Transport on the platform WebSocket (subprotocol "mcp", one message per
// text frame, as the v1 SDK's transport).
//
// Every revision v2 lets a client offer (supportedProtocolVersions: one at
// a time), over ws and http; its 'auto' negotiation (a server/discover
// probe first); and the default revision over wss/https and with SEP-1699
// polling.

import { sdkV2 } from '../interop/lib/sdk-adapters.mjs';
import { defineSessionSuite, defineProbeSuite } from '../interop/lib/session-suite.mjs';
import { wsLink, httpLink } from './lib/links.mjs';

const REVISIONS = [undefined, '2025-06-18', '2025-03-26', '2024-11-05'];

for (const link of [wsLink(), httpLink()]) {
  for (const revision of REVISIONS) defineSessionSuite(sdkV2({ revision }), link);
  defineProbeSuite(sdkV2({ negotiation: 'auto' }), link);
}

for (const link of [
  wsLink({ tls: true }), httpLink({ tls: true }),
  httpLink({ args: ['--sse-poll-ms', '300', '--sse-retry-ms', '100'] }),
]) {
  defineSessionSuite(sdkV2(), link);
}
