/*
 * Private declarations of the static-file route (server/static.c): the
 * pieces of policy that decide which file a URL path may name and how it
 * is described to the client, kept apart from the request handler so unit
 * tests can check them without a socket.
 *
 * Invariant: a file is served only when server_static_open said so, which
 * means its fully resolved path (every symlink followed) lies inside the
 * resolved web root and it is a regular file. Everything else is "not
 * found", so a client cannot tell a refused path from an absent one.
 *
 * Any thread (nothing here keeps state).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_SERVER_STATIC_INT_H
#define PW_SERVER_STATIC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* Longest relative path (after the route prefix) we look at, bytes. */
#define SERVER_STATIC_MAX_REL 1024

/* Whether `rel` (a URL-decoded path below the route prefix, no leading
 * slash) is a name we may look up: non-empty segments, none starting with
 * a dot (no "..", ".", or hidden files), no control characters or
 * backslashes, at most SERVER_STATIC_MAX_REL bytes. "" and a trailing "/"
 * are allowed (they name the index file). */
bool server_static_name_ok(const char *rel);

/*
 * Opens the file `rel` names below `root` (a path already resolved with
 * realpath, no trailing slash unless it is "/"); a name that is empty or
 * ends in '/' means `index` in that directory. Returns a read-only fd
 * (O_CLOEXEC) and fills *st, or -1 when the name is refused, absent, not a
 * regular file, or resolves outside the root.
 */
int server_static_open(const char *root, const char *rel, const char *index, struct stat *st);

/* The Content-Type for a file name, by its extension (borrowed, static);
 * unknown extensions are application/octet-stream. */
const char *server_static_mime(const char *name);

/* Writes the entity tag of a file ("\"SIZE-MTIME\"", hex, quoted) into buf. */
void server_static_etag(const struct stat *st, char *buf, size_t size);

/* Whether an If-None-Match value (a list of tags, weak or strong, or "*")
 * matches `etag`, using the weak comparison RFC 9110 asks for here. */
bool server_static_etag_match(const char *if_none_match, const char *etag);

/* Writes an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") for t into buf
 * (at least 30 bytes); independent of the locale. */
void server_static_http_date(long long t, char *buf, size_t size);

#endif
