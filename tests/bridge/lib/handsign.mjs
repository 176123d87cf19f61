// A second SigV4 signer, written from AWS's documentation with node:crypto
// only, for the fakes' self-test: it must reproduce AWS's own test vectors
// (fixtures/sigv4), and requests it signs must pass the fake Bedrock's
// @smithy/signature-v4 verification. Two implementations anchored to AWS's
// suite and agreeing with each other is what makes the fake trustworthy as
// a judge of the C signer.

import { createHash, createHmac } from 'node:crypto';

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();

// RFC 3986 unreserved characters stay, everything else is %XX (upper case).
export function uriEncode(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

// The canonical path of AWS services other than S3: the path as sent (each
// segment already URI-encoded once by the sender) encoded once more.
export function canonicalPath(rawPath) {
  return rawPath.split('/').map(uriEncode).join('/');
}

export function canonicalQuery(rawQuery) {
  if (!rawQuery) return '';
  return rawQuery.split('&').map((kv) => {
    const i = kv.indexOf('=');
    const k = decodeURIComponent(i < 0 ? kv : kv.slice(0, i));
    const v = i < 0 ? '' : decodeURIComponent(kv.slice(i + 1));
    return [uriEncode(k), uriEncode(v)];
  }).sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : (a[0] < b[0] ? -1 : 1)))
    .map(([k, v]) => `${k}=${v}`).join('&');
}

// Signs and returns the Authorization value. `headers` maps names to values
// and must already hold every header to sign (host, x-amz-date, the token).
export function handSign({ method, rawPath, rawQuery = '', headers, body = '', accessKeyId,
  secretAccessKey, region, service, amzDate }) {
  const names = Object.keys(headers).map((n) => n.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonHeaders = names.map((n) => `${n}:${String(lower[n]).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const signedHeaders = names.join(';');
  const creq = [method, canonicalPath(rawPath), canonicalQuery(rawQuery), canonHeaders,
    signedHeaders, sha256(body)].join('\n');
  const date = amzDate.slice(0, 8);
  const scope = `${date}/${region}/${service}/aws4_request`;
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(creq)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), service),
    'aws4_request');
  const signature = createHmac('sha256', key).update(sts).digest('hex');
  return {
    authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, ` +
      `SignedHeaders=${signedHeaders}, Signature=${signature}`,
    canonicalRequest: creq,
    signature,
  };
}

export function amzDateOf(d) {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}
