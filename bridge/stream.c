/*
 * An incremental text/event-stream parser for upstream responses (OpenAI
 * and anything OpenAI-compatible). It follows the WHATWG event-stream
 * rules as far as a client of a chat API needs them: lines end in CRLF, LF
 * or a lone CR (a CR at the end of one buffer and an LF at the start of the
 * next are one line end); a line starting with ":" is a comment; "data"
 * lines accumulate, joined by LF, with one leading space after the colon
 * dropped; other fields (event, id, retry) are read and ignored; a blank
 * line dispatches the event if it has data. An event larger than the bound
 * fails with PW_ERR_TOO_LARGE, so a provider that never sends a blank line
 * cannot grow us without limit.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/bridge-int.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX ((size_t)4 * 1024 * 1024)

static bool grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    char *nb = realloc(*buf, n);
    if (!nb)
        return false;
    *buf = nb;
    *cap = n;
    return true;
}

static enum pw_err line_done(struct bridge_sse *p, bridge_sse_fn on_event, void *ud,
                             struct pw_error *err)
{
    const char *l = p->line ? p->line : "";
    size_t len = p->len;
    p->len = 0;
    if (len == 0) {
        if (!p->has_data)
            return PW_OK;
        p->has_data = false;
        size_t dlen = p->dlen;
        p->dlen = 0;
        p->data[dlen] = '\0';
        return on_event(ud, p->data, dlen, err);
    }
    if (l[0] == ':')
        return PW_OK;
    const char *colon = memchr(l, ':', len);
    size_t nlen = colon ? (size_t)(colon - l) : len;
    if (nlen != 4 || memcmp(l, "data", 4) != 0)
        return PW_OK;
    const char *v = colon ? colon + 1 : l + len;
    size_t vlen = (size_t)(l + len - v);
    if (vlen && *v == ' ') {
        v++;
        vlen--;
    }
    size_t need = p->dlen + (p->has_data ? 1 : 0) + vlen + 1;
    if (!grow(&p->data, &p->dcap, need))
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "sse: out of memory");
    if (p->has_data)
        p->data[p->dlen++] = '\n';
    memcpy(p->data + p->dlen, v, vlen);
    p->dlen += vlen;
    p->has_data = true;
    return PW_OK;
}

enum pw_err bridge_sse_feed(struct bridge_sse *p, const char *buf, size_t len,
                            bridge_sse_fn on_event, void *ud, struct pw_error *err)
{
    size_t max = p->max ? p->max : DEFAULT_MAX;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (c == '\n' && p->last_cr) {
            p->last_cr = false;
            continue;
        }
        p->last_cr = c == '\r';
        if (c == '\r' || c == '\n') {
            enum pw_err rc = line_done(p, on_event, ud, err);
            if (rc != PW_OK)
                return rc;
            continue;
        }
        if (p->len + p->dlen + 2 > max)
            return pw_error_set(err, PW_ERR_TOO_LARGE, NULL,
                                "sse: an event longer than %zu bytes", max);
        if (!grow(&p->line, &p->cap, p->len + 2))
            return pw_error_set(err, PW_ERR_NOMEM, NULL, "sse: out of memory");
        p->line[p->len++] = c;
        p->line[p->len] = '\0';
    }
    return PW_OK;
}

void bridge_sse_clear(struct bridge_sse *p)
{
    free(p->line);
    free(p->data);
    size_t max = p->max;
    memset(p, 0, sizeof *p);
    p->max = max;
}
