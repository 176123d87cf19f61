/*
 * `pennyworth catalog ...`: import, search, inspect, export and generate.
 *
 * One row per subcommand in `subcommands[]`; each parses its own options
 * with getopt_long (options may come before or after the arguments) and
 * returns the exit status: 0 done, 1 the work failed (bad rows, not found,
 * database error), 2 usage error. Every subcommand takes --db FILE (see
 * cli_db_path for the default) and --help.
 *
 * Output discipline: results go to stdout, diagnostics to stderr, and so
 * does the progress line of import, export and generate (cli/progress.c:
 * only on a terminal, only for work that takes a while, and not when the
 * command's own output goes to that same terminal).
 *
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/progress.h"
#include "pennyworth/catalog.h"

enum {
    OPT_DB = 256,
    OPT_HELP,
    OPT_CATEGORY,
    OPT_BRAND,
    OPT_MIN_PRICE,
    OPT_MAX_PRICE,
    OPT_AVAILABILITY,
    OPT_MIN_RATING,
    OPT_SORT,
    OPT_LIMIT,
    OPT_CURSOR,
    OPT_JSON,
    OPT_FORMAT,
    OPT_OUTPUT,
    OPT_SEED,
    OPT_STOCK,
    OPT_PRICE,
};

#define OPT_BIT(c) (1u << ((c) - OPT_DB))

struct opts;

struct subcommand {
    const char *name;
    const char *args;    /* synopsis after the name */
    const char *summary;
    const char *options; /* help text for the options */
    unsigned accepts;    /* OPT_BIT()s of the options it takes */
    int (*run)(const struct subcommand *sc, int argc, char **argv, const struct opts *o);
};

static void sub_usage(const struct subcommand *sc, FILE *f)
{
    fprintf(f, "usage: pennyworth catalog %s %s\n\n%s\n\noptions:\n%s", sc->name, sc->args,
            sc->summary, sc->options);
    if (sc->accepts & OPT_BIT(OPT_DB))
        fprintf(f, "  --db FILE            the catalog database (default: $PENNYWORTH_DB,\n"
                   "                       else the user data directory)\n");
    fprintf(f, "  --help               this help\n");
    cli_help_reads(f, (sc->accepts & OPT_BIT(OPT_DB)) ? CLI_HELP_DB | CLI_HELP_LOG : 0);
}

static int usage_error(const struct subcommand *sc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const struct subcommand *sc, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "pennyworth catalog %s: ", sc->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'pennyworth catalog %s --help' for usage.\n", sc->name);
    return 2;
}

/* Everything the options said, for the subcommand's run(). */
struct opts {
    const char *db, *format, *output, *seed, *stock, *price;
    bool json;
    struct pw_catalog_query q;
};

/* Opens the catalog named by --db (or the default); NULL after a message. */
static struct pw_catalog *open_catalog(const char *db_flag)
{
    char *path = cli_db_path(db_flag);
    struct pw_catalog *cat = NULL;
    struct pw_error err = {0};
    if (!path) {
        fprintf(stderr, "pennyworth catalog: out of memory\n");
        return NULL;
    }
    if (pw_catalog_open(path, 0, &cat, &err) != PW_OK)
        fprintf(stderr, "pennyworth catalog: %s: %s\n", path, err.message);
    free(path);
    return cat;
}

static int fail(const struct subcommand *sc, const struct pw_error *err)
{
    fprintf(stderr, "pennyworth catalog %s: %s\n", sc->name, err->message);
    return 1;
}

static bool parse_long(const char *s, long long min, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno == ERANGE || v < min)
        return false;
    *out = v;
    return true;
}

/* ------------------------------------------------------------------------
 * import
 */

static int run_import(const struct subcommand *sc, int argc, char **argv, const struct opts *o)
{
    if (argc != 1)
        return usage_error(sc, "%s", argc ? "expected one FILE" : "missing FILE");
    const char *file = argv[0];
    struct pw_catalog *cat = open_catalog(o->db);
    if (!cat)
        return 1;
    struct cli_progress bar;
    struct pw_import_report report;
    struct pw_error err = {0};
    cli_progress_start(&bar, "import", false);
    enum pw_err rc =
        pw_catalog_import(cat, file, stderr, cli_progress_report, &bar, &report, &err);
    cli_progress_end(&bar, rc == PW_OK);
    pw_catalog_close(cat);
    if (rc != PW_OK)
        return fail(sc, &err);
    printf("imported %zu products from %s\n", report.imported, file);
    return 0;
}

/* ------------------------------------------------------------------------
 * search
 */

/* Prints s in exactly `width` columns (code points), cut with "…" if long. */
static void column(const char *s, int width)
{
    int used = 0;
    const char *p = s ? s : "";
    size_t total = 0;
    for (const char *c = p; *c; c++)
        total += ((unsigned char)*c & 0xC0) != 0x80;
    for (; *p; p++) {
        bool start = ((unsigned char)*p & 0xC0) != 0x80;
        if (start && total > (size_t)width && used == width - 1)
            break;
        if (start && used == width)
            break;
        if (start)
            used++;
        fputc(*p, stdout);
    }
    if (total > (size_t)width && used == width - 1) {
        fputs("\xE2\x80\xA6", stdout); /* … */
        used++;
    }
    for (; used < width; used++)
        fputc(' ', stdout);
}

static void table(json_t *result)
{
    json_t *products = json_object_get(result, "products");
    size_t i;
    json_t *p;
    printf("%-10s %-42s %-16s %14s  %-12s %s\n", "ID", "NAME", "BRAND", "PRICE",
           "AVAILABILITY", "RATING");
    json_array_foreach(products, i, p) {
        char rating[16] = "-";
        json_t *r = json_object_get(p, "rating");
        if (json_is_number(r))
            snprintf(rating, sizeof rating, "%.2f", json_number_value(r));
        column(json_string_value(json_object_get(p, "id")), 10);
        fputc(' ', stdout);
        column(json_string_value(json_object_get(p, "name")), 42);
        fputc(' ', stdout);
        column(json_is_string(json_object_get(p, "brand"))
                   ? json_string_value(json_object_get(p, "brand"))
                   : "-",
               16);
        printf(" %14s  %-12s %s\n",
               json_string_value(json_object_get(json_object_get(p, "price"), "formatted")),
               json_string_value(json_object_get(p, "availability")), rating);
    }
    printf("\n%zu of %" JSON_INTEGER_FORMAT "%s products", json_array_size(products),
           json_integer_value(json_object_get(result, "total")),
           json_is_true(json_object_get(result, "totalCapped")) ? "+" : "");
    json_t *next = json_object_get(result, "nextCursor");
    if (next)
        printf("; next page: --cursor %s", json_string_value(next));
    printf("\n");
}

static const struct {
    const char *name;
    enum pw_catalog_sort sort;
} sorts[] = {
    {"relevance", PW_SORT_RELEVANCE},
    {"price_asc", PW_SORT_PRICE_ASC},
    {"price_desc", PW_SORT_PRICE_DESC},
    {"rating", PW_SORT_RATING},
};

static int run_search(const struct subcommand *sc, int argc, char **argv, const struct opts *o)
{
    struct pw_catalog_query q = o->q;
    /* The words may be one quoted argument or several. */
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *text = calloc(1, len);
    if (!text)
        return 1;
    for (int i = 0; i < argc; i++) {
        if (i)
            strncat(text, " ", len - strlen(text) - 1);
        strncat(text, argv[i], len - strlen(text) - 1);
    }
    q.text = text;
    struct pw_catalog *cat = open_catalog(o->db);
    if (!cat) {
        free(text);
        return 1;
    }
    json_t *result = NULL;
    struct pw_error err = {0};
    enum pw_err rc = pw_catalog_search(cat, &q, &result, &err);
    pw_catalog_close(cat);
    free(text);
    if (rc != PW_OK)
        return fail(sc, &err);
    if (o->json) {
        json_dumpf(result, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
        fputc('\n', stdout);
    } else {
        table(result);
    }
    json_decref(result);
    return 0;
}

/* ------------------------------------------------------------------------
 * get, stats, export, generate, set, seed-demo
 */

static int run_get(const struct subcommand *sc, int argc, char **argv, const struct opts *o)
{
    if (argc != 1)
        return usage_error(sc, "%s", argc ? "expected one ID" : "missing ID");
    struct pw_catalog *cat = open_catalog(o->db);
    if (!cat)
        return 1;
    json_t *p = NULL;
    struct pw_error err = {0};
    enum pw_err rc = pw_catalog_get(cat, argv[0], &p, &err);
    pw_catalog_close(cat);
    if (rc != PW_OK)
        return fail(sc, &err);
    json_dumpf(p, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    fputc('\n', stdout);
    json_decref(p);
    return 0;
}

static int run_stats(const struct subcommand *sc, int argc, char **argv, const struct opts *o)
{
    if (argc != 0)
        return usage_error(sc, "unexpected argument '%s'", argv[0]);
    struct pw_catalog *cat = open_catalog(o->db);
    if (!cat)
        return 1;
    json_t *stats = NULL, *cats = NULL;
    struct pw_error err = {0};
    enum pw_err rc = pw_catalog_stats(cat, &stats, &err);
    if (!rc)
        rc = pw_catalog_categories(cat, &cats, &err);
    pw_catalog_close(cat);
    if (rc != PW_OK) {
        json_decref(stats);
        return fail(sc, &err);
    }
    if (o->json) {
        json_object_set(stats, "categoryCounts", cats);
        json_dumpf(stats, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(stats, key, v) {
            if (json_is_integer(v))
                printf("%-14s %" JSON_INTEGER_FORMAT "\n", key, json_integer_value(v));
            else if (json_is_string(v))
                printf("%-14s %s\n", key, json_string_value(v));
            else
                printf("%-14s -\n", key);
        }
        size_t i;
        json_array_foreach(cats, i, v)
            printf("  %-24s %" JSON_INTEGER_FORMAT "\n",
                   json_string_value(json_object_get(v, "name")),
                   json_integer_value(json_object_get(v, "count")));
    }
    json_decref(stats);
    json_decref(cats);
    return 0;
}

/* Opens --output (or stdout); NULL after a message. */
static FILE *output(const char *path)
{
    if (!path || strcmp(path, "-") == 0)
        return stdout;
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "pennyworth catalog: %s: %s\n", path, strerror(errno));
    return f;
}

static int close_output(FILE *f, const char *path)
{
    if (f == stdout)
        return fflush(stdout) == 0 ? 0 : 1;
    if (fclose(f) != 0) {
        fprintf(stderr, "pennyworth catalog: %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

static int run_export(const struct subcommand *sc, int argc, char **argv, const struct opts *o)
{
    const char *format = o->format ? o->format : "jsonl", *path = o->output;
    static const char *const names[] = {"jsonl", "json", "csv"};
    static const enum pw_catalog_format formats[] = {PW_FORMAT_JSONL, PW_FORMAT_JSON,
                                                     PW_FORMAT_CSV};
    int fmt = -1;
    if (argc != 0)
        return usage_error(sc, "unexpected argument '%s'", argv[0]);
    for (int i = 0; i < 3; i++)
        if (strcmp(format, names[i]) == 0)
            fmt = i;
    if (fmt < 0)
        return usage_error(sc, "unknown format '%s' (jsonl, json or csv)", format);
    struct pw_catalog *cat = open_catalog(o->db);
    if (!cat)
        return 1;
    FILE *out = output(path);
    if (!out) {
        pw_catalog_close(cat);
        return 1;
    }
    struct pw_error err = {0};
    struct cli_progress bar;
    cli_progress_start(&bar, "export", out == stdout && isatty(STDOUT_FILENO));
    enum pw_err rc =
        pw_catalog_export(cat, out, formats[fmt], cli_progress_report, &bar, &err);
    cli_progress_end(&bar, rc == PW_OK);
    pw_catalog_close(cat);
    int status = close_output(out, path);
    return rc != PW_OK ? fail(sc, &err) : status;
}

static int run_generate(const struct subcommand *sc, int argc, char **argv, const struct opts *o)
{
    const char *seed_arg = o->seed, *path = o->output;
    long long n, seed = 1;
    if (argc != 1)
        return usage_error(sc, "%s", argc ? "expected one N" : "missing N");
    if (!parse_long(argv[0], 0, &n))
        return usage_error(sc, "N must be a whole number, not '%s'", argv[0]);
    if (seed_arg && !parse_long(seed_arg, 0, &seed))
        return usage_error(sc, "--seed must be a whole number, not '%s'", seed_arg);
    FILE *out = output(path);
    if (!out)
        return 1;
    struct pw_error err = {0};
    struct cli_progress bar;
    cli_progress_start(&bar, "generate", out == stdout && isatty(STDOUT_FILENO));
    enum pw_err rc =
        pw_catalog_generate(out, (size_t)n, (uint64_t)seed, cli_progress_report, &bar, &err);
    cli_progress_end(&bar, rc == PW_OK);
    int status = close_output(out, path);
    return rc != PW_OK ? fail(sc, &err) : status;
}

static int run_set(const struct subcommand *sc, int argc, char **argv, const struct opts *o)
{
    const char *stock_arg = o->stock, *price_arg = o->price;
    long long stock = -1;
    if (argc != 1)
        return usage_error(sc, "%s", argc ? "expected one ID" : "missing ID");
    if (!stock_arg && !price_arg)
        return usage_error(sc, "%s", "give --stock, --price or both");
    if (stock_arg && !parse_long(stock_arg, 0, &stock))
        return usage_error(sc, "--stock must be a whole number >= 0, not '%s'", stock_arg);
    struct pw_catalog *cat = open_catalog(o->db);
    if (!cat)
        return 1;
    struct pw_error err = {0};
    json_t *p = NULL;
    int64_t price = -1;
    enum pw_err rc = pw_catalog_get(cat, argv[0], &p, &err);
    if (!rc && price_arg) {
        /* The price is in the product's own currency. */
        const char *currency =
            json_string_value(json_object_get(json_object_get(p, "price"), "currency"));
        struct pw_error perr = {0};
        if (pw_catalog_price_parse(price_arg, currency, &price, &perr) != PW_OK) {
            json_decref(p);
            pw_catalog_close(cat);
            return usage_error(sc, "--price '%s': %s", price_arg, perr.message);
        }
    }
    json_decref(p);
    p = NULL;
    if (!rc)
        rc = pw_catalog_set_stock_price(cat, argv[0], stock, price, &err);
    if (!rc)
        rc = pw_catalog_get(cat, argv[0], &p, &err);
    pw_catalog_close(cat);
    if (rc != PW_OK)
        return fail(sc, &err);
    printf("%s: stock %" JSON_INTEGER_FORMAT " (%s), price %s\n", argv[0],
           json_integer_value(json_object_get(p, "stock")),
           json_string_value(json_object_get(p, "availability")),
           json_string_value(json_object_get(json_object_get(p, "price"), "formatted")));
    json_decref(p);
    return 0;
}

static int run_seed(const struct subcommand *sc, int argc, char **argv, const struct opts *o)
{
    if (argc != 0)
        return usage_error(sc, "unexpected argument '%s'", argv[0]);
    struct pw_catalog *cat = open_catalog(o->db);
    if (!cat)
        return 1;
    bool seeded = false;
    struct pw_error err = {0};
    enum pw_err rc = pw_catalog_seed_demo(cat, &seeded, &err);
    pw_catalog_close(cat);
    if (rc != PW_OK)
        return fail(sc, &err);
    puts(seeded ? "seeded the demo catalog (194 products)"
                : "the catalog is not empty; nothing seeded");
    return 0;
}

/* ------------------------------------------------------------------------
 * Option parsing, shared by every subcommand
 */

/* Returns 0 or the usage exit status. */
static int option(const struct subcommand *sc, int c, struct opts *o)
{
    long long n;
    char *end;
    switch (c) {
    case OPT_DB: o->db = optarg; return 0;
    case OPT_CATEGORY: o->q.category = optarg; return 0;
    case OPT_BRAND: o->q.brand = optarg; return 0;
    case OPT_AVAILABILITY: o->q.availability = optarg; return 0;
    case OPT_CURSOR: o->q.cursor = optarg; return 0;
    case OPT_JSON: o->json = true; return 0;
    case OPT_FORMAT: o->format = optarg; return 0;
    case OPT_OUTPUT: o->output = optarg; return 0;
    case OPT_SEED: o->seed = optarg; return 0;
    case OPT_STOCK: o->stock = optarg; return 0;
    case OPT_PRICE: o->price = optarg; return 0;
    case OPT_MIN_PRICE:
    case OPT_MAX_PRICE: {
        int64_t v;
        struct pw_error err = {0};
        if (pw_catalog_price_parse(optarg, NULL, &v, &err) != PW_OK)
            return usage_error(sc, "'%s': %s (give a decimal amount such as 19.99)", optarg,
                               err.message);
        *(c == OPT_MIN_PRICE ? &o->q.min_price_minor : &o->q.max_price_minor) = v;
        return 0;
    }
    case OPT_MIN_RATING:
        errno = 0;
        o->q.min_rating = strtod(optarg, &end);
        if (end == optarg || *end || errno || o->q.min_rating < 0 || o->q.min_rating > 5)
            return usage_error(sc, "--min-rating must be a number from 0 to 5, not '%s'", optarg);
        return 0;
    case OPT_SORT:
        for (size_t i = 0; i < sizeof sorts / sizeof sorts[0]; i++)
            if (strcmp(optarg, sorts[i].name) == 0) {
                o->q.sort = sorts[i].sort;
                return 0;
            }
        return usage_error(sc, "unknown sort '%s' (relevance, price_asc, price_desc, rating)",
                           optarg);
    case OPT_LIMIT:
        if (!parse_long(optarg, 1, &n) || n > 50)
            return usage_error(sc, "--limit must be from 1 to 50, not '%s'", optarg);
        o->q.limit = (int)n;
        return 0;
    default:
        return 2;
    }
}

static const struct option long_opts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"help", no_argument, NULL, OPT_HELP},
    {"category", required_argument, NULL, OPT_CATEGORY},
    {"brand", required_argument, NULL, OPT_BRAND},
    {"min-price", required_argument, NULL, OPT_MIN_PRICE},
    {"max-price", required_argument, NULL, OPT_MAX_PRICE},
    {"availability", required_argument, NULL, OPT_AVAILABILITY},
    {"min-rating", required_argument, NULL, OPT_MIN_RATING},
    {"sort", required_argument, NULL, OPT_SORT},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"cursor", required_argument, NULL, OPT_CURSOR},
    {"json", no_argument, NULL, OPT_JSON},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"seed", required_argument, NULL, OPT_SEED},
    {"stock", required_argument, NULL, OPT_STOCK},
    {"price", required_argument, NULL, OPT_PRICE},
    {NULL, 0, NULL, 0},
};

static int dispatch(const struct subcommand *sc, int argc, char **argv)
{
    struct opts o = {0};
    pw_catalog_query_init(&o.q);
    int c;
    optind = 0; /* glibc: start a fresh scan */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
        if (c == OPT_HELP) {
            sub_usage(sc, stdout);
            return 0;
        }
        if (c == '?')
            return usage_error(sc, "unknown option '%s'", argv[optind - 1]);
        if (c == ':')
            return usage_error(sc, "option '%s' needs a value", argv[optind - 1]);
        if (!(sc->accepts & OPT_BIT(c)))
            return usage_error(sc, "option '%s' does not apply here", argv[optind - 1]);
        int status = option(sc, c, &o);
        if (status)
            return status;
    }
    return sc->run(sc, argc - optind, argv + optind, &o);
}

#define DB OPT_BIT(OPT_DB)
#define SEARCH_OPTS                                                                   \
    (OPT_BIT(OPT_CATEGORY) | OPT_BIT(OPT_BRAND) | OPT_BIT(OPT_MIN_PRICE) |             \
     OPT_BIT(OPT_MAX_PRICE) | OPT_BIT(OPT_AVAILABILITY) | OPT_BIT(OPT_MIN_RATING) |    \
     OPT_BIT(OPT_SORT) | OPT_BIT(OPT_LIMIT) | OPT_BIT(OPT_CURSOR) | OPT_BIT(OPT_JSON))

static const struct subcommand subcommands[] = {
    {"import", "FILE [--db FILE]",
     "Imports products from a JSON array, JSON Lines or CSV file (seed schema or\n"
     "DummyJSON shape), upserting by id, all or nothing. Bad rows are listed on\n"
     "stderr as FILE:LINE: field: reason and nothing is imported (exit 1).",
     "", DB, run_import},
    {"search", "[QUERY...] [options]",
     "Searches the catalog: free text (any words; quotes and operators are plain\n"
     "text) plus filters. Prints a table, or the JSON result with --json.",
     "  --category C         only this category (exact, any case)\n"
     "  --brand B            only this brand (exact, any case)\n"
     "  --min-price N        price at least N (major units, e.g. 19.99)\n"
     "  --max-price N        price at most N\n"
     "  --availability A     in-stock, limited or out-of-stock\n"
     "  --min-rating R       rating at least R (0 to 5)\n"
     "  --sort S             relevance (default), price_asc, price_desc or rating\n"
     "  --limit N            results per page, 1 to 50 (default 10)\n"
     "  --cursor C           the next page, from a previous result\n"
     "  --json               print the result as JSON\n",
     DB | SEARCH_OPTS, run_search},
    {"get", "ID [--db FILE]", "Prints one product as JSON.", "", DB, run_get},
    {"stats", "[--json] [--db FILE]", "Prints counts, price range and categories.",
     "  --json               print as JSON\n", DB | OPT_BIT(OPT_JSON), run_stats},
    {"export", "[--format jsonl|json|csv] [--output FILE]",
     "Writes every product, ordered by id, in the canonical shape.",
     "  --format F           jsonl (default), json or csv\n"
     "  --output FILE        write to FILE instead of stdout\n",
     DB | OPT_BIT(OPT_FORMAT) | OPT_BIT(OPT_OUTPUT), run_export},
    {"generate", "N [--seed S] [--output FILE]",
     "Writes N synthetic products as JSON Lines (seed schema), the same for the\n"
     "same N and seed. For benchmarks: `catalog generate 1000000 > big.jsonl`.",
     "  --seed S             random seed (default 1)\n"
     "  --output FILE        write to FILE instead of stdout\n",
     OPT_BIT(OPT_SEED) | OPT_BIT(OPT_OUTPUT), run_generate},
    {"set", "ID [--stock N] [--price DECIMAL]",
     "Changes a product's stock (availability follows: 0 out-of-stock, 1-5\n"
     "limited, more in-stock) and/or price, as a live update would.",
     "  --stock N            the new stock level\n"
     "  --price DECIMAL      the new price in the product's currency, e.g. 19.99\n",
     DB | OPT_BIT(OPT_STOCK) | OPT_BIT(OPT_PRICE), run_set},
    {"seed-demo", "[--db FILE]",
     "Loads the built-in demo catalog (194 DummyJSON products) if the catalog is empty.",
     "", DB, run_seed},
};

#define NSUB (sizeof subcommands / sizeof subcommands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: pennyworth catalog SUBCOMMAND [ARGS] [--db FILE]\n\nsubcommands:\n");
    for (size_t i = 0; i < NSUB; i++)
        fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].args);
    fprintf(f, "\nRun 'pennyworth catalog SUBCOMMAND --help' for details.\n");
    cli_help_reads(f, CLI_HELP_DB | CLI_HELP_LOG);
}

int cli_catalog(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < NSUB; i++)
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return dispatch(&subcommands[i], argc - 1, argv + 1);
    fprintf(stderr, "pennyworth catalog: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
