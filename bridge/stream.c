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
 * cannot grow us without limit. The bound is on the line being read and
 * the event's data together, so the two buffers carry none of their own
 * (`max` 0) and bridge_sse_feed checks it.
 *
 * SPDX-License-Identifier: MIT
 */
#include "bridge/bridge-int.h"

#include <string.h>

#define DEFAULT_MAX ((size_t)4 * 1024 * 1024)

/* A non-blank line: a "data" field joins the event's data, anything else
 * is skipped. */
static enum pw_err field(struct bridge_sse *p, const char *l, size_t len, struct pw_error *err)
{
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
    if (pw_buf_reserve(&p->data, (p->has_data ? 1 : 0) + vlen) != PW_OK)
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "sse: out of memory");
    if (p->has_data)
        pw_buf_append(&p->data, "\n", 1);
    pw_buf_append(&p->data, v, vlen);
    p->has_data = true;
    return PW_OK;
}

static enum pw_err line_done(struct bridge_sse *p, bridge_sse_fn on_event, void *ud,
                             struct pw_error *err)
{
    enum pw_err rc = PW_OK;
    if (p->line.len) {
        rc = field(p, p->line.data, p->line.len, err);
        pw_buf_clear(&p->line);
    } else if (p->has_data) {
        p->has_data = false;
        rc = on_event(ud, pw_buf_str(&p->data), p->data.len, err);
        pw_buf_clear(&p->data);
    }
    return rc;
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
        if (p->line.len + p->data.len + 2 > max)
            return pw_error_set(err, PW_ERR_TOO_LARGE, NULL,
                                "sse: an event longer than %zu bytes", max);
        if (pw_buf_append(&p->line, &c, 1) != PW_OK)
            return pw_error_set(err, PW_ERR_NOMEM, NULL, "sse: out of memory");
    }
    return PW_OK;
}

void bridge_sse_clear(struct bridge_sse *p)
{
    pw_buf_free(&p->line);
    pw_buf_free(&p->data);
    p->has_data = false;
    p->last_cr = false;
}
