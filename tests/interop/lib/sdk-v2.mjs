// The v2 SDK client's classes, re-exported for the network tests of
// tests/server, whose files sit outside this package and so cannot resolve
// the pinned npm packages of tests/interop by name.
//
// SPDX-License-Identifier: MIT
export { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
