// Validation of server messages against the official MCP JSON Schemas
// (fixtures/mcp-schema/<revision>/schema.json, copied verbatim from the spec
// repository; see fixtures/mcp-schema/LICENSE).
//
// The older revisions are draft-07 (`definitions`), the newer ones draft
// 2020-12 (`$defs`); each file's own `$schema` picks the Ajv flavour.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv07 from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const here = dirname(fileURLToPath(import.meta.url));
export const SCHEMA_DIR = join(here, '..', '..', '..', 'fixtures', 'mcp-schema');

// Revisions we have a schema file for.
export const SCHEMA_REVISIONS = ['2025-03-26', '2025-06-18', '2025-11-25', '2026-07-28'];

// The spec repository publishes no JSON Schema for 2024-11-05 in our vector
// set, so a session that negotiates 2024-11-05 is validated against
// 2025-03-26, the nearest later revision. 2025-03-26 only added optional
// fields (annotations, audio content, completions capability) and JSON-RPC
// batching, so anything valid for 2024-11-05 should also be valid there; a
// violation reported for such a session names both revisions.
const REVISION_ALIASES = { '2024-11-05': '2025-03-26' };

export function schemaRevisionFor(protocolVersion) {
  if (SCHEMA_REVISIONS.includes(protocolVersion)) return protocolVersion;
  return REVISION_ALIASES[protocolVersion];
}

class RevisionSchema {
  constructor(revision) {
    this.revision = revision;
    const raw = JSON.parse(readFileSync(join(SCHEMA_DIR, revision, 'schema.json'), 'utf8'));
    const is2020 = String(raw.$schema || '').includes('2020-12');
    this.defsKey = raw.$defs ? '$defs' : 'definitions';
    this.defs = raw[this.defsKey];
    this.id = `https://pennyworth.invalid/mcp-schema/${revision}/schema.json`;
    const Ajv = is2020 ? Ajv2020 : Ajv07;
    this.ajv = new Ajv({ strict: false, allErrors: true, verbose: true });
    addFormats(this.ajv);
    // The files carry no $id; give each one so $refs resolve within it.
    this.ajv.addSchema({ ...raw, $id: this.id });
    this.cache = new Map();
  }

  has(def) {
    return Object.prototype.hasOwnProperty.call(this.defs, def);
  }

  validator(def) {
    if (!this.has(def)) throw new Error(`schema ${this.revision} has no definition ${def}`);
    let v = this.cache.get(def);
    if (!v) {
      v = this.ajv.compile({ $ref: `${this.id}#/${this.defsKey}/${def}` });
      this.cache.set(def, v);
    }
    return v;
  }

  // Returns [] when `value` is a valid `def`, otherwise a list of
  // {instancePath, message, keyword, params} (ajv errors, trimmed).
  check(def, value) {
    const v = this.validator(def);
    if (v(value)) return [];
    return (v.errors || []).map((e) => ({
      instancePath: e.instancePath || '/',
      schemaPath: e.schemaPath,
      message: e.message,
      params: e.params,
    }));
  }
}

const loaded = new Map();
export function loadSchema(revision) {
  let s = loaded.get(revision);
  if (!s) {
    s = new RevisionSchema(revision);
    loaded.set(revision, s);
  }
  return s;
}

// The result type a successful response to `method` must match.
const RESULT_FOR_METHOD = {
  initialize: 'InitializeResult',
  ping: 'EmptyResult',
  'server/discover': 'DiscoverResult',
  'tools/list': 'ListToolsResult',
  'tools/call': 'CallToolResult',
  'resources/list': 'ListResourcesResult',
  'resources/templates/list': 'ListResourceTemplatesResult',
  'resources/read': 'ReadResourceResult',
  'resources/subscribe': 'EmptyResult',
  'resources/unsubscribe': 'EmptyResult',
  'subscriptions/listen': 'SubscriptionsListenResult',
  'prompts/list': 'ListPromptsResult',
  'prompts/get': 'GetPromptResult',
  'completion/complete': 'CompleteResult',
  'logging/setLevel': 'EmptyResult',
  'tasks/get': 'GetTaskResult',
  'tasks/result': 'GetTaskPayloadResult',
  'tasks/list': 'ListTasksResult',
  'tasks/cancel': 'CancelTaskResult',
};

export function resultTypeFor(schema, method, result) {
  // 2026-07-28: a request may be answered with an input_required result
  // (multi-round-trip) instead of its own result type.
  if (result && typeof result === 'object' && result.resultType === 'input_required' &&
      schema.has('InputRequiredResult')) {
    return 'InputRequiredResult';
  }
  const def = RESULT_FOR_METHOD[method];
  if (def && schema.has(def)) return def;
  return null;
}

// The envelope definitions differ by revision.
export function envelopeNames(schema) {
  return {
    result: schema.has('JSONRPCResultResponse') ? 'JSONRPCResultResponse' : 'JSONRPCResponse',
    error: schema.has('JSONRPCErrorResponse') ? 'JSONRPCErrorResponse' : 'JSONRPCError',
    notification: 'JSONRPCNotification',
    request: 'JSONRPCRequest',
  };
}
