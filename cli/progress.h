/*
 * A progress line on the terminal for long commands (catalog import,
 * export, generate): rows done, the rate, and the time left when the total
 * is known, redrawn in place on stderr with '\r'.
 *
 * The reporter is silent unless stderr is a terminal, so scripts, pipes and
 * tests see exactly the output they always saw. It also waits
 * CLI_PROGRESS_DELAY_US before drawing anything (a command that finishes
 * sooner shows no line at all) and redraws at most every
 * CLI_PROGRESS_EVERY_US. Once a line was drawn, the end replaces it with a
 * summary and a newline, so the next output starts on a clean line.
 *
 * The catalog module only counts; cli_progress_report is the
 * pw_catalog_progress_fn it is given. cli_progress_format is the pure part
 * (numbers in, text out), kept separate so unit tests can check it.
 *
 * Main thread only (the one that runs the command).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_CLI_PROGRESS_H
#define PW_CLI_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pennyworth/catalog.h"

#define CLI_PROGRESS_DELAY_US 500000 /* nothing is drawn for work shorter than this */
#define CLI_PROGRESS_EVERY_US 250000 /* at most four redraws a second */
#define CLI_PROGRESS_LINE 160        /* bytes in one line, NUL included */

struct cli_progress {
    const char *what;                /* the command, first on the line ("import") */
    FILE *tty;                       /* where to draw; NULL = silent */
    int64_t start_us;                /* monotonic time of cli_progress_start */
    int64_t next_us;                 /* no redraw before this */
    size_t drawn;                    /* columns of the line on screen; 0 = none */
    struct pw_catalog_progress last; /* the latest report */
};

/*
 * Starts a reporter for the command `what` (borrowed; a string literal).
 * It draws on stderr only if stderr is a terminal and `quiet` is false
 * (callers pass true when the command's own output goes to that terminal).
 */
void cli_progress_start(struct cli_progress *p, const char *what, bool quiet);

/* The pw_catalog_progress_fn: `ud` is the struct cli_progress. */
void cli_progress_report(void *ud, const struct pw_catalog_progress *at);

/* Ends the line: a summary if a line was drawn and `ok`, then a newline;
 * nothing at all if no line was ever drawn. */
void cli_progress_end(struct cli_progress *p, bool ok);

/*
 * Formats one progress line for `what` after `elapsed_us` of work into
 * buf (always NUL-terminated, cut at size) and returns its length:
 *
 *   generate: 412,000 of 1,000,000 rows (41%), 98,100 rows/s, 0:06 left
 *   import: 412,000 rows (41%), 25,000 rows/s, 0:24 left   (total in bytes)
 *   import: 1,000,000 rows, indexing                       (a stage)
 *
 * With `done` set it is the summary instead ("... 1,000,000 rows in 10.2 s
 * (98,039 rows/s)"). The rate needs at least CLI_PROGRESS_MIN_RATE_US of
 * work and the time left a fraction above zero; rows past an announced
 * total (a write during an export) count as nothing left.
 */
#define CLI_PROGRESS_MIN_RATE_US 100000
size_t cli_progress_format(char *buf, size_t size, const char *what,
                           const struct pw_catalog_progress *at, int64_t elapsed_us, bool done);

#endif
