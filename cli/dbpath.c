/*
 * Where the catalog database lives when the user does not say.
 *
 * Precedence: --db FILE, then PENNYWORTH_DB, then the XDG data directory
 * ($XDG_DATA_HOME or ~/.local/share)/pennyworth/catalog.db. The directory
 * is created (0700) so a first run needs no set-up.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *cli_db_path(const char *flag_value)
{
    if (flag_value && *flag_value)
        return strdup(flag_value);
    const char *env = getenv("PENNYWORTH_DB");
    if (env && *env)
        return strdup(env);
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    char dir[4096];
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/pennyworth", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.local/share/pennyworth", home);
    else
        return strdup("pennyworth.db");
    /* Create each missing component; EEXIST is the common case. */
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST)
                break;
            *p = '/';
        }
    }
    mkdir(dir, 0700);
    size_t n = strlen(dir) + sizeof "/catalog.db";
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/catalog.db", dir);
    return out;
}
