// The npm packages the bridge tests use, loaded from tests/interop where
// scripts/setup installs them (pinned in tests/interop/package.json): the
// `openai` SDK as the client, and AWS's own @smithy/signature-v4,
// @smithy/eventstream-codec and @aws-crypto/sha256-js inside the fake
// Bedrock, so that what checks our SigV4 and our event-stream decoder is an
// implementation independent of ours. Bare specifiers would not resolve from
// tests/bridge, so the CommonJS builds are required relative to
// tests/interop's package.json and the SDK's ESM entry is imported by path.

import { createRequire } from 'node:module';

const interopPkg = new URL('../../interop/package.json', import.meta.url);
const require = createRequire(interopPkg);

export const { SignatureV4 } = require('@smithy/signature-v4');
export const { EventStreamCodec } = require('@smithy/eventstream-codec');
export const { HttpRequest } = require('@smithy/protocol-http');
export const { toUtf8, fromUtf8 } = require('@smithy/util-utf8');
export const { Sha256 } = require('@aws-crypto/sha256-js');

const openaiUrl = new URL('../../interop/node_modules/openai/index.mjs', import.meta.url);
export const openai = await import(openaiUrl.href);
export const OpenAI = openai.default;

// One codec instance is stateless for encode/decode of whole messages.
export const codec = new EventStreamCodec(toUtf8, fromUtf8);
