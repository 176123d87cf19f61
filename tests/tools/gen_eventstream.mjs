// Regenerates fixtures/eventstream/: recorded application/vnd.amazon.eventstream
// streams made by an independent encoder, @smithy/eventstream-codec (the AWS
// SDK for JavaScript v3's), for tests/unit/bridge/test_eventstream.c.
//
// Each case directory gets stream.bin and expected.jsonl (one JSON object
// per message the decoder must deliver, in order:
//   {"headers":[{"name":..., "type":..., "value":...}, ...], "payload":"<text>"}
// with types boolean, byte, short, integer, long, binary (value in hex),
// string, timestamp (milliseconds), uuid), and for streams that must fail,
// `error`: "<pw_err name>: <text the error message contains>".
// Hand-built frames (bad lengths, bad header types) get their CRCs from
// @aws-crypto/crc32, also independent of our code.
//
// Run in a scratch directory outside the repo (node 20+):
//   npm i @smithy/eventstream-codec @smithy/util-utf8 @aws-crypto/crc32
//   node /path/to/tests/tools/gen_eventstream.mjs /path/to/fixtures/eventstream
//
// SPDX-License-Identifier: MIT
import { createRequire } from "node:module";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(join(process.cwd(), "package.json"));
const { EventStreamCodec, Int64 } = require("@smithy/eventstream-codec");
const { toUtf8, fromUtf8 } = require("@smithy/util-utf8");
const { crc32 } = require("@aws-crypto/crc32");

const outDir = process.argv[2];
if (!outDir) throw new Error("usage: gen_eventstream.mjs OUTDIR");
const codec = new EventStreamCodec(toUtf8, fromUtf8);

// ---- building messages ---------------------------------------------------

const str = (value) => ({ type: "string", value });
const hex = (u8) => Buffer.from(u8).toString("hex");
const int64 = (big) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, big, false);
  return new Int64(b);
};

// A message: smithy headers (insertion order is wire order) plus payload text.
const event = (type, payload) => ({
  headers: { ":event-type": str(type), ":content-type": str("application/json"), ":message-type": str("event") },
  payload: JSON.stringify(payload),
});

// The JSON our decoder must produce for `m`; long values are BigInt, written
// as exact JSON integers.
const expectation = (m) => ({
  headers: Object.entries(m.headers).map(([name, h]) => {
    let value = h.value;
    if (h.type === "long") value = new DataView(h.value.bytes.buffer).getBigInt64(0, false);
    if (h.type === "timestamp") value = BigInt(h.value.valueOf());
    if (h.type === "binary") value = hex(h.value);
    return { name, type: h.type, value };
  }),
  payload: m.payload,
});
const jsonl = (msgs) =>
  msgs
    .map((m) => JSON.stringify(expectation(m), (k, v) => (typeof v === "bigint" ? `@@${v}@@` : v)).replace(/"@@(-?\d+)@@"/g, "$1") + "\n")
    .join("");

const encode = (m) => codec.encode({ headers: m.headers, body: fromUtf8(m.payload) });
const concat = (parts) => Buffer.concat(parts.map((p) => Buffer.from(p)));

// Self-check: smithy decodes what smithy encoded.
const roundTrip = (m) => {
  const d = codec.decode(encode(m));
  if (toUtf8(d.body) !== m.payload) throw new Error("round trip failed");
};

// A raw frame with correct CRCs around arbitrary header/payload bytes, and
// an explicit headers length (to make it inconsistent on purpose).
const rawFrame = (headerBytes, payloadBytes, headersLen = headerBytes.length, totalOverride) => {
  const total = totalOverride ?? 16 + headerBytes.length + payloadBytes.length;
  const buf = Buffer.alloc(16 + headerBytes.length + payloadBytes.length);
  buf.writeUInt32BE(total, 0);
  buf.writeUInt32BE(headersLen, 4);
  buf.writeUInt32BE(crc32(buf.subarray(0, 8)), 8);
  Buffer.from(headerBytes).copy(buf, 12);
  Buffer.from(payloadBytes).copy(buf, 12 + headerBytes.length);
  buf.writeUInt32BE(crc32(buf.subarray(0, buf.length - 4)), buf.length - 4);
  return buf;
};

// ---- the cases ------------------------------------------------------------

const converse = [
  event("messageStart", { p: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS", role: "assistant" }),
  event("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "Two pairs of" }, p: "abcdefghij" }),
  event("contentBlockDelta", { contentBlockIndex: 0, delta: { text: " trail runners are" }, p: "abcdefghijklmnopq" }),
  event("contentBlockDelta", { contentBlockIndex: 0, delta: { text: " in stock — “Ridge 3” in 42 and 44." }, p: "abc" }),
  event("contentBlockStop", { contentBlockIndex: 0, p: "abcdefghijklmnopqrstuvwxyzABCDEF" }),
  event("messageStop", { p: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO", stopReason: "end_turn" }),
  event("metadata", {
    metrics: { latencyMs: 812 },
    p: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0",
    usage: { inputTokens: 1187, outputTokens: 23, totalTokens: 1210 },
  }),
];

const throttled = [
  converse[0],
  {
    headers: {
      ":exception-type": str("throttlingException"),
      ":content-type": str("application/json"),
      ":message-type": str("exception"),
    },
    payload: JSON.stringify({ message: "Too many requests, please wait before trying again." }),
  },
];

const errorMessage = [
  {
    headers: {
      ":message-type": str("error"),
      ":error-code": str("InternalFailure"),
      ":error-message": str("An internal error occurred."),
    },
    payload: "",
  },
];

const allTypes = [
  {
    headers: {
      "bool-true": { type: "boolean", value: true },
      "bool-false": { type: "boolean", value: false },
      "byte-min": { type: "byte", value: -128 },
      "byte-max": { type: "byte", value: 127 },
      "short-min": { type: "short", value: -32768 },
      "short-max": { type: "short", value: 32767 },
      "int-min": { type: "integer", value: -2147483648 },
      "int-max": { type: "integer", value: 2147483647 },
      "long-min": { type: "long", value: int64(-9223372036854775808n) },
      "long-max": { type: "long", value: int64(9223372036854775807n) },
      "long-minus-one": { type: "long", value: int64(-1n) },
      binary: { type: "binary", value: Uint8Array.from([0x00, 0xff, 0x7f, 0x80, 0x0a]) },
      "binary-empty": { type: "binary", value: new Uint8Array(0) },
      string: str("h\u00e9llo \u2713 \u{1F45F}"),
      "string-empty": str(""),
      "string-300": str("x".repeat(300)),
      timestamp: { type: "timestamp", value: new Date(1720000000123) },
      "timestamp-before-1970": { type: "timestamp", value: new Date(-86400001) },
      uuid: { type: "uuid", value: "0f8fad5b-d9cb-469f-a165-70867728950e" },
      ["n".repeat(255)]: str("longest name"),
    },
    payload: "every header type",
  },
  { headers: {}, payload: "no headers at all" },
  { headers: { ":message-type": str("event") }, payload: "" },
];

const big = [event("chunk", { data: "z".repeat(20000) })];

const cases = {};
const add = (name, msgs, bytes, error) => (cases[name] = { msgs, bytes: bytes ?? concat(msgs.map(encode)), error });

add("converse-stream", converse);
add("throttling-exception", throttled);
add("error-message", errorMessage);
add("all-header-types", allTypes);
add("big-payload", big);
add("empty-stream", [], Buffer.alloc(0));

{
  // Flip one payload byte of the third message: the message CRC catches it.
  const parts = converse.map((m) => Buffer.from(encode(m)));
  parts[2][parts[2].length - 10] ^= 0x01;
  add("bad-message-crc", converse.slice(0, 2), concat(parts), "parse: message CRC mismatch");
}
{
  // Flip a bit of the second message's total length: the prelude CRC catches it.
  const parts = converse.map((m) => Buffer.from(encode(m)));
  parts[1][2] ^= 0x40;
  add("bad-prelude-crc", converse.slice(0, 1), concat(parts), "parse: prelude CRC mismatch");
}
{
  // Flip a bit of the prelude CRC itself.
  const parts = converse.map((m) => Buffer.from(encode(m)));
  parts[0][9] ^= 0x01;
  add("bad-prelude-crc-field", [], concat(parts), "parse: prelude CRC mismatch");
}
{
  const whole = concat(converse.map(encode));
  add("truncated", converse.slice(0, 6), whole.subarray(0, whole.length - 25), "parse: incomplete message at end of stream");
  const five = concat(converse.slice(0, 5).map(encode));
  add("truncated-in-prelude", converse.slice(0, 5), concat([five, whole.subarray(five.length, five.length + 7)]),
    "parse: incomplete message at end of stream");
}
{
  const ok = Buffer.from(encode(converse[0]));
  // headers length 100 in a 40-byte message, both CRCs valid
  add("headers-longer-than-message", [converse[0]], concat([ok, rawFrame(Buffer.alloc(0), Buffer.alloc(24), 100)]),
    "parse: lengths inconsistent");
  // total length 15, below the 16-byte minimum (prelude CRC valid)
  const tiny = Buffer.alloc(12);
  tiny.writeUInt32BE(15, 0);
  tiny.writeUInt32BE(0, 4);
  tiny.writeUInt32BE(crc32(tiny.subarray(0, 8)), 8);
  add("total-below-minimum", [converse[0]], concat([ok, tiny]), "parse: lengths inconsistent");
  // a prelude announcing 17 MiB: refused before any body arrives
  const huge = Buffer.alloc(12);
  huge.writeUInt32BE(17 * 1024 * 1024, 0);
  huge.writeUInt32BE(64, 4);
  huge.writeUInt32BE(crc32(huge.subarray(0, 8)), 8);
  add("message-over-limit", [converse[0]], concat([ok, huge]), "too_large: over the limit");
  // header value type 10 does not exist
  add("unknown-header-type", [converse[0]], concat([ok, rawFrame(Buffer.from([1, 0x78, 10, 0, 0]), Buffer.from("{}"))]),
    "parse: unknown value type 10");
  // a string header claiming 200 bytes inside a 9-byte headers section
  add("header-overruns-section", [converse[0]],
    concat([ok, rawFrame(Buffer.from([1, 0x78, 7, 0, 200, 0x61, 0x62, 0x63, 0x64]), Buffer.from("{}"))]),
    "parse: overruns the headers section");
  // a header with an empty name
  add("empty-header-name", [], rawFrame(Buffer.from([0, 0]), Buffer.alloc(0)), "parse: empty name");
}

for (const [name, c] of Object.entries(cases)) {
  c.msgs.forEach(roundTrip);
  const dir = join(outDir, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "stream.bin"), c.bytes);
  writeFileSync(join(dir, "expected.jsonl"), jsonl(c.msgs));
  if (c.error) writeFileSync(join(dir, "error"), c.error + "\n");
  console.log(`${name}: ${c.bytes.length} bytes, ${c.msgs.length} messages${c.error ? ", error" : ""}`);
}
