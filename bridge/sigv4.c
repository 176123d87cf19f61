/*
 * AWS Signature Version 4: canonical request, string to sign, signature.
 *
 * Bedrock (like every AWS API) authenticates each request with SigV4. We
 * sign in-process with OpenSSL (SHA-256, HMAC-SHA256) instead of pulling in
 * an SDK. The functions are pure and reentrant: the timestamp is an input.
 *
 *   canonical request = METHOD \n canonical URI \n canonical query \n
 *                       canonical headers (name:value\n each) \n
 *                       signed headers (names joined by ';') \n payload hash
 *   string to sign    = "AWS4-HMAC-SHA256" \n YYYYMMDDTHHMMSSZ \n
 *                       date/region/service/aws4_request \n
 *                       hex(SHA-256(canonical request))
 *   signing key       = HMAC chain "AWS4"+secret -> date -> region ->
 *                       service -> "aws4_request"; signature = hex(HMAC(key, sts))
 *
 * THE PATH, which is where signers usually go wrong. `path` is the path
 * exactly as it goes on the wire, i.e. already percent-encoded once by
 * whoever built the URL. Bedrock model ids contain ':' and inference-profile
 * ARNs contain ':' and '/', and they travel as ONE encoded path segment:
 *
 *   model id   anthropic.claude-3-5-sonnet-20240620-v1:0
 *   wire path  /model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse
 *   canonical  /model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse
 *
 *   ARN        arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.x-v1:0
 *   wire path  /model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3A
 *              inference-profile%2Fus.x-v1%3A0/converse   (one line)
 *   canonical  ...arn%253Aaws%253A...inference-profile%252Fus.x-v1%253A0...
 *
 * Every service except S3 "double-encodes": the canonical URI is the wire
 * path percent-encoded again, segment by segment, so each '%' becomes "%25"
 * (BRIDGE_SIGV4_DOUBLE_ENCODE). Only literal '/' separates segments; an
 * encoded "%2F" inside the ARN is segment data and becomes "%252F". The same
 * services also normalize the path first (BRIDGE_SIGV4_NORMALIZE_PATH):
 * empty segments ("//") and "." are dropped, ".." drops the previous segment,
 * and a trailing '/' survives (RFC 3986 remove_dot_segments plus slash
 * collapsing; "/a/b/.." gives "/a/"). S3 does neither: its canonical URI is
 * the wire path verbatim. The flags are independent because AWS's own test
 * suite exercises "no normalization, double encoding" too. A Bedrock path
 * has no dot or empty segments, so normalization never changes it; the
 * double encoding always does as soon as the model id has a ':'.
 *
 * Query: split on '&', key and value split at the first '=', each value
 * percent-decoded (%XX only; '+' is a literal plus) and re-encoded with the
 * RFC 3986 unreserved set, pairs sorted by encoded key then encoded value.
 * Headers: names lower-cased, values trimmed with inner runs of spaces and
 * tabs collapsed to one space, duplicates joined with ',' in the order given,
 * sorted by name. Hop-by-hop and proxy-rewritten headers (user-agent,
 * expect, connection, transfer-encoding, x-amzn-trace-id) are never signed,
 * as the SDKs do. CR, LF and other control bytes are rejected, never signed.
 *
 * Invariants: secrets (the "AWS4"+secret key, derived keys) live only in
 * fixed stack buffers and are wiped with OPENSSL_cleanse; no function logs;
 * on failure the result holds nothing to free.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/sigv4.h"
#include "pennyworth/buf.h"
#include "pennyworth/encode.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define EXPIRES_MAX 604800L /* seven days, AWS's limit for presigned URLs */
#define SECRET_MAX 128      /* AWS secret keys are 40 characters */

/* ---- encoding ---------------------------------------------------------- */

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static void put_encoded(struct pw_buf *b, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0; /* bytes copied through unchanged, flushed in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            run++;
            continue;
        }
        pw_buf_append(b, s + i - run, run);
        run = 0;
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        pw_buf_append(b, esc, 3);
    }
    pw_buf_append(b, s + n - run, run);
}

size_t bridge_sigv4_uri_encode(char *dst, size_t cap, const char *s, size_t len,
                               int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[3] = {(char)c, 0, 0};
        size_t n = 1;
        if (!unreserved(c) && !(keep_slash && c == '/')) {
            esc[0] = '%';
            esc[1] = hex[c >> 4];
            esc[2] = hex[c & 15];
            n = 3;
        }
        for (size_t k = 0; k < n; k++, out++)
            if (out + 1 < cap)
                dst[out] = esc[k];
    }
    if (cap > 0)
        dst[out < cap ? out : cap - 1] = '\0';
    return out;
}

/* Percent-decode `n` bytes of `s` (valid %XX only) and re-encode them with
 * the unreserved set: "%e1%88%b4" and raw UTF-8 both give "%E1%88%B4". */
static void put_recoded(struct pw_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < n && pw_hex_digit(s[i + 1]) >= 0 &&
            pw_hex_digit(s[i + 2]) >= 0) {
            c = (char)(pw_hex_digit(s[i + 1]) * 16 + pw_hex_digit(s[i + 2]));
            i += 2;
        }
        put_encoded(b, &c, 1, false);
    }
}

/* ---- crypto ------------------------------------------------------------ */

static bool sha256_hex(char out[65], const void *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return false;
    pw_hex_encode(out, md, 32);
    return true;
}

static bool hmac(unsigned char out[32], const void *key, size_t keylen, const char *msg,
                 size_t msglen)
{
    unsigned int len = 0;
    if (keylen > INT32_MAX)
        return false;
    return HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, msglen, out,
                &len) &&
           len == 32;
}

/* ---- path -------------------------------------------------------------- */

struct seg {
    const char *p;
    size_t n;
};

static void put_segment(struct pw_buf *b, const char *p, size_t n, unsigned flags)
{
    if (flags & BRIDGE_SIGV4_DOUBLE_ENCODE)
        put_encoded(b, p, n, false);
    else
        pw_buf_append(b, p, n);
}

static enum pw_err put_path(struct pw_buf *b, const char *path, unsigned flags,
                            struct pw_error *err)
{
    if (!path || path[0] != '/')
        return pw_error_set(err, PW_ERR_INVALID, NULL, "sigv4: path must start with '/'");
    size_t len = strlen(path);
    if (!(flags & BRIDGE_SIGV4_NORMALIZE_PATH)) {
        if (flags & BRIDGE_SIGV4_DOUBLE_ENCODE)
            put_encoded(b, path, len, true);
        else
            pw_buf_append(b, path, len);
        return PW_OK;
    }
    /* At most one segment per '/', so len bounds the stack of segments. */
    struct seg *segs = malloc(len * sizeof *segs);
    if (!segs)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "sigv4: out of memory");
    size_t n = 0;
    bool trailing = false;
    for (const char *p = path + 1;; ) {
        const char *e = strchr(p, '/');
        size_t sl = e ? (size_t)(e - p) : strlen(p);
        if (sl == 0 || (sl == 1 && p[0] == '.')) {
            trailing = true;
        } else if (sl == 2 && p[0] == '.' && p[1] == '.') {
            if (n > 0)
                n--;
            trailing = true;
        } else {
            segs[n++] = (struct seg){p, sl};
            trailing = false;
        }
        if (!e)
            break;
        p = e + 1;
    }
    pw_buf_append_str(b, "/");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            pw_buf_append_str(b, "/");
        put_segment(b, segs[i].p, segs[i].n, flags);
    }
    if (n > 0 && trailing)
        pw_buf_append_str(b, "/");
    free(segs);
    return PW_OK;
}

/* ---- query ------------------------------------------------------------- */

struct param {
    char *key; /* encoded; new */
    char *val; /* encoded; new */
};

struct params {
    struct param *v;
    size_t n, cap;
    bool failed;
};

static void params_add(struct params *ps, char *key, char *val)
{
    if (!ps->failed && ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        struct param *v = realloc(ps->v, cap * sizeof *v);
        if (v) {
            ps->v = v;
            ps->cap = cap;
        } else {
            ps->failed = true;
        }
    }
    if (ps->failed || !key || !val) {
        ps->failed = true;
        free(key);
        free(val);
        return;
    }
    ps->v[ps->n++] = (struct param){key, val};
}

/* Add a parameter from raw (unencoded) text, e.g. our own X-Amz-Credential. */
static void params_add_raw(struct params *ps, const char *key, const char *val)
{
    struct pw_buf k = {0}, v = {0};
    put_encoded(&k, key, strlen(key), false);
    put_encoded(&v, val, strlen(val), false);
    params_add(ps, pw_buf_take(&k), pw_buf_take(&v));
}

static void params_parse(struct params *ps, const char *q)
{
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n > 0) {
            const char *eq = memchr(q, '=', n);
            size_t kn = eq ? (size_t)(eq - q) : n;
            struct pw_buf k = {0}, v = {0};
            put_recoded(&k, q, kn);
            if (eq)
                put_recoded(&v, eq + 1, n - kn - 1);
            params_add(ps, pw_buf_take(&k), pw_buf_take(&v));
        }
        q = amp ? amp + 1 : NULL;
    }
}

static int param_cmp(const void *a, const void *b)
{
    const struct param *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->val, y->val);
}

static void params_put(struct pw_buf *b, struct params *ps)
{
    if (ps->n > 1)
        qsort(ps->v, ps->n, sizeof *ps->v, param_cmp);
    for (size_t i = 0; i < ps->n; i++) {
        if (i > 0)
            pw_buf_append_str(b, "&");
        pw_buf_append_str(b, ps->v[i].key);
        pw_buf_append_str(b, "=");
        pw_buf_append_str(b, ps->v[i].val);
    }
}

static void params_free(struct params *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->v[i].key);
        free(ps->v[i].val);
    }
    free(ps->v);
    memset(ps, 0, sizeof *ps);
}

/* ---- headers ----------------------------------------------------------- */

struct hdr {
    char *name;  /* lower-case; new */
    char *value; /* trimmed, collapsed; new */
    size_t order;
};

/* Never signed: rewritten by proxies or hop-by-hop (the SDKs skip them too). */
static const char *const unsigned_headers[] = {
    "connection", "expect", "transfer-encoding", "user-agent", "x-amzn-trace-id",
};

/* Set by the signer itself; a caller-supplied copy is a bug. */
static const char *const reserved_headers[] = {
    "authorization", "x-amz-date", "x-amz-security-token",
};

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

static bool tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int hdr_cmp(const void *a, const void *b)
{
    const struct hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->order < y->order ? -1 : x->order > y->order);
}

struct hdrs {
    struct hdr *v;
    size_t n;
};

static void hdrs_free(struct hdrs *hs)
{
    for (size_t i = 0; i < hs->n; i++) {
        free(hs->v[i].name);
        free(hs->v[i].value);
    }
    free(hs->v);
    memset(hs, 0, sizeof *hs);
}

static enum pw_err hdr_push(struct hdrs *hs, const char *name, const char *value,
                            struct pw_error *err)
{
    struct pw_buf n = {0}, v = {0};
    for (const char *p = name; *p; p++) {
        char c = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        pw_buf_append(&n, &c, 1);
    }
    const char *s = value;
    while (*s == ' ' || *s == '\t')
        s++;
    bool space = false;
    for (; *s; s++) {
        if (*s == ' ' || *s == '\t') {
            space = true;
            continue;
        }
        if (space)
            pw_buf_append_str(&v, " ");
        space = false;
        pw_buf_append(&v, s, 1);
    }
    struct hdr h = {pw_buf_take(&n), pw_buf_take(&v), hs->n};
    if (!h.name || !h.value) {
        free(h.name);
        free(h.value);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "sigv4: out of memory");
    }
    hs->v[hs->n++] = h;
    return PW_OK;
}

static enum pw_err check_header(const struct bridge_sigv4_header *h, struct pw_error *err)
{
    if (!h->name || !h->name[0] || !h->value)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "sigv4: header without name or value");
    for (const char *p = h->name; *p; p++)
        if (!tchar((unsigned char)*p))
            return pw_error_set(err, PW_ERR_INVALID, NULL,
                                "sigv4: bad character in header name");
    for (const char *p = h->value; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return pw_error_set(err, PW_ERR_INVALID, NULL,
                                "sigv4: control character in header value");
    }
    return PW_OK;
}

/* Canonicalize the caller's headers plus `extra` (already lower-case) into
 * `hs`, sorted by name, order kept among equal names. */
static enum pw_err hdrs_build(struct hdrs *hs, const struct bridge_sigv4_request *req,
                              const struct bridge_sigv4_header *extra, size_t n_extra,
                              struct pw_error *err)
{
    hs->v = calloc(req->n_headers + n_extra + 1, sizeof *hs->v);
    if (!hs->v)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "sigv4: out of memory");
    enum pw_err rc = PW_OK;
    bool host = false;
    for (size_t i = 0; i < req->n_headers && rc == PW_OK; i++) {
        rc = check_header(&req->headers[i], err);
        if (rc == PW_OK)
            rc = hdr_push(hs, req->headers[i].name, req->headers[i].value, err);
        if (rc != PW_OK)
            break;
        struct hdr *h = &hs->v[hs->n - 1];
        bool reserved = in_list(h->name, reserved_headers,
                                sizeof reserved_headers / sizeof reserved_headers[0]);
        for (size_t k = 0; k < n_extra; k++)
            reserved = reserved || strcmp(h->name, extra[k].name) == 0;
        if (reserved)
            rc = pw_error_set(err, PW_ERR_INVALID, NULL,
                              "sigv4: header %s is set by the signer", h->name);
        else if (in_list(h->name, unsigned_headers,
                         sizeof unsigned_headers / sizeof unsigned_headers[0])) {
            free(h->name);
            free(h->value);
            hs->n--;
        } else if (strcmp(h->name, "host") == 0) {
            host = true;
        }
    }
    for (size_t i = 0; i < n_extra && rc == PW_OK; i++)
        rc = hdr_push(hs, extra[i].name, extra[i].value, err);
    if (rc == PW_OK && !host)
        rc = pw_error_set(err, PW_ERR_INVALID, NULL, "sigv4: no Host header");
    if (rc != PW_OK) {
        hdrs_free(hs);
        return rc;
    }
    if (hs->n > 1)
        qsort(hs->v, hs->n, sizeof *hs->v, hdr_cmp);
    return PW_OK;
}

/* "name:v1,v2\n" per distinct name into `block`, "a;b" into `names`. */
static void hdrs_put(const struct hdrs *hs, struct pw_buf *block, struct pw_buf *names)
{
    for (size_t i = 0; i < hs->n; i++) {
        if (i > 0 && strcmp(hs->v[i].name, hs->v[i - 1].name) == 0) {
            pw_buf_append_str(block, ",");
            pw_buf_append_str(block, hs->v[i].value);
            continue;
        }
        if (i > 0) {
            pw_buf_append_str(block, "\n");
            pw_buf_append_str(names, ";");
        }
        pw_buf_append_str(block, hs->v[i].name);
        pw_buf_append_str(block, ":");
        pw_buf_append_str(block, hs->v[i].value);
        pw_buf_append_str(names, hs->v[i].name);
    }
    pw_buf_append_str(block, "\n");
}

/* ---- signing ----------------------------------------------------------- */

static bool plain_field(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == '/' || *s == 0x7f)
            return false;
    return true;
}

static enum pw_err check_request(const struct bridge_sigv4_request *req,
                                 struct pw_error *err)
{
    const struct bridge_sigv4_credentials *c = req->creds;
    if (!req->method || !req->method[0])
        return pw_error_set(err, PW_ERR_INVALID, NULL, "sigv4: no method");
    for (const char *p = req->method; *p; p++)
        if (!tchar((unsigned char)*p))
            return pw_error_set(err, PW_ERR_INVALID, NULL, "sigv4: bad method");
    if (!plain_field(req->region) || !plain_field(req->service))
        return pw_error_set(err, PW_ERR_INVALID, NULL, "sigv4: bad region or service");
    if (!c || !plain_field(c->access_key_id) || !c->secret_access_key ||
        strlen(c->secret_access_key) > SECRET_MAX)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "sigv4: incomplete credentials");
    if (c->session_token)
        for (const char *p = c->session_token; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return pw_error_set(err, PW_ERR_INVALID, NULL, "sigv4: bad session token");
    if (req->payload_sha256 && (!req->payload_sha256[0] ||
                                strlen(req->payload_sha256) > BRIDGE_SIGV4_HASH_MAX ||
                                !plain_field(req->payload_sha256)))
        return pw_error_set(err, PW_ERR_INVALID, NULL, "sigv4: bad payload hash");
    if (req->n_headers && !req->headers)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "sigv4: no header array");
    return PW_OK;
}

static bool derive_and_sign(char sig[65], const char *secret, const char *date,
                            const char *region, const char *service, const char *sts)
{
    unsigned char k[4 + SECRET_MAX], a[32], b[32];
    size_t n = strlen(secret); /* <= SECRET_MAX, checked by check_request */
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret, n);
    bool ok = hmac(a, k, 4 + n, date, strlen(date)) &&
              hmac(b, a, 32, region, strlen(region)) &&
              hmac(a, b, 32, service, strlen(service)) &&
              hmac(b, a, 32, "aws4_request", 12) && hmac(a, b, 32, sts, strlen(sts));
    if (ok)
        pw_hex_encode(sig, a, 32);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
    return ok;
}

/* Everything one signing call builds; freed in one place. */
struct job {
    struct pw_buf block, names, scope, cr, sts, tail;
    struct params ps;
    struct hdrs hs;
};

static void job_free(struct job *j)
{
    pw_buf_free(&j->block);
    pw_buf_free(&j->names);
    pw_buf_free(&j->scope);
    pw_buf_free(&j->cr);
    pw_buf_free(&j->sts);
    pw_buf_free(&j->tail);
    params_free(&j->ps);
    hdrs_free(&j->hs);
}

static bool job_failed(const struct job *j)
{
    return j->block.err || j->names.err || j->scope.err || j->cr.err || j->sts.err ||
           j->tail.err || j->ps.failed;
}

/* The X-Amz-* query parameters of a presigned request (before signing). */
static void add_presign_params(struct job *j, const struct bridge_sigv4_request *req,
                               const char *amz_date, long expires, const char *token)
{
    char exp[24];
    struct pw_buf cred = {0};
    snprintf(exp, sizeof exp, "%ld", expires);
    pw_buf_appendf(&cred, "%s/%s", req->creds->access_key_id, pw_buf_str(&j->scope));
    params_add_raw(&j->ps, "X-Amz-Algorithm", ALGORITHM);
    if (cred.err)
        j->ps.failed = true;
    else
        params_add_raw(&j->ps, "X-Amz-Credential", pw_buf_str(&cred));
    pw_buf_free(&cred);
    params_add_raw(&j->ps, "X-Amz-Date", amz_date);
    params_add_raw(&j->ps, "X-Amz-Expires", exp);
    if (token)
        params_add_raw(&j->ps, "X-Amz-Security-Token", token);
    params_add_raw(&j->ps, "X-Amz-SignedHeaders", pw_buf_str(&j->names));
}

static enum pw_err sign(const struct bridge_sigv4_request *req, long expires,
                        struct bridge_sigv4_result *out, struct pw_error *err)
{
    memset(out, 0, sizeof *out);
    if (!req)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "sigv4: no request");
    enum pw_err rc = check_request(req, err);
    if (rc != PW_OK)
        return rc;
    bool presign = expires > 0;
    const char *token = req->creds->session_token;
    if (token && !token[0])
        token = NULL;
    const char *signed_token = (req->flags & BRIDGE_SIGV4_UNSIGNED_TOKEN) ? NULL : token;

    struct tm tm;
    char date[9];
    if (!gmtime_r(&req->when, &tm) ||
        strftime(out->amz_date, sizeof out->amz_date, "%Y%m%dT%H%M%SZ", &tm) != 16)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "sigv4: timestamp out of range");
    memcpy(date, out->amz_date, 8);
    date[8] = '\0';

    if (req->payload_sha256)
        memcpy(out->payload_hash, req->payload_sha256, strlen(req->payload_sha256) + 1);
    else if (!sha256_hex(out->payload_hash, req->payload, req->payload_len))
        return pw_error_set(err, PW_ERR_INTERNAL, NULL, "sigv4: SHA-256 failed");

    /* Headers the signer adds and signs (the header variant only). */
    struct bridge_sigv4_header extra[3];
    size_t n_extra = 0;
    if (!presign) {
        extra[n_extra++] = (struct bridge_sigv4_header){"x-amz-date", out->amz_date};
        if (signed_token)
            extra[n_extra++] = (struct bridge_sigv4_header){"x-amz-security-token", token};
        if (req->flags & BRIDGE_SIGV4_CONTENT_SHA256)
            extra[n_extra++] =
                (struct bridge_sigv4_header){"x-amz-content-sha256", out->payload_hash};
    }

    struct job j = {0};
    char crhash[65];
    rc = hdrs_build(&j.hs, req, extra, n_extra, err);
    if (rc != PW_OK)
        goto done;
    hdrs_put(&j.hs, &j.block, &j.names);
    pw_buf_appendf(&j.scope, "%s/%s/%s/aws4_request", date, req->region, req->service);
    params_parse(&j.ps, req->query);
    if (job_failed(&j))
        goto done;
    if (presign)
        add_presign_params(&j, req, out->amz_date, expires, signed_token);

    pw_buf_appendf(&j.cr, "%s\n", req->method);
    rc = put_path(&j.cr, req->path, req->flags, err);
    if (rc != PW_OK)
        goto done;
    pw_buf_append_str(&j.cr, "\n");
    size_t query_at = j.cr.len;
    params_put(&j.cr, &j.ps);
    size_t query_len = j.cr.len - query_at;
    pw_buf_appendf(&j.cr, "\n%s\n%s\n%s", pw_buf_str(&j.block), pw_buf_str(&j.names),
                   out->payload_hash);
    if (job_failed(&j))
        goto done;

    if (!sha256_hex(crhash, j.cr.data, j.cr.len)) {
        rc = pw_error_set(err, PW_ERR_INTERNAL, NULL, "sigv4: SHA-256 failed");
        goto done;
    }
    pw_buf_appendf(&j.sts, ALGORITHM "\n%s\n%s\n%s", out->amz_date, pw_buf_str(&j.scope),
                   crhash);
    if (job_failed(&j))
        goto done;
    if (!derive_and_sign(out->signature, req->creds->secret_access_key, date, req->region,
                         req->service, pw_buf_str(&j.sts))) {
        rc = pw_error_set(err, PW_ERR_INTERNAL, NULL, "sigv4: HMAC failed");
        goto done;
    }

    if (presign) {
        pw_buf_append(&j.tail, j.cr.data + query_at, query_len);
        pw_buf_appendf(&j.tail, "&X-Amz-Signature=%s", out->signature);
        if (token && !signed_token) {
            pw_buf_append_str(&j.tail, "&X-Amz-Security-Token=");
            put_encoded(&j.tail, token, strlen(token), false);
        }
    } else {
        pw_buf_appendf(&j.tail, ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                       req->creds->access_key_id, pw_buf_str(&j.scope), pw_buf_str(&j.names),
                       out->signature);
    }
    if (job_failed(&j) || (token && !(out->session_token = strdup(token))))
        goto done;
    out->canonical_request = pw_buf_take(&j.cr);
    out->string_to_sign = pw_buf_take(&j.sts);
    *(presign ? &out->query : &out->authorization) = pw_buf_take(&j.tail);

    if (!presign) {
        out->add[out->n_add++] = (struct bridge_sigv4_header){"X-Amz-Date", out->amz_date};
        if (token)
            out->add[out->n_add++] =
                (struct bridge_sigv4_header){"X-Amz-Security-Token", out->session_token};
        if (req->flags & BRIDGE_SIGV4_CONTENT_SHA256)
            out->add[out->n_add++] =
                (struct bridge_sigv4_header){"x-amz-content-sha256", out->payload_hash};
        out->add[out->n_add++] =
            (struct bridge_sigv4_header){"Authorization", out->authorization};
    }

done:
    if (rc == PW_OK && job_failed(&j))
        rc = pw_error_set(err, PW_ERR_NOMEM, NULL, "sigv4: out of memory");
    if (rc == PW_OK && !out->canonical_request)
        rc = pw_error_set(err, PW_ERR_NOMEM, NULL, "sigv4: out of memory");
    job_free(&j);
    if (rc != PW_OK)
        bridge_sigv4_result_free(out);
    return rc;
}

enum pw_err bridge_sigv4_sign(const struct bridge_sigv4_request *req,
                              struct bridge_sigv4_result *out, struct pw_error *err)
{
    return sign(req, 0, out, err);
}

enum pw_err bridge_sigv4_presign(const struct bridge_sigv4_request *req, long expires,
                                 struct bridge_sigv4_result *out, struct pw_error *err)
{
    if (expires < 1 || expires > EXPIRES_MAX) {
        memset(out, 0, sizeof *out);
        return pw_error_set(err, PW_ERR_INVALID, NULL,
                            "sigv4: presign expiry %ld outside 1..%ld seconds", expires,
                            EXPIRES_MAX);
    }
    return sign(req, expires, out, err);
}

void bridge_sigv4_result_free(struct bridge_sigv4_result *res)
{
    if (!res)
        return;
    free(res->canonical_request);
    free(res->string_to_sign);
    free(res->authorization);
    free(res->query);
    if (res->session_token) {
        OPENSSL_cleanse(res->session_token, strlen(res->session_token));
        free(res->session_token);
    }
    memset(res, 0, sizeof *res);
}
