/*
 * Logging: one line per event on stderr, never on stdout (stdout belongs to
 * the stdio transport). Callers never pass secrets (keys, credentials,
 * Authorization headers); pw_log_redact() masks a secret for the rare case
 * where its identity matters.
 *
 * Thread-safe: each line is written with a single write(2).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_LOG_H
#define PENNYWORTH_LOG_H

#include <stddef.h>

enum pw_log_level {
    PW_LOG_DEBUG = 0,
    PW_LOG_INFO = 1,
    PW_LOG_WARN = 2,
    PW_LOG_ERROR = 3,
    PW_LOG_OFF = 4,
};

/* Sets the threshold (default PW_LOG_INFO, or PENNYWORTH_LOG=debug|info|warn|error|off). */
void pw_log_set_level(enum pw_log_level level);
enum pw_log_level pw_log_get_level(void);

void pw_log(enum pw_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes "abcd…" (first 4 chars then an ellipsis) of a secret into out. */
void pw_log_redact(const char *secret, char *out, size_t outlen);

#define pw_debug(...) pw_log(PW_LOG_DEBUG, __VA_ARGS__)
#define pw_info(...) pw_log(PW_LOG_INFO, __VA_ARGS__)
#define pw_warn(...) pw_log(PW_LOG_WARN, __VA_ARGS__)
#define pw_errorlog(...) pw_log(PW_LOG_ERROR, __VA_ARGS__)

#endif
