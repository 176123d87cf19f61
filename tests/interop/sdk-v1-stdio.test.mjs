// A full stdio session driven by the official MCP TypeScript SDK v1
// (@modelcontextprotocol/sdk Client + StdioClientTransport), every server
// message validated against the official schema (lib/session-suite.mjs).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CallToolResultSchema, LATEST_PROTOCOL_VERSION, ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { defineSessionSuite } from './lib/session-suite.mjs';

const NOTIFICATION_SCHEMAS = {
  'notifications/resources/updated': ResourceUpdatedNotificationSchema,
};

defineSessionSuite({
  name: '@modelcontextprotocol/sdk v1 over stdio',
  tag: 'sdk-v1',
  expectedVersion: LATEST_PROTOCOL_VERSION,
  makeClient: () => new Client({ name: 'pennyworth-interop-sdk-v1', version: '1.0.0' }, { capabilities: {} }),
  makeTransport: (params) => new StdioClientTransport(params),
  onNotification: (client, method, fn) => client.setNotificationHandler(NOTIFICATION_SCHEMAS[method], fn),
  callToolWithProgress: (client, params, onprogress) => client.callTool(params, CallToolResultSchema, { onprogress }),
});
