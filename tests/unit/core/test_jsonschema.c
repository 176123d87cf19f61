/*
 * Unit tests for core/jsonschema.c (with core/ecmare.c and core/jsonvalue.c
 * behind it), driven mostly by the case directories in fixtures/jsonschema/.
 *
 * The fixture root is argv[1]. Under it, every directory of
 *   valid/<case>/      schema.json, instance.json: must validate
 *   invalid/<case>/    schema.json, instance.json, error: must fail with the
 *                      JSON pointer on line 1 and the message on line 2
 *   badschema/<case>/  schema.json, error: must not compile; line 1 pointer
 *                      (into the schema), line 2 message, line 3 code name
 * becomes one cmocka test, so adding a case is adding a directory. Instance
 * cases run both through pw_jsonschema_check and through a compiled schema
 * validated twice (a compiled schema must not change). A few API rules and
 * a table of pattern translations are tested in C below.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/jsonschema.h"

enum kind { VALID, INVALID, BADSCHEMA };

struct kase {
    enum kind kind;
    char dir[1200];
    char name[300];
};

static json_t *load(const struct kase *k, const char *file)
{
    char path[1300];
    json_error_t jerr;
    snprintf(path, sizeof path, "%s/%s", k->dir, file);
    json_t *v = json_load_file(path, JSON_DECODE_ANY, &jerr);
    if (!v)
        fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
    return v;
}

/* The `error` file's lines; missing lines are "". */
static void expected(const struct kase *k, char lines[3][PW_ERROR_MESSAGE_MAX])
{
    char path[1300];
    snprintf(path, sizeof path, "%s/error", k->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("%s: cannot open", path);
    for (int i = 0; i < 3; i++) {
        lines[i][0] = '\0';
        if (f && fgets(lines[i], PW_ERROR_MESSAGE_MAX, f))
            lines[i][strcspn(lines[i], "\n")] = '\0';
    }
    if (f)
        fclose(f);
}

static void run_instance_case(void **state)
{
    const struct kase *k = *state;
    json_t *schema = load(k, "schema.json");
    json_t *inst = load(k, "instance.json");
    char want[3][PW_ERROR_MESSAGE_MAX];
    enum pw_err code = k->kind == VALID ? PW_OK : PW_ERR_INVALID;
    if (k->kind == INVALID)
        expected(k, want);

    struct pw_error e;
    pw_error_clear(&e);
    enum pw_err rc = pw_jsonschema_check(schema, inst, &e);
    if (rc != code)
        fail_msg("%s: check returned %s (%s at \"%s\")", k->name, pw_err_name(rc), e.message,
                 e.pointer);
    if (k->kind == INVALID) {
        assert_string_equal(e.pointer, want[0]);
        assert_string_equal(e.message, want[1]);
    }

    pw_error_clear(&e);
    struct pw_jsonschema *js = pw_jsonschema_compile(schema, &e);
    if (!js)
        fail_msg("%s: compile failed: %s at \"%s\"", k->name, e.message, e.pointer);
    for (int round = 0; round < 2; round++) {
        struct pw_error v;
        pw_error_clear(&v);
        assert_int_equal(pw_jsonschema_validate(js, inst, &v), code);
        if (k->kind == INVALID) {
            assert_string_equal(v.pointer, want[0]);
            assert_string_equal(v.message, want[1]);
        }
    }
    pw_jsonschema_free(js);
    json_decref(schema);
    json_decref(inst);
}

static void run_badschema_case(void **state)
{
    const struct kase *k = *state;
    json_t *schema = load(k, "schema.json");
    char want[3][PW_ERROR_MESSAGE_MAX];
    expected(k, want);
    struct pw_error e;
    pw_error_clear(&e);
    struct pw_jsonschema *js = pw_jsonschema_compile(schema, &e);
    if (js)
        fail_msg("%s: compiled, but should not", k->name);
    assert_string_equal(e.pointer, want[0]);
    assert_string_equal(e.message, want[1]);
    assert_string_equal(pw_err_name(e.code), want[2]);

    /* the one-shot form blames the schema, not the instance */
    json_t *inst = json_object();
    pw_error_clear(&e);
    assert_int_equal(pw_jsonschema_check(schema, inst, &e), PW_ERR_INTERNAL);
    assert_string_equal(e.pointer, "");
    assert_non_null(strstr(e.message, want[1]));
    json_decref(inst);
    json_decref(schema);
}

/* ---------------------------------------------------------------------- */

static json_t *parse(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    return v;
}

static void null_error_and_first_error_wins(void **state)
{
    json_t *schema = parse("{\"type\": \"integer\", \"maximum\": 5}");
    json_t *six = json_integer(6);
    assert_int_equal(pw_jsonschema_check(schema, six, NULL), PW_ERR_INVALID);

    struct pw_error e;
    pw_error_clear(&e);
    pw_error_set(&e, PW_ERR_IO, "/x", "earlier");
    assert_int_equal(pw_jsonschema_check(schema, six, &e), PW_ERR_INVALID);
    assert_int_equal(e.code, PW_ERR_IO);
    assert_string_equal(e.message, "earlier");

    assert_int_equal(pw_jsonschema_validate(NULL, six, NULL), PW_ERR_INTERNAL);
    struct pw_jsonschema *js = pw_jsonschema_compile(schema, NULL);
    assert_non_null(js);
    assert_int_equal(pw_jsonschema_validate(js, NULL, NULL), PW_ERR_INVALID);
    pw_jsonschema_free(js);
    pw_jsonschema_free(NULL);
    assert_null(pw_jsonschema_compile(NULL, NULL));
    json_decref(six);
    json_decref(schema);
}

static void compiled_schema_outlives_caller_reference(void **state)
{
    json_t *schema = parse("{\"properties\": {\"s\": {\"enum\": [\"a\", \"b\"]}}}");
    struct pw_jsonschema *js = pw_jsonschema_compile(schema, NULL);
    json_decref(schema); /* the compiled form holds its own reference */
    json_t *ok = parse("{\"s\": \"b\"}"), *bad = parse("{\"s\": \"c\"}");
    struct pw_error e;
    pw_error_clear(&e);
    assert_int_equal(pw_jsonschema_validate(js, ok, &e), PW_OK);
    assert_int_equal(pw_jsonschema_validate(js, bad, &e), PW_ERR_INVALID);
    assert_string_equal(e.message, "s: must be one of a, b");
    pw_jsonschema_free(js);
    json_decref(ok);
    json_decref(bad);
}

static void long_enum_message_is_cut(void **state)
{
    json_t *schema = json_pack("{s:[]}", "enum");
    for (int i = 0; i < 100; i++)
        json_array_append_new(json_object_get(schema, "enum"), json_sprintf("value-%d", i));
    json_t *inst = json_string("nope");
    struct pw_error e;
    pw_error_clear(&e);
    assert_int_equal(pw_jsonschema_check(schema, inst, &e), PW_ERR_INVALID);
    assert_true(strncmp(e.message, "(root): must be one of value-0, value-1, ", 41) == 0);
    assert_non_null(strstr(e.message, "..."));
    json_decref(inst);
    json_decref(schema);
}

static void big_unique_array(void **state)
{
    json_t *arr = json_array();
    for (int i = 0; i < 20000; i++)
        json_array_append_new(arr, i % 2 ? json_integer(i) : json_sprintf("s%d", i));
    json_t *schema = parse("{\"uniqueItems\": true}");
    assert_int_equal(pw_jsonschema_check(schema, arr, NULL), PW_OK);
    json_array_append_new(arr, json_real(19999.0)); /* equals the integer 19999 */
    struct pw_error e;
    pw_error_clear(&e);
    assert_int_equal(pw_jsonschema_check(schema, arr, &e), PW_ERR_INVALID);
    assert_string_equal(e.message, "(root): must not contain duplicate items "
                                   "(items 19999 and 20000 are equal)");
    json_decref(schema);
    json_decref(arr);
}

/* ECMA-262 patterns through the POSIX translation: does `subject` match? */
static void pattern_table(void **state)
{
    static const struct {
        const char *pattern, *subject;
        bool match;
    } rows[] = {
        {"^\\d+$", "12345", true},
        {"^\\d+$", "12a45", false},
        {"^\\D+$", "abc", true},
        {"^\\w+$", "a_B9", true},
        {"^\\w+$", "a-b", false},
        {"^\\W$", "-", true},
        {"^a\\sb$", "a b", true},
        {"^a\\Sb$", "a b", false},
        {"^[\\w.-]+$", "a.b-c_d", true},
        {"^[\\w.-]+$", "a+b", false},
        {"^[^\\s]+$", "abc", true},
        {"^[^\\s]+$", "a c", false},
        {"^[\\]a]+$", "]a]", true},
        {"^[\\^]$", "^", true},
        {"^[\\^x]$", "x", true},
        {"^[a\\-z]$", "-", true},
        {"^[a\\-z]$", "m", false},
        {"^[\\[]$", "[", true},
        {"^[\\\\]$", "\\", true},
        {"^\\.$", ".", true},
        {"^\\.$", "x", false},
        {"^a/b$", "a/b", true},
        {"^a\\/b$", "a/b", true},
        {"^(?:ab)+$", "abab", true},
        {"^a+?b*?$", "aab", true},
        {"^a{2,3}?$", "aaa", true},
        {"^a{2}$", "aaa", false},
        {"^x{$", "x{", true},
        {"^x}$", "x}", true},
        {"^\\u00e9$", "\xc3\xa9", true},
        {"^\\x41$", "A", true},
        {"^\\t$", "\t", true},
        {"^(a|b)c$", "bc", true},
        {"^\\$\\d+\\.\\d{2}$", "$10.50", true},
        {"colou?r", "my colour", true},
        {"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "2024-02-30", true},
        {"^[A-Z]{2}\\d{6}$", "AB123456", true},
        {"^[A-Z]{2}\\d{6}$", "ab123456", false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *schema = json_pack("{s:s}", "pattern", rows[i].pattern);
        json_t *inst = json_string(rows[i].subject);
        struct pw_error e;
        pw_error_clear(&e);
        enum pw_err rc = pw_jsonschema_check(schema, inst, &e);
        if (rc != (rows[i].match ? PW_OK : PW_ERR_INVALID))
            fail_msg("pattern %s on \"%s\": %s (%s)", rows[i].pattern, rows[i].subject,
                     pw_err_name(rc), e.message);
        json_decref(inst);
        json_decref(schema);
    }
}

/* Embedded NUL in an instance string: the pattern sees the whole string. */
static void pattern_sees_past_nul(void **state)
{
    json_t *schema = parse("{\"pattern\": \"^a\\\\x00?b$\", \"maxLength\": 3}");
    assert_null(pw_jsonschema_compile(schema, NULL)); /* \x00 is refused */
    json_decref(schema);
    schema = parse("{\"pattern\": \"b$\"}");
    json_t *inst = json_stringn("a\0b", 3);
    assert_int_equal(pw_jsonschema_check(schema, inst, NULL), PW_OK);
    json_decref(inst);
    json_decref(schema);
}

/* ---------------------------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct kase *)a)->name, ((const struct kase *)b)->name);
}

/* Append one case per subdirectory of root/sub; returns the new count. */
static size_t collect(const char *root, const char *sub, enum kind kind, struct kase **cases,
                      size_t n, size_t *cap)
{
    char dir[900];
    snprintf(dir, sizeof dir, "%s/%s", root, sub);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "test_jsonschema: cannot open %s\n", dir);
        exit(1);
    }
    size_t first = n;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (ent->d_name[0] == '.')
            continue;
        if (n == *cap) {
            *cap = *cap ? 2 * *cap : 64;
            *cases = realloc(*cases, *cap * sizeof **cases);
            if (!*cases)
                exit(1);
        }
        struct kase *k = &(*cases)[n++];
        k->kind = kind;
        snprintf(k->dir, sizeof k->dir, "%s/%s", dir, ent->d_name);
        snprintf(k->name, sizeof k->name, "%s/%s", sub, ent->d_name);
    }
    closedir(d);
    qsort(*cases + first, n - first, sizeof **cases, by_name);
    return n;
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : getenv("PW_JSONSCHEMA_FIXTURES");
    if (!root) {
        fprintf(stderr, "usage: %s FIXTURES/jsonschema\n", argv[0]);
        return 1;
    }
    struct kase *cases = NULL;
    size_t n = 0, cap = 0;
    n = collect(root, "valid", VALID, &cases, n, &cap);
    n = collect(root, "invalid", INVALID, &cases, n, &cap);
    n = collect(root, "badschema", BADSCHEMA, &cases, n, &cap);

    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(null_error_and_first_error_wins),
        cmocka_unit_test(compiled_schema_outlives_caller_reference),
        cmocka_unit_test(long_enum_message_is_cut),
        cmocka_unit_test(big_unique_array),
        cmocka_unit_test(pattern_table),
        cmocka_unit_test(pattern_sees_past_nul),
    };
    size_t nfixed = sizeof fixed / sizeof fixed[0];
    struct CMUnitTest *tests = calloc(n + nfixed, sizeof *tests);
    if (!tests)
        return 1;
    for (size_t i = 0; i < nfixed; i++)
        tests[i] = fixed[i];
    for (size_t i = 0; i < n; i++) {
        struct CMUnitTest *t = &tests[nfixed + i];
        t->name = cases[i].name;
        t->test_func = cases[i].kind == BADSCHEMA ? run_badschema_case : run_instance_case;
        t->initial_state = &cases[i];
    }
    int failed = _cmocka_run_group_tests("jsonschema", tests, n + nfixed, NULL, NULL);
    free(tests);
    free(cases);
    return failed;
}
