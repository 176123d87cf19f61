// Full stdio sessions driven by the official MCP TypeScript SDK v2
// (@modelcontextprotocol/client), same coverage as the v1 suite, on every
// revision the client can be told to offer, every server message validated
// against the official schema.
//
// v2 connects with the 2025 `initialize` handshake by default (its
// versionNegotiation mode 'legacy'); the second suite opts in to 'auto',
// which first probes with the 2026-07-28 `server/discover` and falls back
// to initialize for a session-based server.
import { sdkV2 } from './lib/sdk-adapters.mjs';
import { defineSessionSuite, defineProbeSuite, stdioLink } from './lib/session-suite.mjs';

defineSessionSuite(sdkV2(), stdioLink);

defineProbeSuite(sdkV2({ negotiation: 'auto' }), stdioLink);

// Older session revisions: the client offers exactly one, the server must
// answer with it, and everything it sends must match that revision's schema
// (2024-11-05 is checked against 2025-03-26; see lib/schema.mjs).
for (const revision of ['2024-11-05', '2025-03-26', '2025-06-18']) {
  defineSessionSuite(sdkV2({ revision }), stdioLink);
}
