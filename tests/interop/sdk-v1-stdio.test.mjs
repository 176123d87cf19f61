// A full stdio session driven by the official MCP TypeScript SDK v1
// (@modelcontextprotocol/sdk Client + StdioClientTransport), every server
// message validated against the official schema (lib/session-suite.mjs).
import { sdkV1 } from './lib/sdk-adapters.mjs';
import { defineSessionSuite, stdioLink } from './lib/session-suite.mjs';

defineSessionSuite(sdkV1, stdioLink);
