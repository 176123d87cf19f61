// The official MCP TypeScript SDK clients, behind one adapter shape, so the
// session suite (lib/session-suite.mjs) drives v1 and v2 alike over every
// transport:
//
//   sdkV1                 @modelcontextprotocol/sdk 1.x: Client with its
//                         stdio, WebSocket and Streamable HTTP transports;
//                         it always offers its latest revision
//   sdkV2({revision, negotiation})
//                         @modelcontextprotocol/client 2.x: Client with its
//                         stdio and Streamable HTTP transports, and
//                         lib/ws-transport.mjs for WebSocket (v2 has none);
//                         `revision` makes the client offer only that one,
//                         negotiation 'auto' makes it probe with
//                         server/discover first
//
// adapter = {
//   name, tag, expectedVersion (what the server must answer with, or null
//   when negotiation decides), knownVersions (the session revisions the
//   SDK knows), makeClient(),
//   transports: { stdio(params), ws(url), http(url, opts) }   new, not started
//   onNotification(client, method, fn), callToolWithProgress(client, params, onprogress)
// }

import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { WebSocketClientTransport as WebSocketV1 } from '@modelcontextprotocol/sdk/client/websocket.js';
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema, LATEST_PROTOCOL_VERSION as LATEST_V1, ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import {
  Client as ClientV2, StreamableHTTPClientTransport as HttpV2, LATEST_PROTOCOL_VERSION as LATEST_V2,
  SUPPORTED_PROTOCOL_VERSIONS as SUPPORTED_V2,
} from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';
import { WebSocketClientTransport as WebSocketV2 } from './ws-transport.mjs';

const V1_NOTIFICATION_SCHEMAS = {
  'notifications/resources/updated': ResourceUpdatedNotificationSchema,
};

export const sdkV1 = {
  name: '@modelcontextprotocol/sdk v1',
  tag: 'sdk-v1',
  expectedVersion: LATEST_V1,
  knownVersions: [LATEST_V1],
  makeClient: () => new ClientV1({ name: 'pennyworth-interop-sdk-v1', version: '1.0.0' }, { capabilities: {} }),
  transports: {
    stdio: (params) => new StdioV1(params),
    ws: (url) => new WebSocketV1(url),
    http: (url, opts) => new HttpV1(url, opts),
  },
  onNotification: (client, method, fn) => client.setNotificationHandler(V1_NOTIFICATION_SCHEMAS[method], fn),
  callToolWithProgress: (client, params, onprogress) => client.callTool(params, CallToolResultSchema, { onprogress }),
};

export function sdkV2({ revision, negotiation } = {}) {
  const options = { capabilities: {} };
  if (revision) options.supportedProtocolVersions = [revision];
  if (negotiation === 'auto') options.versionNegotiation = { mode: 'auto', probe: { timeoutMs: 5000 } };
  let name = '@modelcontextprotocol/client v2';
  if (revision) name += ` offering only ${revision}`;
  if (negotiation) name += `, versionNegotiation ${negotiation}`;
  return {
    name,
    tag: `sdk-v2${revision ? `-${revision}` : ''}${negotiation ? `-${negotiation}` : ''}`,
    expectedVersion: negotiation === 'auto' ? null : (revision ?? LATEST_V2),
    knownVersions: SUPPORTED_V2,
    makeClient: () => new ClientV2({ name: 'pennyworth-interop-sdk-v2', version: '1.0.0' }, options),
    transports: {
      stdio: (params) => new StdioV2(params),
      ws: (url) => new WebSocketV2(url),
      http: (url, opts) => new HttpV2(url, opts),
    },
    onNotification: (client, method, fn) => client.setNotificationHandler(method, fn),
    callToolWithProgress: (client, params, onprogress) => client.callTool(params, { onprogress }),
  };
}
