/*
 * Where the catalog database lives when the user does not say.
 *
 * Precedence: --db FILE, then PENNYWORTH_DB, then the XDG data directory
 * ($XDG_DATA_HOME or ~/.local/share)/pennyworth/catalog.db. cli_db_path
 * creates that directory (0700) so a first run needs no set-up;
 * cli_db_default only says where it is (for --help, which changes nothing).
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char from_env[] = "$PENNYWORTH_DB";

const char *cli_db_default(char *buf, size_t size)
{
    const char *env = getenv("PENNYWORTH_DB");
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    if (env && *env) {
        snprintf(buf, size, "%s", env);
        return from_env;
    }
    if (xdg && *xdg) {
        snprintf(buf, size, "%s/pennyworth/catalog.db", xdg);
        return "$XDG_DATA_HOME";
    }
    if (home && *home) {
        snprintf(buf, size, "%s/.local/share/pennyworth/catalog.db", home);
        return "$HOME";
    }
    snprintf(buf, size, "pennyworth.db");
    return "the working directory (no HOME is set)";
}

char *cli_db_path(const char *flag_value)
{
    if (flag_value && *flag_value)
        return strdup(flag_value);
    char path[4096];
    const char *from = cli_db_default(path, sizeof path);
    if (from != from_env) {
        /* Create each missing directory of the data directory (never of a
         * path the user gave); EEXIST is the common case. */
        for (char *p = path + 1; *p; p++) {
            if (*p == '/') {
                *p = '\0';
                int e = mkdir(path, 0700) != 0 ? errno : 0;
                *p = '/';
                if (e && e != EEXIST)
                    break; /* the open will then say what is wrong */
            }
        }
    }
    return strdup(path);
}
