/*
 * CSV reader for the importer (RFC 4180).
 *
 * The first record is the header; each later record becomes a JSON object
 * mapping header names to cell strings (empty cells are left out, so they
 * read as "absent"), handed to the importer's row callback like a JSON
 * Lines row. Quoting follows RFC 4180: a field in double quotes may hold
 * commas, line breaks and "" for a quote. Records end at LF or CRLF; blank
 * lines are skipped. The line reported for a record is the line it starts
 * on, even when a quoted field spans several.
 *
 * A quote inside an unquoted field is kept as a character (lenient, as
 * most writers of CSV expect). A record that cannot be read (wrong number
 * of fields, a stray character after a closing quote, over CATALOG_ROW_MAX
 * bytes, invalid UTF-8) is
 * reported and skipped. An unterminated quote swallows the rest of the
 * file, so it is reported once and reading stops. The buffer need not be
 * NUL-terminated.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include <stdlib.h>
#include <string.h>

#include "pennyworth/buf.h"

#define FIELDS_MAX 256

struct reader {
    const char *buf;
    size_t len;
    size_t pos;
    size_t line;       /* line of buf[pos] */
    struct pw_buf scratch; /* the record's unescaped field text, max CATALOG_ROW_MAX + 1 */
    size_t start[FIELDS_MAX], size[FIELDS_MAX];
    int nfields;
    const char *error; /* why the record is bad, or NULL */
    bool too_long;     /* over CATALOG_ROW_MAX: fields truncated */
};

/* False only when out of memory; past the bound the record is marked too
 * long and scanning goes on without storing. */
static bool put(struct reader *r, char c)
{
    enum pw_err rc = pw_buf_append(&r->scratch, &c, 1);
    if (rc == PW_ERR_TOO_LARGE)
        r->too_long = true;
    return rc != PW_ERR_NOMEM;
}

/* Reads one record into r->fields. Returns false at end of input or when
 * the input cannot be read further (unterminated quote: r->error set). */
static bool record(struct reader *r)
{
    r->nfields = 0;
    pw_buf_clear(&r->scratch);
    r->error = NULL;
    r->too_long = false;
    if (r->pos >= r->len)
        return false;
    for (;;) {
        size_t fstart = r->scratch.len;
        bool quoted = r->pos < r->len && r->buf[r->pos] == '"';
        if (quoted) {
            r->pos++;
            for (;;) {
                if (r->pos >= r->len) {
                    r->error = "unterminated quoted field";
                    return false;
                }
                char c = r->buf[r->pos++];
                if (c == '"') {
                    if (r->pos < r->len && r->buf[r->pos] == '"')
                        r->pos++;
                    else
                        break;
                }
                if (c == '\n')
                    r->line++;
                if (!put(r, c)) {
                    r->error = "out of memory";
                    return false;
                }
            }
        } else {
            while (r->pos < r->len) {
                char c = r->buf[r->pos];
                if (c == ',' || c == '\n' || c == '\r')
                    break;
                if (!put(r, c)) {
                    r->error = "out of memory";
                    return false;
                }
                r->pos++;
            }
        }
        if (r->nfields < FIELDS_MAX) {
            r->start[r->nfields] = fstart;
            r->size[r->nfields] = r->scratch.len - fstart;
        } else if (!r->error) {
            r->error = "more than 256 fields";
        }
        r->nfields++;
        if (r->pos >= r->len)
            return true;
        char c = r->buf[r->pos];
        if (c == ',') {
            r->pos++;
            continue;
        }
        if (c == '\r' || c == '\n') {
            r->pos++;
            if (c == '\r' && r->pos < r->len && r->buf[r->pos] == '\n')
                r->pos++;
            r->line++;
            return true;
        }
        /* after a closing quote: skip to the end of the line */
        if (!r->error)
            r->error = "unexpected character after a closing quote";
        while (r->pos < r->len && r->buf[r->pos] != '\n')
            r->pos++;
    }
}

static bool blank(const struct reader *r)
{
    return r->nfields == 1 && r->size[0] == 0;
}

int catalog_csv_rows(const char *buf, size_t len, catalog_row_fn fn, void *ctx)
{
    struct reader *r = calloc(1, sizeof *r);
    json_t *header = json_array();
    int stop = 0;
    if (!r || !header) {
        stop = fn(ctx, 1, 0, NULL, "row", "out of memory");
        goto out;
    }
    pw_buf_init(&r->scratch, CATALOG_ROW_MAX + 1);
    r->buf = buf;
    r->len = len;
    r->line = 1;
    do {
        if (!record(r)) {
            if (r->error)
                stop = fn(ctx, r->line, r->pos, NULL, "header", r->error);
            goto out; /* no header: no rows */
        }
    } while (blank(r));
    if (r->error) {
        stop = fn(ctx, 1, r->pos, NULL, "header", r->error);
        goto out;
    }
    for (int i = 0; i < r->nfields; i++) {
        json_t *name = json_stringn(pw_buf_str(&r->scratch) + r->start[i], r->size[i]);
        if (!name || r->size[i] == 0) {
            json_decref(name);
            stop = fn(ctx, 1, r->pos, NULL, "header",
                      name ? "empty column name" : "invalid UTF-8");
            goto out;
        }
        json_array_append_new(header, name);
    }
    for (;;) {
        size_t line = r->line, begin = r->pos;
        bool more = record(r);
        if (!more && !r->error)
            break;
        if (!more) { /* unterminated quote: nothing after it can be trusted */
            stop = fn(ctx, line, r->pos, NULL, "row", r->error);
            break;
        }
        if (blank(r) && !r->error)
            continue;
        const char *reason = r->error;
        char msg[96];
        if (!reason && (r->too_long || r->pos - begin > CATALOG_ROW_MAX))
            reason = "longer than 1048576 bytes";
        if (!reason && r->nfields != (int)json_array_size(header)) {
            snprintf(msg, sizeof msg, "has %d fields, the header has %zu", r->nfields,
                     json_array_size(header));
            reason = msg;
        }
        json_t *row = reason ? NULL : json_object();
        for (int i = 0; row && i < r->nfields; i++) {
            if (r->size[i] == 0)
                continue;
            json_t *v = json_stringn(pw_buf_str(&r->scratch) + r->start[i], r->size[i]);
            if (!v) {
                reason = "invalid UTF-8";
                json_decref(row);
                row = NULL;
                break;
            }
            json_object_set_new(row, json_string_value(json_array_get(header, (size_t)i)), v);
        }
        if (!row && !reason)
            reason = "out of memory";
        stop = fn(ctx, line, r->pos, row, row ? NULL : "row", reason);
        json_decref(row);
        if (stop)
            break;
    }
out:
    if (r)
        pw_buf_free(&r->scratch);
    free(r);
    json_decref(header);
    return stop;
}
