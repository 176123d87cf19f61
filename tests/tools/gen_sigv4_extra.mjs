// Regenerates fixtures/sigv4-extra/: SigV4 cases for Bedrock Runtime whose
// expected canonical request, string to sign and signature come from an
// independent signer, @smithy/signature-v4 (the AWS SDK for JavaScript v3's).
// Each case directory has the same layout as AWS's suite in fixtures/sigv4/.
//
// Run once in a scratch directory outside the repo (node 20+):
//   npm i @smithy/signature-v4 @smithy/protocol-http @aws-crypto/sha256-js
//   node /path/to/tests/tools/gen_sigv4_extra.mjs /path/to/fixtures/sigv4-extra
//
// SPDX-License-Identifier: MIT
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(join(process.cwd(), "package.json"));
const { SignatureV4 } = require("@smithy/signature-v4");
const { HttpRequest } = require("@smithy/protocol-http");
const { Sha256 } = require("@aws-crypto/sha256-js");

const out = process.argv[2];
if (!out) throw new Error("usage: gen_sigv4_extra.mjs OUTDIR");

const creds = {
  access_key_id: "AKIDEXAMPLE",
  secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  token: "FwoGZXIvYXdzEBYaDEXAMPLE+session/token==",
};
const arn =
  "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0";
const body = JSON.stringify({
  messages: [{ role: "user", content: [{ text: "Which running shoes are in stock?" }] }],
  inferenceConfig: { maxTokens: 512 },
});
// Path segments are encoded the way the SDK's serializer does it.
const seg = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

const cases = [
  {
    name: "bedrock-converse-model-id",
    path: `/model/${seg("anthropic.claude-3-5-sonnet-20240620-v1:0")}/converse`,
    region: "us-east-1",
    signBody: false,
    timestamp: "2024-07-15T09:30:00Z",
  },
  {
    name: "bedrock-converse-stream-inference-profile",
    path: `/model/${seg(arn)}/converse-stream`,
    region: "us-east-1",
    signBody: true,
    timestamp: "2024-07-15T23:59:59Z",
  },
  {
    name: "bedrock-converse-eu-no-token",
    path: `/model/${seg("eu.anthropic.claude-3-5-sonnet-20240620-v1:0")}/converse`,
    region: "eu-central-1",
    signBody: false,
    timestamp: "2025-01-01T00:00:00Z",
    noToken: true,
  },
  {
    // S3 rules for contrast: no normalization, no second encoding.
    name: "s3-get-no-double-encode",
    method: "GET",
    service: "s3",
    hostPrefix: "examplebucket.s3",
    path: `/photos//2024/../${seg("a:b c.jpg")}`,
    query: { "list-type": "2", prefix: "a b/c" },
    region: "us-west-2",
    signBody: true,
    uriEscapePath: false,
    timestamp: "2024-02-29T12:00:00Z",
    noToken: true,
  },
];

for (const c of cases) {
  const method = c.method ?? "POST";
  const service = c.service ?? "bedrock";
  const payload = method === "GET" ? "" : body;
  const host = `${c.hostPrefix ?? "bedrock-runtime"}.${c.region}.amazonaws.com`;
  const headers =
    method === "GET"
      ? { Host: host, "User-Agent": "pennyworth/0.1.0" }
      : {
          Host: host,
          "Content-Type": "application/json",
          "Content-Length": String(Buffer.byteLength(payload)),
          "User-Agent": "pennyworth/0.1.0",
        };
  const query = c.query ?? {};
  const qs = Object.entries(query).map(([k, v]) => `${seg(k)}=${seg(v)}`).join("&");
  const target = c.path + (qs ? `?${qs}` : "");
  const credentials = {
    accessKeyId: creds.access_key_id,
    secretAccessKey: creds.secret_access_key,
    ...(c.noToken ? {} : { sessionToken: creds.token }),
  };
  const captured = {};
  const mk = (applyChecksum) => {
    const s = new SignatureV4({ credentials, region: c.region, service, sha256: Sha256, applyChecksum, uriEscapePath: c.uriEscapePath ?? true });
    const ccr = s.createCanonicalRequest.bind(s);
    const csts = s.createStringToSign.bind(s);
    s.createCanonicalRequest = (...a) => (captured.creq = ccr(...a));
    s.createStringToSign = async (...a) => (captured.sts = await csts(...a));
    return s;
  };
  const req = () => new HttpRequest({ method, protocol: "https:", hostname: host, path: c.path, query: { ...query }, headers: { ...headers }, body: payload });
  const date = new Date(c.timestamp);
  const dir = join(out, c.name);
  mkdirSync(dir, { recursive: true });

  const signed = await mk(c.signBody).sign(req(), { signingDate: date });
  const auth = signed.headers.authorization;
  writeFileSync(join(dir, "header-canonical-request.txt"), captured.creq);
  writeFileSync(join(dir, "header-string-to-sign.txt"), captured.sts);
  writeFileSync(join(dir, "header-signature.txt"), auth.slice(auth.indexOf("Signature=") + 10));
  writeFileSync(
    join(dir, "header-signed-request.txt"),
    `${method} ${target} HTTP/1.1\n` + Object.entries(signed.headers).map(([k, v]) => `${k}:${v}`).join("\n") + `\n\n${payload}`,
  );

  const pre = await mk(false).presign(req(), { signingDate: date, expiresIn: 900 });
  writeFileSync(join(dir, "query-canonical-request.txt"), captured.creq);
  writeFileSync(join(dir, "query-string-to-sign.txt"), captured.sts);
  writeFileSync(join(dir, "query-signature.txt"), pre.query["X-Amz-Signature"]);

  writeFileSync(
    join(dir, "request.txt"),
    `${method} ${target} HTTP/1.1\n` + Object.entries(headers).map(([k, v]) => `${k}:${v}`).join("\n") + `\n\n${payload}`,
  );
  const ctx = {
    credentials: c.noToken
      ? { access_key_id: creds.access_key_id, secret_access_key: creds.secret_access_key }
      : creds,
    expiration_in_seconds: 900,
    normalize: c.uriEscapePath ?? true,
    double_uri_encode: c.uriEscapePath ?? true,
    region: c.region,
    service,
    sign_body: c.signBody,
    timestamp: c.timestamp,
  };
  writeFileSync(join(dir, "context.json"), JSON.stringify(ctx, null, 4) + "\n");
  console.log(c.name, auth);
}
