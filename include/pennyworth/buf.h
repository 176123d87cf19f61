/*
 * The one growable byte buffer of the code base: text being rendered, a
 * body being collected, a file being read from a pipe. Modules that need a
 * different shape (a ring, a fixed array, an array of structs) keep their
 * own; anything that is "append bytes, then use or take the result" uses
 * this.
 *
 * Invariants: `len < cap` whenever `data` is non-NULL, and `data[len]` is
 * always '\0', so the contents can be used as a C string (they may also
 * hold NUL bytes of their own). `len` never exceeds `max` (0 means no bound
 * beyond what size_t can count). Capacity doubles, so n appends cost O(n)
 * copies; every size computation is checked for overflow.
 *
 * Errors are sticky: the first failed append is remembered in `err` and
 * every later append is a no-op returning the same code, so a renderer can
 * append freely and check once at the end (pw_buf_take returns NULL).
 * pw_buf_clear forgets the error.
 *
 * Ownership: the buffer owns `data`; pw_buf_take hands it to the caller.
 * Threads: a buffer belongs to one thread at a time; there is no state
 * outside the struct.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_BUF_H
#define PENNYWORTH_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "pennyworth/error.h"

struct pw_buf {
    char *data;      /* NULL until the first append or reserve; then NUL-terminated */
    size_t len;      /* bytes stored, not counting the terminating NUL */
    size_t cap;      /* bytes allocated, counting room for the NUL */
    size_t max;      /* most bytes `len` may reach; 0 = unbounded */
    enum pw_err err; /* first failure (PW_ERR_NOMEM or PW_ERR_TOO_LARGE), sticky */
};

/* An empty buffer whose contents may grow to `max` bytes (0 = unbounded);
 * allocates nothing. A zeroed struct is the same as pw_buf_init(b, 0). */
void pw_buf_init(struct pw_buf *b, size_t max);

/* Makes room for `n` more bytes without changing the contents.
 * PW_ERR_TOO_LARGE when len + n would pass `max` (or overflow),
 * PW_ERR_NOMEM when allocation fails; both are sticky. */
enum pw_err pw_buf_reserve(struct pw_buf *b, size_t n);

/* Appends `n` bytes (which may contain NULs); same errors as reserve. On
 * failure nothing is appended. */
enum pw_err pw_buf_append(struct pw_buf *b, const void *bytes, size_t n);

/* Appends a NUL-terminated string. */
enum pw_err pw_buf_append_str(struct pw_buf *b, const char *s);

/* Appends printf-style formatted text. On failure nothing is appended;
 * a format error (vsnprintf < 0) is PW_ERR_INVALID. */
enum pw_err pw_buf_appendf(struct pw_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum pw_err pw_buf_appendv(struct pw_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* The contents as a C string, borrowed until the next call that changes
 * the buffer; "" (static) when nothing was ever stored. */
const char *pw_buf_str(const struct pw_buf *b);

/*
 * Steals the contents: returns them as a new NUL-terminated string the
 * caller frees ("" when empty, never NULL on success), and leaves the
 * buffer empty with the same `max`. Returns NULL, and frees the contents,
 * when an append failed earlier (b->err set) or the empty string cannot be
 * allocated.
 */
char *pw_buf_take(struct pw_buf *b);

/* Empties the buffer and forgets a sticky error; keeps the memory and `max`. */
void pw_buf_clear(struct pw_buf *b);

/* Frees the memory; the buffer is empty again (same `max`) and reusable. */
void pw_buf_free(struct pw_buf *b);

#endif
