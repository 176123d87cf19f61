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

/* File contents read off the service thread (filecache.c) ------------------------- */

struct pw_server;
struct pw_server_req;
struct server_filecache;

/* A file's contents (borrowed for the call), or NULL with `error` (errno)
 * when it could not be read; `st` is the fstat the request was made with.
 * Service thread. */
typedef void (*server_file_done)(struct pw_server_req *r, const struct stat *st,
                                 const char *body, size_t len, int error, void *ud);

/* New, or NULL; registers its wake hook on srv (before pw_server_listen).
 * Keeps at most max_bytes of contents. */
struct server_filecache *server_filecache_new(struct pw_server *srv, size_t max_bytes);
/* Joins the reader; after the server's loop has ended. */
void server_filecache_free(struct server_filecache *fc);
/* Service thread. Calls done with the contents of the open file `fd`
 * (whose fstat is `st`; taken): now from the cache, or later, once the
 * reader has read it (the job is then the request's data until done).
 * -1 when nothing could be queued (fd is still the caller's). */
int server_filecache_get(struct server_filecache *fc, struct pw_server_req *r, int fd,
                         const struct stat *st, server_file_done done, void *ud);
/* The request went away: its read is dropped when it finishes. */
void server_filecache_forget(struct pw_server_req *r);
/* The loop has ended: the reader stops waking the server. */
void server_filecache_detach(struct server_filecache *fc);

#endif
