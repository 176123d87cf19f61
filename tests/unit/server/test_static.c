/*
 * Unit tests for server/static.c, the static-file route's policy: which URL
 * names are looked up, which files they may open (a scratch web root with
 * symlinks that stay inside and ones that escape, a directory, a FIFO),
 * Content-Type by extension, entity tags and If-None-Match, and HTTP dates.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/static-int.h"

/* A scratch tree:
 *   T/outside.txt           a file outside the web root
 *   T/root/index.html       "home"
 *   T/root/app.js
 *   T/root/sub/index.html
 *   T/root/sub/.secret
 *   T/root/in-link          -> app.js (inside: allowed)
 *   T/root/out-link         -> ../outside.txt (escapes)
 *   T/root/out-dir          -> .. (escapes, as a directory)
 *   T/root/fifo             a FIFO
 */
struct tree {
    char top[PATH_MAX];
    char root[PATH_MAX];
};

static void put(const char *dir, const char *name, const char *text)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void link_at(const char *dir, const char *target, const char *name)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
    struct tree *t = calloc(1, sizeof *t);
    snprintf(t->top, sizeof t->top, "%s/pw-static-XXXXXX", P_tmpdir);
    if (!mkdtemp(t->top))
        return -1;
    char made[PATH_MAX + 8];
    snprintf(made, sizeof made, "%s/root", t->top);
    mkdir(made, 0700);
    /* The route keeps realpath(root): resolve /tmp symlinks the same way. */
    if (!realpath(made, t->root))
        return -1;
    put(t->top, "outside.txt", "secret");
    put(t->root, "index.html", "home");
    put(t->root, "app.js", "js");
    char sub[PATH_MAX + 8];
    snprintf(sub, sizeof sub, "%s/sub", t->root);
    mkdir(sub, 0700);
    put(sub, "index.html", "sub home");
    put(sub, ".secret", "hidden");
    link_at(t->root, "app.js", "in-link");
    link_at(t->root, "../outside.txt", "out-link");
    link_at(t->root, "..", "out-dir");
    char fifo[PATH_MAX + 8];
    snprintf(fifo, sizeof fifo, "%s/fifo", t->root);
    mkfifo(fifo, 0600);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tree *t = *state;
    static const char *const names[] = {"root/sub/index.html", "root/sub/.secret", "root/sub",
                                        "root/index.html", "root/app.js", "root/in-link",
                                        "root/out-link", "root/out-dir", "root/fifo", "root",
                                        "outside.txt"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/%s", t->top, names[i]);
        remove(p);
    }
    rmdir(t->top);
    free(t);
    return 0;
}

/* Opens rel and returns the file's text ("" when refused). */
static const char *served(struct tree *t, const char *rel)
{
    static char text[64];
    struct stat st;
    text[0] = '\0';
    int fd = server_static_open(t->root, rel, "index.html", &st);
    if (fd < 0)
        return "";
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    text[n > 0 ? n : 0] = '\0';
    assert_int_equal(st.st_size, n);
    return text;
}

static void checks_names(void **state)
{
    assert_true(server_static_name_ok(""));
    assert_true(server_static_name_ok("index.html"));
    assert_true(server_static_name_ok("assets/app.js"));
    assert_true(server_static_name_ok("sub/"));
    assert_true(server_static_name_ok("a.b/c..d"));
    assert_false(server_static_name_ok(".."));
    assert_false(server_static_name_ok("../etc/passwd"));
    assert_false(server_static_name_ok("a/../../b"));
    assert_false(server_static_name_ok("a/./b"));
    assert_false(server_static_name_ok(".env"));
    assert_false(server_static_name_ok("sub/.secret"));
    assert_false(server_static_name_ok("/etc/passwd"));
    assert_false(server_static_name_ok("a//b"));
    assert_false(server_static_name_ok("a\\..\\b"));
    assert_false(server_static_name_ok("a\nb"));
    assert_false(server_static_name_ok("a\x7f"));
    char lng[SERVER_STATIC_MAX_REL + 2];
    memset(lng, 'a', sizeof lng - 1);
    lng[sizeof lng - 1] = '\0';
    assert_false(server_static_name_ok(lng));
    lng[SERVER_STATIC_MAX_REL] = '\0';
    assert_true(server_static_name_ok(lng));
}

static void serves_files_inside(void **state)
{
    struct tree *t = *state;
    assert_string_equal(served(t, ""), "home");
    assert_string_equal(served(t, "index.html"), "home");
    assert_string_equal(served(t, "app.js"), "js");
    assert_string_equal(served(t, "sub/"), "sub home");
    assert_string_equal(served(t, "sub/index.html"), "sub home");
    assert_string_equal(served(t, "in-link"), "js");
    /* Out through a link and back in: where the file really is decides. */
    assert_string_equal(served(t, "out-dir/root/app.js"), "js");
}

static void refuses_the_rest(void **state)
{
    struct tree *t = *state;
    struct stat st;
    assert_int_equal(server_static_open(t->root, "missing.js", "index.html", &st), -1);
    assert_int_equal(server_static_open(t->root, "sub", "index.html", &st), -1);
    assert_int_equal(server_static_open(t->root, "sub/.secret", "index.html", &st), -1);
    assert_int_equal(server_static_open(t->root, "../outside.txt", "index.html", &st), -1);
    assert_int_equal(server_static_open(t->root, "out-link", "index.html", &st), -1);
    assert_int_equal(server_static_open(t->root, "out-dir/outside.txt", "index.html", &st), -1);
    assert_int_equal(server_static_open(t->root, "app.js/", "index.html", &st), -1);
    /* A FIFO is refused without blocking on a writer that never comes. */
    assert_int_equal(server_static_open(t->root, "fifo", "index.html", &st), -1);
}

static void maps_types(void **state)
{
    assert_string_equal(server_static_mime("index.html"), "text/html; charset=utf-8");
    assert_string_equal(server_static_mime("a/app.js"), "text/javascript; charset=utf-8");
    assert_string_equal(server_static_mime("APP.CSS"), "text/css; charset=utf-8");
    assert_string_equal(server_static_mime("placeholder.svg"), "image/svg+xml");
    assert_string_equal(server_static_mime("app.js.map"), "application/json");
    assert_string_equal(server_static_mime("x.woff2"), "font/woff2");
    assert_string_equal(server_static_mime("README"), "application/octet-stream");
    assert_string_equal(server_static_mime("dir.js/README"), "application/octet-stream");
    assert_string_equal(server_static_mime(".js"), "application/octet-stream");
    assert_string_equal(server_static_mime("x.exe"), "application/octet-stream");
}

static void tags_and_matches(void **state)
{
    struct stat st = {0};
    st.st_size = 300;
    st.st_mtim.tv_sec = 1;
    st.st_mtim.tv_nsec = 5;
    char tag[64];
    server_static_etag(&st, tag, sizeof tag);
    assert_string_equal(tag, "\"12c-3b9aca05\"");
    assert_true(server_static_etag_match(tag, tag));
    assert_true(server_static_etag_match("W/\"12c-3b9aca05\"", tag));
    assert_true(server_static_etag_match("\"x\", \"12c-3b9aca05\"", tag));
    assert_true(server_static_etag_match(" * ", tag));
    assert_false(server_static_etag_match("\"12c-3b9aca06\"", tag));
    assert_false(server_static_etag_match("\"x\",\"y\"", tag));
    assert_false(server_static_etag_match("", tag));
    st.st_mtim.tv_nsec = 6;
    char other[64];
    server_static_etag(&st, other, sizeof other);
    assert_string_not_equal(tag, other);
}

static void formats_dates(void **state)
{
    char d[40];
    server_static_http_date(784111777, d, sizeof d);
    assert_string_equal(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    server_static_http_date(0, d, sizeof d);
    assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    server_static_http_date(1709210096, d, sizeof d);
    assert_string_equal(d, "Thu, 29 Feb 2024 12:34:56 GMT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checks_names),
        cmocka_unit_test(serves_files_inside),
        cmocka_unit_test(refuses_the_rest),
        cmocka_unit_test(maps_types),
        cmocka_unit_test(tags_and_matches),
        cmocka_unit_test(formats_dates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
