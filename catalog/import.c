/*
 * Importing a catalog file: format detection, the JSON readers, and the
 * all-or-nothing transaction around them.
 *
 * Formats, told apart by the first non-blank byte (after a UTF-8 BOM):
 *
 *   [      a JSON array of product objects (DummyJSON's file, our export)
 *   {      JSON Lines, one object per line; or, when the first line is not
 *          a whole object but the input is one valid document,
 *          {"products": [...]} (DummyJSON's API answer) or a single object
 *   other  CSV with a header row (import_csv.c)
 *
 * The file is mapped, not read into memory, and JSON arrays are walked
 * element by element (skip_value finds where each element ends without
 * parsing it; jansson then parses just that slice), so a file of a million
 * products never becomes one huge json_t, and each row's line is known.
 *
 * One transaction (BEGIN IMMEDIATE): every record is validated; while none
 * has failed, valid ones are written (upsert by id, prepared once). Any bad
 * record turns the rest into validation only; at the end a bad record means
 * ROLLBACK (nothing imported) and every bad one has been reported to `diag`
 * as "FILE:LINE: field: reason". Success prunes the change log and commits.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/catalog-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pennyworth/buf.h"

#define PROGRESS_BYTES (1u << 20) /* report progress at least every MiB */

struct import {
    struct pw_catalog *cat;
    const char *label;
    FILE *diag;
    pw_catalog_progress_fn progress;
    void *ud;
    struct pw_catalog_progress at; /* what was last reported */
    struct pw_import_report *report;
    struct pw_error *err;
    enum pw_err rc; /* a fatal error (database), stops the import */
    char now[32];
};

static void bad(struct import *im, size_t line, const char *field, const char *reason)
{
    im->report->bad++;
    if (im->diag)
        fprintf(im->diag, "%s:%zu: %s: %s\n", im->label, line, field, reason);
}

static int on_row(void *ctx, size_t line, size_t offset, json_t *row, const char *field,
                  const char *reason)
{
    struct import *im = ctx;
    im->report->rows++;
    /* By rows, and by bytes too: a file of a few huge rows still moves. */
    if (im->progress && (im->report->rows - im->at.rows >= CATALOG_PROGRESS_ROWS ||
                         offset - im->at.bytes >= PROGRESS_BYTES)) {
        im->at.rows = im->report->rows;
        im->at.bytes = offset;
        im->progress(im->ud, &im->at);
    }
    if (!row) {
        bad(im, line, field, reason);
        return 0;
    }
    struct catalog_product p;
    struct catalog_row_error e;
    if (!catalog_row_parse(row, &p, &e)) {
        bad(im, line, e.field, e.reason);
    } else if (im->report->bad == 0) {
        /* Once a row is bad nothing will be kept: validate only. */
        im->rc = catalog_write_product(im->cat, &p, im->now, im->err);
        if (!im->rc)
            im->report->imported++;
    }
    catalog_product_clear(&p);
    return im->rc != PW_OK;
}

/* ------------------------------------------------------------------------
 * JSON readers
 */

static bool space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static size_t skip_space(const char *buf, size_t len, size_t pos, size_t *line)
{
    for (; pos < len && space(buf[pos]); pos++)
        if (buf[pos] == '\n')
            (*line)++;
    return pos;
}

/*
 * The end of the JSON value starting at buf[pos] (not validated: brackets
 * and strings are matched, everything else is left to jansson). Returns 0
 * when the input ends inside the value.
 */
static size_t skip_value(const char *buf, size_t len, size_t pos, size_t *line)
{
    size_t depth = 0;
    bool in_string = false;
    for (; pos < len; pos++) {
        char c = buf[pos];
        if (c == '\n')
            (*line)++;
        if (in_string) {
            if (c == '\\')
                pos++; /* an escaped character cannot be a newline in valid JSON */
            else if (c == '"')
                in_string = false;
            if (!in_string && depth == 0)
                return pos + 1;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (depth == 0)
                return pos; /* a scalar ended by its container */
            if (--depth == 0)
                return pos + 1;
        } else if (depth == 0 && (c == ',' || space(c))) {
            if (c == '\n')
                (*line)--; /* not part of the value */
            return pos;
        }
    }
    return depth == 0 && !in_string ? pos : 0;
}

/* One element's text -> the row callback. */
static int element(struct import *im, const char *text, size_t n, size_t line, size_t end)
{
    if (n > CATALOG_ROW_MAX)
        return on_row(im, line, end, NULL, "row", "longer than 1048576 bytes");
    json_error_t jerr;
    json_t *row = json_loadb(text, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    int stop;
    if (!row) {
        char reason[200];
        snprintf(reason, sizeof reason, "invalid JSON: %s", jerr.text);
        stop = on_row(im, line, end, NULL, "row", reason);
    } else {
        stop = on_row(im, line, end, row, NULL, NULL);
        json_decref(row);
    }
    return stop;
}

/* The elements of the array whose '[' is at buf[pos]. */
static void read_array(struct import *im, const char *buf, size_t len, size_t pos,
                       size_t line)
{
    pos = skip_space(buf, len, pos + 1, &line);
    if (pos < len && buf[pos] == ']')
        return;
    while (pos < len) {
        size_t start = pos, start_line = line;
        size_t end = skip_value(buf, len, pos, &line);
        if (end == 0 || end == start) {
            on_row(im, start_line, len, NULL, "row", "invalid JSON: unterminated value");
            return;
        }
        if (element(im, buf + start, end - start, start_line, end))
            return;
        pos = skip_space(buf, len, end, &line);
        if (pos < len && buf[pos] == ',') {
            pos = skip_space(buf, len, pos + 1, &line);
            continue;
        }
        if (pos < len && buf[pos] == ']')
            return;
        on_row(im, line, len, NULL, "row", "invalid JSON: expected ',' or ']'");
        return;
    }
    on_row(im, line, len, NULL, "row", "invalid JSON: the array is not closed");
}

/* A whole document starting with '{': {"products": [...]} or one product. */
static void read_document(struct import *im, const char *buf, size_t len, size_t pos,
                          size_t line)
{
    size_t l = line;
    size_t end = skip_value(buf, len, pos, &l);
    json_t *doc = end ? json_loadb(buf + pos, end - pos, 0, NULL) : NULL;
    bool wrapper = json_is_array(json_object_get(doc, "products"));
    json_decref(doc);
    if (!wrapper) {
        element(im, buf + pos, end ? end - pos : len - pos, line, len);
        return;
    }
    /* Walk the top-level keys to find where the array starts. */
    pos = skip_space(buf, len, pos + 1, &line);
    while (pos < len && buf[pos] == '"') {
        size_t key_end = skip_value(buf, len, pos, &line);
        bool products = key_end - pos == 10 && memcmp(buf + pos, "\"products\"", 10) == 0;
        pos = skip_space(buf, len, key_end, &line);
        pos = skip_space(buf, len, pos + 1, &line); /* the ':' */
        if (products) {
            read_array(im, buf, len, pos, line);
            return;
        }
        pos = skip_space(buf, len, skip_value(buf, len, pos, &line), &line);
        pos = skip_space(buf, len, pos + 1, &line); /* the ',' */
    }
}

/* JSON Lines: one object per non-blank line. */
static void read_lines(struct import *im, const char *buf, size_t len, size_t pos)
{
    size_t line = 1;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t a = pos, b = end;
        while (a < b && space(buf[a]))
            a++;
        while (b > a && space(buf[b - 1]))
            b--;
        if (a < b && element(im, buf + a, b - a, line, end))
            return;
        pos = end + 1;
        line++;
    }
}

/*
 * For input starting with '{': JSON Lines unless the first line is not an
 * object by itself while the whole input is one valid document (a
 * pretty-printed object). A broken first line of a JSON Lines file thus
 * stays a per-line error.
 */
static bool is_document(const char *buf, size_t len, size_t pos)
{
    const char *nl = memchr(buf + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - buf) : len;
    json_t *v = json_loadb(buf + pos, end - pos, 0, NULL);
    bool line_is_object = json_is_object(v);
    json_decref(v);
    if (line_is_object)
        return false;
    v = json_loadb(buf + pos, len - pos, 0, NULL);
    bool whole = v != NULL;
    json_decref(v);
    return whole;
}

/* ------------------------------------------------------------------------
 * Bulk mode
 *
 * Keeping six b-trees and the FTS index up to date row by row costs about
 * 2.5 times more than building them once at the end from sorted data. So
 * an import into an EMPTY catalog drops, inside its own transaction, the
 * secondary indexes on products and the FTS triggers (products_fts_*,
 * schema/002_search.sql), and afterwards re-creates them from the SQL
 * saved from sqlite_master and rebuilds the FTS index. The UNIQUE index on
 * id stays (upserts need it) and so do the change-log triggers. DDL is
 * transactional in SQLite: a refused import rolls all of it back, and
 * other connections only ever see the schema before or after.
 */

#define BULK_MAX 32

struct bulk {
    char *sql[BULK_MAX]; /* CREATE statements to run again */
    int n;
};

static void bulk_free(struct bulk *b)
{
    for (int i = 0; i < b->n; i++)
        sqlite3_free(b->sql[i]);
    b->n = 0;
}

static enum pw_err bulk_start(struct pw_catalog *cat, struct bulk *b, struct pw_error *err)
{
    sqlite3_stmt *st = catalog_stmt(cat, CATALOG_STMT_COUNT_ALL, err);
    if (!st)
        return PW_ERR_DB;
    bool empty = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == 0;
    sqlite3_reset(st);
    if (!empty)
        return PW_OK;
    if (sqlite3_prepare_v2(cat->db,
                           "SELECT type, name, sql FROM sqlite_master"
                           " WHERE tbl_name = 'products' AND sql IS NOT NULL"
                           " AND (type = 'index' OR (type = 'trigger'"
                           " AND name LIKE 'products\\_fts\\_%' ESCAPE '\\'))",
                           -1, &st, NULL) != SQLITE_OK)
        return catalog_db_error(cat, "bulk import", err);
    char *drops[BULK_MAX];
    int ndrops = 0;
    while (sqlite3_step(st) == SQLITE_ROW && b->n < BULK_MAX) {
        b->sql[b->n++] = sqlite3_mprintf("%s", sqlite3_column_text(st, 2));
        drops[ndrops++] = sqlite3_mprintf("DROP %s \"%w\"", sqlite3_column_text(st, 0),
                                          (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    enum pw_err rc = PW_OK;
    for (int i = 0; i < ndrops; i++) {
        if (!rc)
            rc = drops[i] && b->sql[i] ? catalog_exec(cat, drops[i], err)
                                       : pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory");
        sqlite3_free(drops[i]);
    }
    return rc;
}

static enum pw_err bulk_finish(struct pw_catalog *cat, struct bulk *b, struct pw_error *err)
{
    enum pw_err rc = PW_OK;
    for (int i = 0; i < b->n && !rc; i++)
        rc = catalog_exec(cat, b->sql[i], err);
    if (!rc && b->n)
        rc = catalog_exec(cat, "INSERT INTO products_fts (products_fts) VALUES ('rebuild')", err);
    return rc;
}

/* ------------------------------------------------------------------------
 * The transaction
 */

enum pw_err catalog_import_buffer(struct pw_catalog *cat, const char *label, const char *buf,
                                  size_t len, FILE *diag, pw_catalog_progress_fn progress,
                                  void *ud, struct pw_import_report *report,
                                  struct pw_error *err)
{
    struct pw_import_report local;
    if (!report)
        report = &local;
    memset(report, 0, sizeof *report);
    if (cat->flags & PW_CATALOG_READONLY)
        return pw_error_set(err, PW_ERR_STATE, NULL, "the catalog is open read-only");
    struct import im = {
        .cat = cat, .label = label, .diag = diag, .progress = progress, .ud = ud,
        .at = {.bytes_total = len}, .report = report, .err = err,
    };
    catalog_now(im.now);

    size_t pos = 0, line = 1;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    size_t first = skip_space(buf, len, pos, &line);

    /* A big page cache keeps the index b-trees of a large import in memory
     * instead of spilling half-built pages to the WAL; restored after. */
    catalog_exec(cat, "PRAGMA cache_size = -262144", NULL);
    struct bulk bulk = {.n = 0};
    enum pw_err rc = catalog_exec(cat, "BEGIN IMMEDIATE", err);
    if (!rc)
        rc = bulk_start(cat, &bulk, err);
    if (rc) {
        /* nothing read */
    } else if (first >= len) {
        /* empty: nothing to import */
    } else if (buf[first] == '[') {
        read_array(&im, buf, len, first, line);
    } else if (buf[first] == '{' && is_document(buf, len, first)) {
        read_document(&im, buf, len, first, line);
    } else if (buf[first] == '{') {
        read_lines(&im, buf, len, pos);
    } else {
        catalog_csv_rows(buf + pos, len - pos, on_row, &im);
    }

    if (!rc)
        rc = im.rc;
    if (!rc && report->bad)
        rc = pw_error_set(err, PW_ERR_INVALID, NULL, "%s: %zu of %zu rows are invalid; "
                          "nothing was imported", label, report->bad, report->rows);
    if (!rc && progress && bulk.n) {
        /* Rebuilding the indexes of a bulk import is the long silent tail. */
        im.at = (struct pw_catalog_progress){report->rows, report->rows, len, len, "indexing"};
        progress(ud, &im.at);
    }
    if (!rc)
        rc = bulk_finish(cat, &bulk, err);
    bulk_free(&bulk);
    if (!rc)
        rc = catalog_prune_changes(cat, err);
    if (!rc)
        rc = catalog_exec(cat, "COMMIT", err);
    if (rc)
        sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
    catalog_exec(cat, "PRAGMA cache_size = -2000", NULL);
    if (rc) {
        report->imported = 0;
        return rc;
    }
    if (progress) {
        im.at = (struct pw_catalog_progress){report->rows, report->rows, len, len, NULL};
        progress(ud, &im.at);
    }
    return PW_OK;
}

/* Reads a file that cannot be mapped (a pipe, /dev/stdin) into memory: a
 * new buffer, or NULL with errno set. */
static char *slurp(int fd, size_t *len)
{
    struct pw_buf b = {0};
    char chunk[16384];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r == 0)
            break;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            pw_buf_free(&b);
            return NULL;
        }
        if (pw_buf_append(&b, chunk, (size_t)r) != PW_OK) {
            pw_buf_free(&b);
            errno = ENOMEM;
            return NULL;
        }
    }
    *len = b.len;
    return pw_buf_take(&b);
}

enum pw_err pw_catalog_import(struct pw_catalog *cat, const char *file, FILE *diag,
                              pw_catalog_progress_fn progress, void *ud,
                              struct pw_import_report *report, struct pw_error *err)
{
    if (report)
        memset(report, 0, sizeof *report);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pw_error_set(err, PW_ERR_IO, NULL, "%s: %s", file, strerror(errno));
    struct stat stbuf;
    if (fstat(fd, &stbuf) != 0) {
        int e = errno;
        close(fd);
        return pw_error_set(err, PW_ERR_IO, NULL, "%s: %s", file, strerror(e));
    }
    enum pw_err rc;
    if (S_ISREG(stbuf.st_mode) && stbuf.st_size > 0) {
        size_t len = (size_t)stbuf.st_size;
        void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return pw_error_set(err, PW_ERR_IO, NULL, "%s: %s", file, strerror(e));
        }
        madvise(map, len, MADV_SEQUENTIAL);
        rc = catalog_import_buffer(cat, file, map, len, diag, progress, ud, report, err);
        munmap(map, len);
    } else {
        size_t len = 0;
        char *buf = slurp(fd, &len);
        if (!buf) {
            int e = errno;
            close(fd);
            return pw_error_set(err, PW_ERR_IO, NULL, "%s: %s", file, strerror(e));
        }
        rc = catalog_import_buffer(cat, file, buf, len, diag, progress, ud, report, err);
        free(buf);
    }
    close(fd);
    return rc;
}
