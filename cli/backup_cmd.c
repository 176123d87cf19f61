/*
 * `pennyworth backup FILE` and `pennyworth restore FILE`: copies of the
 * whole database file (catalog, API keys, usage records), made and put
 * back with SQLite's backup API (catalog/backup.c has the mechanics and
 * their invariants: online, never a half-written file, restore only when
 * nobody else has the database open).
 *
 * Both take --db like every command (cli_db_path); backup also --force.
 * Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 usage.
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/catalog.h"

/* One command of this file: its name, help and what it does. */
struct copy_command {
    const char *name;
    const char *help;
    bool force;                                   /* takes --force */
    int (*run)(const char *db, const char *file, bool force);
};

static int run_backup(const char *db, const char *file, bool force)
{
    struct pw_catalog_copy_report rep;
    struct pw_error err = {0};
    if (pw_catalog_backup(db, file, force ? PW_CATALOG_BACKUP_FORCE : 0, &rep, &err) != PW_OK) {
        fprintf(stderr, "pennyworth backup: %s%s\n", err.message,
                err.code == PW_ERR_STATE ? " (--force replaces it)" : "");
        return 1;
    }
    printf("backed up %s to %s: %lld pages of %lld bytes (%.1f MB), schema version %d",
           db, file, (long long)rep.pages, (long long)rep.page_size,
           (double)(rep.pages * rep.page_size) / 1e6, rep.schema_version);
    if (rep.restarts)
        printf(", restarted %d time%s by writes", rep.restarts, rep.restarts == 1 ? "" : "s");
    printf("\n");
    return 0;
}

static int run_restore(const char *db, const char *file, bool force)
{
    struct pw_catalog_copy_report rep;
    struct pw_error err = {0};
    if (pw_catalog_restore(db, file, &rep, &err) != PW_OK) {
        fprintf(stderr, "pennyworth restore: %s\n", err.message);
        return 1;
    }
    printf("restored %s into %s (%lld pages, schema version %d)\n", file, db,
           (long long)rep.pages, rep.schema_version);
    if (rep.kept_previous)
        printf("the database it replaced is %s.bak\n", db);
    return 0;
}

static const struct copy_command backup_command = {
    "backup",
    "usage: pennyworth backup FILE [--db DB] [--force]\n"
    "\n"
    "Copies the database (catalog, API keys, usage records) to FILE with SQLite's\n"
    "online backup: safe while `pennyworth serve` or `stdio` reads and writes it,\n"
    "and FILE is one consistent snapshot, a single file. The copy is written\n"
    "beside FILE under a temporary name, checked (quick_check) and only then\n"
    "given its name, so FILE is never half written. Put it back with\n"
    "`pennyworth restore FILE`.\n"
    "\n"
    "options:\n"
    "  --db DB       the database to copy\n"
    "  --force       replace FILE if it exists (without it, an existing FILE is refused)\n"
    "  --help        this text\n",
    true,
    run_backup,
};

static const struct copy_command restore_command = {
    "restore",
    "usage: pennyworth restore FILE [--db DB]\n"
    "\n"
    "Replaces the database with the backup FILE. FILE must pass quick_check and\n"
    "be a pennyworth database at a schema version this binary knows (an older one\n"
    "is upgraded). Refused while any process has the database open (a running\n"
    "`pennyworth serve` or `stdio`): stop it, restore, start it again. The\n"
    "database it replaces is kept as DB.bak (replacing an older DB.bak).\n"
    "\n"
    "options:\n"
    "  --db DB       the database to replace\n"
    "  --help        this text\n",
    false,
    run_restore,
};

static int usage_error(const struct copy_command *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "pennyworth %s: %s%s%s\nRun 'pennyworth %s --help' for usage.\n", cmd->name,
            what, arg ? " " : "", arg ? arg : "", cmd->name);
    return 2;
}

static int dispatch(const struct copy_command *cmd, int argc, char **argv)
{
    enum { O_DB = 256, O_FORCE, O_HELP };
    static const struct option longopts[] = {
        {"db", required_argument, NULL, O_DB},
        {"force", no_argument, NULL, O_FORCE},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL;
    bool force = false;
    int c;
    optind = 0; /* glibc: start a fresh scan */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case O_DB: db = optarg; break;
        case O_FORCE:
            if (!cmd->force)
                return usage_error(cmd, "unknown option", argv[optind - 1]);
            force = true;
            break;
        case O_HELP:
            fputs(cmd->help, stdout);
            cli_help_reads(stdout, CLI_HELP_DB | CLI_HELP_LOG);
            return 0;
        case ':': return usage_error(cmd, "option needs a value:", argv[optind - 1]);
        default: return usage_error(cmd, "unknown option", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return usage_error(cmd, argc - optind ? "expected one FILE" : "missing FILE", NULL);
    char *path = cli_db_path(db);
    if (!path) {
        fprintf(stderr, "pennyworth %s: out of memory\n", cmd->name);
        return 1;
    }
    int status = cmd->run(path, argv[optind], force);
    free(path);
    return status;
}

int cli_backup(int argc, char **argv) { return dispatch(&backup_command, argc, argv); }

int cli_restore(int argc, char **argv) { return dispatch(&restore_command, argc, argv); }
