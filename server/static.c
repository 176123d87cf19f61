/*
 * Static files: a prefix route of the server that answers GET and HEAD with
 * files from one directory (the storefront page of `pennyworth serve` is
 * served this way from its web root at "/").
 *
 * Path safety does not trust the URL: the name below the prefix must pass
 * server_static_name_ok (no empty, dot or hidden segments), and the file it
 * names is resolved with realpath, so every symlink is followed before the
 * check that the result still lies inside the resolved root; only then is
 * it opened (O_NOFOLLOW, O_NONBLOCK so a FIFO cannot stall the loop) and
 * only a regular file is served. A refused name and an absent file get the
 * same 404, so probing tells a client nothing. Symlinks that stay inside
 * the root work, which is what a build tree with linked assets needs.
 *
 * Responses carry Content-Type from the extension, `cache-control:
 * no-cache` (the bundle's names carry no content hash, so the browser must
 * revalidate), an ETag from size and modification time (If-None-Match gets
 * 304; it takes precedence over If-Modified-Since, which is therefore not
 * consulted), Last-Modified and `x-content-type-options: nosniff`. Other
 * methods get 405 with Allow. Errors use the server's default error body,
 * like every other path the server does not serve.
 *
 * The handler runs on the service thread and touches only metadata there
 * (realpath, open, fstat); contents come from filecache.c, which reads
 * them on its own thread and keeps recent files by version, so a GET never
 * waits on a disk. A bound (16 MiB by default) keeps a stray large file
 * from being copied into memory.
 *
 * SPDX-License-Identifier: MIT
 */
#include "server/static-int.h"
#include "server/server-int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "pennyworth/log.h"

#define DEFAULT_MAX_FILE ((size_t)16 * 1024 * 1024)
/* File contents kept in memory, bytes. */
#define CACHE_BYTES ((size_t)32 * 1024 * 1024)

struct pw_server_static {
    char *root;                 /* realpath of the served directory */
    char *index;                /* file name for paths ending in '/' */
    size_t prefix_len;          /* bytes of the route prefix */
    size_t max_file;
    struct server_filecache *files;
};

/* Names ------------------------------------------------------------------------ */

bool server_static_name_ok(const char *rel)
{
    size_t n = strlen(rel);
    if (n > SERVER_STATIC_MAX_REL)
        return false;
    bool seg_start = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)rel[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            return false;
        if (seg_start && (c == '.' || c == '/'))
            return false; /* ".", "..", ".hidden", or an empty segment */
        seg_start = c == '/';
    }
    return true;
}

int server_static_open(const char *root, const char *rel, const char *index, struct stat *st)
{
    if (!server_static_name_ok(rel))
        return -1;
    size_t rl = strlen(rel);
    bool dir = rl == 0 || rel[rl - 1] == '/';
    char joined[PATH_MAX];
    int n = snprintf(joined, sizeof joined, "%s/%s%s", root, rel, dir ? index : "");
    if (n < 0 || (size_t)n >= sizeof joined)
        return -1;
    char *real = realpath(joined, NULL);
    if (!real)
        return -1;
    size_t rootlen = strlen(root);
    bool inside = strcmp(root, "/") == 0 ||
                  (strncmp(real, root, rootlen) == 0 && real[rootlen] == '/');
    int fd = inside ? open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) : -1;
    free(real);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

static const struct {
    const char *ext;
    const char *type;
} mimes[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"txt", "text/plain; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"woff2", "font/woff2"},
    {"woff", "font/woff"},
    {"wasm", "application/wasm"},
};

const char *server_static_mime(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        for (size_t i = 0; i < sizeof mimes / sizeof mimes[0]; i++)
            if (strcasecmp(dot + 1, mimes[i].ext) == 0)
                return mimes[i].type;
    return "application/octet-stream";
}

/* Validators --------------------------------------------------------------------- */

void server_static_etag(const struct stat *st, char *buf, size_t size)
{
    unsigned long long mtime_ns = (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
                                  (unsigned long long)st->st_mtim.tv_nsec;
    snprintf(buf, size, "\"%llx-%llx\"", (unsigned long long)st->st_size, mtime_ns);
}

/* The opaque part of a tag: without "W/" and surrounding blanks. */
static void opaque(const char *s, size_t n, const char **out, size_t *outlen)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= 2 && s[0] == 'W' && s[1] == '/') {
        s += 2;
        n -= 2;
    }
    *out = s;
    *outlen = n;
}

bool server_static_etag_match(const char *if_none_match, const char *etag)
{
    const char *want;
    size_t wantlen;
    opaque(etag, strlen(etag), &want, &wantlen);
    const char *p = if_none_match;
    for (;;) {
        size_t n = strcspn(p, ",");
        const char *tag;
        size_t taglen;
        opaque(p, n, &tag, &taglen);
        if ((taglen == 1 && tag[0] == '*') ||
            (taglen == wantlen && memcmp(tag, want, wantlen) == 0))
            return true;
        if (!p[n])
            return false;
        p += n + 1;
    }
}

void server_static_http_date(long long t, char *buf, size_t size)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) {
        snprintf(buf, size, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The route ------------------------------------------------------------------------ */

static void refuse_method(struct pw_server_req *r)
{
    static const char *const hdrs[] = {"allow", "GET, HEAD", NULL};
    char *body = server_error_body(405, "Method Not Allowed: static files answer GET and HEAD");
    pw_server_req_respond(r, 405, "application/json", hdrs, body ? body : "",
                          body ? strlen(body) : 0);
    free(body);
}

/* The headers every answer about a file carries. */
struct described {
    char etag[64], date[40];
    const char *hdrs[9];
};

static void describe(const struct stat *sb, struct described *d)
{
    server_static_etag(sb, d->etag, sizeof d->etag);
    server_static_http_date((long long)sb->st_mtim.tv_sec, d->date, sizeof d->date);
    const char *const h[] = {"cache-control", "no-cache", "etag", d->etag, "last-modified",
                             d->date, "x-content-type-options", "nosniff", NULL};
    memcpy(d->hdrs, h, sizeof h);
}

/* The name whose extension gives the Content-Type. */
static const char *type_of(const struct pw_server_static *st, const char *path)
{
    size_t plen = strlen(path);
    return server_static_mime(plen == 0 || path[plen - 1] == '/' ? st->index : path);
}

/* The contents are here (filecache.c). */
static void send_file(struct pw_server_req *r, const struct stat *sb, const char *body,
                      size_t len, int error, void *ud)
{
    struct pw_server_static *st = ud;
    if (!body) {
        pw_warn("static: reading %s failed: %s", pw_server_req_path(r), strerror(error));
        pw_server_req_error(r, 500, "could not read the file");
        return;
    }
    struct described d;
    describe(sb, &d);
    pw_server_req_respond(r, 200, type_of(st, pw_server_req_path(r)), d.hdrs, body, len);
}

static void on_request(struct pw_server_req *r, void *ud)
{
    struct pw_server_static *st = ud;
    const char *method = pw_server_req_method(r);
    bool head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        refuse_method(r);
        return;
    }
    const char *path = pw_server_req_path(r);
    struct stat sb;
    int fd = strlen(path) >= st->prefix_len
                 ? server_static_open(st->root, path + st->prefix_len, st->index, &sb)
                 : -1;
    if (fd < 0) {
        pw_server_req_error(r, 404, "Not Found");
        return;
    }
    if ((unsigned long long)sb.st_size > st->max_file) {
        close(fd);
        pw_warn("static: %s is %lld bytes, over the %zu byte bound; not served", path,
                (long long)sb.st_size, st->max_file);
        pw_server_req_error(r, 500, "file too large to serve");
        return;
    }
    struct described d;
    describe(&sb, &d);
    char inm[512];
    if (pw_server_req_header(r, "if-none-match", inm, sizeof inm) >= 0 &&
        server_static_etag_match(inm, d.etag)) {
        close(fd);
        pw_server_req_respond(r, 304, NULL, d.hdrs, NULL, 0);
        return;
    }
    if (head) {
        close(fd);
        /* HEAD: the server sends the head with this length and no body. */
        pw_server_req_respond(r, 200, type_of(st, path), d.hdrs, NULL, (size_t)sb.st_size);
        return;
    }
    if (server_filecache_get(st->files, r, fd, &sb, send_file, st) != 0) {
        close(fd);
        pw_server_req_error(r, 503, "cannot read files right now");
    }
}

static void on_close(struct pw_server_req *r, void *ud)
{
    (void)ud;
    server_filecache_forget(r);
}

static void on_detach(void *ud)
{
    struct pw_server_static *st = ud;
    server_filecache_detach(st->files);
}

static const struct pw_server_handler handler = {
    .on_request = on_request,
    .on_close = on_close,
    .on_detach = on_detach,
};

enum pw_err pw_server_add_static(struct pw_server *srv, const struct pw_server_static_options *opt,
                                 struct pw_server_static **out, struct pw_error *err)
{
    *out = NULL;
    const char *prefix = opt->prefix ? opt->prefix : "/";
    size_t plen = strlen(prefix);
    if (plen == 0 || prefix[0] != '/' || prefix[plen - 1] != '/')
        return pw_error_set(err, PW_ERR_INVALID, NULL,
                            "static prefix '%s' must start and end with '/'", prefix);
    const char *index = opt->index ? opt->index : "index.html";
    if (!server_static_name_ok(index) || !*index || strchr(index, '/'))
        return pw_error_set(err, PW_ERR_INVALID, NULL, "static index '%s' is not a file name",
                            index);
    if (!opt->dir || !*opt->dir)
        return pw_error_set(err, PW_ERR_INVALID, NULL, "static route %s needs a directory",
                            prefix);
    char *root = realpath(opt->dir, NULL);
    struct stat sb;
    if (!root || stat(root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        int e = root ? ENOTDIR : errno;
        free(root);
        return pw_error_set(err, PW_ERR_NOT_FOUND, NULL, "web root %s: %s", opt->dir,
                            strerror(e));
    }
    struct pw_server_static *st = calloc(1, sizeof *st);
    char *idx = strdup(index);
    if (!st || !idx) {
        free(st);
        free(idx);
        free(root);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "out of memory for static route %s",
                            prefix);
    }
    st->root = root;
    st->index = idx;
    st->prefix_len = plen;
    st->max_file = opt->max_file ? opt->max_file : DEFAULT_MAX_FILE;
    if (!(st->files = server_filecache_new(srv, CACHE_BYTES))) {
        pw_server_static_free(st);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "cannot start the file reader for %s",
                            prefix);
    }
    struct pw_server_route route = {
        .path = prefix,
        .flags = PW_SERVER_ROUTE_PREFIX,
        .handler = &handler,
        .ud = st,
    };
    enum pw_err rc = pw_server_add_route(srv, &route, err);
    if (rc != PW_OK) {
        pw_server_static_free(st);
        return rc;
    }
    *out = st;
    return PW_OK;
}

void pw_server_static_free(struct pw_server_static *st)
{
    if (!st)
        return;
    server_filecache_free(st->files);
    free(st->root);
    free(st->index);
    free(st);
}

const char *pw_server_static_root(const struct pw_server_static *st) { return st->root; }

enum pw_err pw_server_static_locate(const char *name, char *out, size_t size,
                                    struct pw_error *err)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return pw_error_set(err, PW_ERR_IO, NULL, "cannot find the running executable: %s",
                            strerror(errno));
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    /* Next to the binary is the build tree's layout; ../share/pennyworth
     * the installed one. */
    static const char *const layouts[] = {"", "/../share/pennyworth"};
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        char cand[PATH_MAX];
        int k = snprintf(cand, sizeof cand, "%s%s/%s", exe, layouts[i], name);
        struct stat sb;
        if (k < 0 || (size_t)k >= sizeof cand || stat(cand, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        if ((size_t)k >= size)
            return pw_error_set(err, PW_ERR_TOO_LARGE, NULL, "path %s is too long", cand);
        memcpy(out, cand, (size_t)k + 1);
        return PW_OK;
    }
    return pw_error_set(err, PW_ERR_NOT_FOUND, NULL,
                        "no %s directory next to %s or in %s/../share/pennyworth", name, exe,
                        exe);
}
