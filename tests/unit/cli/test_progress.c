/*
 * Unit tests for cli/progress.c: the progress line's text (rows, percent,
 * rate, time left, stages, the summary, cutting at the buffer size) as a
 * table of cases, one row each (a new case is a new row), and the
 * reporter's silence when stderr is not a terminal.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "cli/progress.h"

static const struct {
    const char *what;
    struct pw_catalog_progress at;
    int64_t elapsed_us;
    bool done;
    const char *line;
} cases[] = {
    /* A known total: percent, rate and time left (5.99 s rounds to 0:06). */
    {"generate", {412000, 1000000, 0, 0, NULL}, 4200000, false,
     "generate: 412,000 of 1,000,000 rows (41%), 98,095 rows/s, 0:06 left"},
    /* Rows unknown ahead: the fraction comes from the bytes read. */
    {"import", {50000, 0, 11000000, 44000000, NULL}, 2000000, false,
     "import: 50,000 rows (25%), 25,000 rows/s, 0:06 left"},
    /* Nothing known about the total: no percent, no time left. */
    {"import", {5000, 0, 0, 0, NULL}, 100000, false, "import: 5,000 rows, 50,000 rows/s"},
    /* Too soon for a rate worth showing. */
    {"export", {1000, 194000, 0, 0, NULL}, 50000, false, "export: 1,000 of 194,000 rows (0%)"},
    /* A stage replaces rate and time left. */
    {"import", {1000000, 1000000, 445000000, 445000000, "indexing"}, 40000000, false,
     "import: 1,000,000 of 1,000,000 rows (100%), indexing"},
    /* More rows than announced (a write during an export): nothing left. */
    {"export", {1200, 1000, 0, 0, NULL}, 1000000, false,
     "export: 1,200 of 1,000 rows (100%), 1,200 rows/s, 0:00 left"},
    /* Past an hour the time left has hours. */
    {"export", {1000, 1000000, 0, 0, NULL}, 10000000, false,
     "export: 1,000 of 1,000,000 rows (0%), 100 rows/s, 2:46:30 left"},
    /* No rows yet: a rate of 0 but no time left (it would be infinite). */
    {"generate", {0, 10, 0, 0, NULL}, 1000000, false, "generate: 0 of 10 rows (0%), 0 rows/s"},
    /* Summaries. */
    {"generate", {1000000, 1000000, 0, 0, NULL}, 10200000, true,
     "generate: 1,000,000 rows in 10.2 s (98,039 rows/s)"},
    {"import", {194, 194, 0, 0, NULL}, 20000, true, "import: 194 rows in 0.0 s"},
    {"export", {999, 999, 0, 0, NULL}, 1000000, true, "export: 999 rows in 1.0 s (999 rows/s)"},
};

static void lines(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[CLI_PROGRESS_LINE];
        size_t len = cli_progress_format(line, sizeof line, cases[i].what, &cases[i].at,
                                         cases[i].elapsed_us, cases[i].done);
        assert_string_equal(line, cases[i].line);
        assert_int_equal(len, strlen(cases[i].line));
    }
}

/* A short buffer cuts the line and still ends it. */
static void cut_at_size(void **state)
{
    char line[16];
    size_t len = cli_progress_format(line, sizeof line, cases[0].what, &cases[0].at,
                                     cases[0].elapsed_us, false);
    assert_string_equal(line, "generate: 412,0");
    assert_int_equal(len, 15);
}

/* Off a terminal the reporter draws nothing, whatever it is told. */
static void silent_off_a_terminal(void **state)
{
    if (isatty(STDERR_FILENO))
        skip();
    struct cli_progress p;
    cli_progress_start(&p, "generate", false);
    assert_null(p.tty);
    p.next_us = 0; /* past the initial delay */
    cli_progress_report(&p, &cases[0].at);
    cli_progress_end(&p, true);
    assert_int_equal(p.drawn, 0);
    assert_int_equal(p.last.rows, cases[0].at.rows); /* still counted */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines),
        cmocka_unit_test(cut_at_size),
        cmocka_unit_test(silent_off_a_terminal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
