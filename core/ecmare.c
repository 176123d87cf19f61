/*
 * ECMA-262 patterns translated to POSIX extended regular expressions.
 *
 * The translation is a single pass that copies what ERE spells the same
 * way and rewrites the rest: "(?:" becomes "(", a lazy "?" after a
 * quantifier is dropped (for a yes/no match it changes nothing), \d \w \s
 * and their negations become bracket expressions, control and code point
 * escapes become literal (UTF-8) bytes, escaped punctuation becomes a
 * literal escaped the ERE way, and a "{" that is not a quantifier becomes
 * "\{". Inside brackets POSIX gives ']' '-' '^' and "[" meaning by position
 * and treats a backslash as a literal, so classes are rebuilt with those
 * characters placed where they are literal. Anything whose meaning would be
 * lost (look-around, back references, \b, \p{..}, non-ASCII in classes)
 * is refused with a reason.
 *
 * The output is at most 8 bytes per input byte ("\W" is the worst, 2 bytes
 * to 14), so buffers are sized once up front.
 *
 * SPDX-License-Identifier: MIT
 */
#include "core/ecmare.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

struct re_out {
    char *buf;
    size_t len, cap;
    const char *why; /* why the pattern is refused, or NULL */
    enum pw_err code;
};

static void put(struct re_out *o, const char *s, size_t n)
{
    if (o->why)
        return;
    if (o->len + n >= o->cap) { /* the capacity is computed to suffice */
        o->why = "pattern too complex to translate";
        o->code = PW_ERR_INTERNAL;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void refuse(struct re_out *o, enum pw_err code, const char *why)
{
    if (!o->why) {
        o->why = why;
        o->code = code;
    }
}

/* A literal byte outside brackets, escaped where ERE gives it meaning. */
static void put_literal(struct re_out *o, unsigned char c)
{
    char buf[2] = {'\\', (char)c};
    if (c && strchr(".[\\()*+?{|^$", c))
        put(o, buf, 2);
    else
        put(o, buf + 1, 1);
}

/* A code point as UTF-8 literal bytes. */
static void put_codepoint(struct re_out *o, unsigned long cp)
{
    unsigned char b[3];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    }
    for (size_t i = 0; i < n; i++)
        put_literal(o, b[i]);
}

/* Read `digits` hex digits at *p; -1 if they are not there. */
static long read_hex(const char **p, const char *end, int digits)
{
    long v = 0;
    for (int i = 0; i < digits; i++) {
        int h = *p + i < end ? hexval((unsigned char)(*p)[i]) : -1;
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    *p += digits;
    return v;
}

/*
 * One escape after a backslash (at *p, the letter). Control and code point
 * escapes yield a value (>= 0); \d \w \s yield -1 with *set naming them;
 * anything else refused yields -2.
 */
static long escape_value(struct re_out *o, const char **p, const char *end, char *set)
{
    unsigned char c = (unsigned char)*(*p)++;
    static const char controls[] = "t\tn\nr\rf\fv\v";
    const char *ctl = c ? strchr(controls, c) : NULL;
    *set = 0;
    if (ctl && (ctl - controls) % 2 == 0)
        return (unsigned char)ctl[1];
    if (strchr("dDwWsS", c) && c) {
        *set = (char)c;
        return -1;
    }
    if (c == 'x' || c == 'u') {
        long v = read_hex(p, end, c == 'x' ? 2 : 4);
        if (v < 0 || v == 0)
            refuse(o, PW_ERR_INVALID, "bad \\x or \\u escape (\\u{...} and NUL are not supported)");
        else if (v >= 0xD800 && v <= 0xDFFF)
            refuse(o, PW_ERR_UNSUPPORTED, "surrogate \\u escapes are not supported");
        else
            return v;
        return -2;
    }
    if (c == 'b' || c == 'B')
        refuse(o, PW_ERR_UNSUPPORTED, "word boundaries (\\b, \\B) are not supported");
    else if (c >= '0' && c <= '9')
        refuse(o, PW_ERR_UNSUPPORTED, "back references and \\0 are not supported");
    else if (c == 'p' || c == 'P')
        refuse(o, PW_ERR_UNSUPPORTED, "Unicode property escapes are not supported");
    else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80 || c == 0)
        refuse(o, PW_ERR_UNSUPPORTED, "unknown escape");
    else
        return c; /* escaped punctuation is the character itself */
    return -2;
}

/*
 * A bracket class, from just after '['. POSIX brackets give ']' '-' '^'
 * and "[:" meaning by position, so those are collected and placed where
 * they are literal; everything else is copied in order into `body`.
 */
static void translate_class(struct re_out *o, const char **p, const char *end,
                            struct re_out *body)
{
    bool neg = false, rb = false, lb = false, caret = false, dash = false;
    body->len = 0;
    body->buf[0] = '\0';
    if (*p < end && **p == '^') {
        neg = true;
        (*p)++;
    }
    if (*p < end && **p == ']') {
        refuse(o, PW_ERR_UNSUPPORTED, "empty classes [] and [^] are not supported");
        return;
    }
    while (!o->why && !body->why) {
        if (*p >= end) {
            refuse(o, PW_ERR_INVALID, "unterminated [");
            return;
        }
        if (**p == ']') {
            (*p)++;
            break;
        }
        long lo, hi = -1;
        char set = 0;
        unsigned char c = (unsigned char)*(*p)++;
        if (c == '\\') {
            if (*p >= end) {
                refuse(o, PW_ERR_INVALID, "pattern ends in a backslash");
                return;
            }
            if (**p == 'b') { /* backspace inside a class */
                (*p)++;
                lo = '\b';
            } else {
                lo = escape_value(o, p, end, &set);
            }
        } else {
            lo = c;
        }
        if (lo == -2)
            return;
        if (set) {
            if (set == 'D' || set == 'W' || set == 'S') {
                refuse(o, PW_ERR_UNSUPPORTED, "\\D, \\W and \\S inside [] are not supported");
                return;
            }
            const char *text = set == 'd' ? "0-9" : set == 'w' ? "0-9A-Za-z_" : "[:space:]";
            put(body, text, strlen(text));
            continue;
        }
        if (lo >= 0x80) {
            refuse(o, PW_ERR_UNSUPPORTED, "non-ASCII characters inside [] are not supported");
            return;
        }
        if (*p + 1 < end && **p == '-' && (*p)[1] != ']') {
            (*p)++;
            c = (unsigned char)*(*p)++;
            if (c == '\\' && *p < end) {
                hi = escape_value(o, p, end, &set);
                if (hi == -2)
                    return;
            } else {
                hi = c;
            }
            if (set || hi >= 0x80 || hi < lo || strchr("[]^-", (int)lo) ||
                strchr("[]^-", (int)hi)) {
                refuse(o, PW_ERR_UNSUPPORTED, "unsupported or reversed range inside []");
                return;
            }
            char r[3] = {(char)lo, '-', (char)hi};
            put(body, r, 3);
            continue;
        }
        if (lo == ']')
            rb = true;
        else if (lo == '[')
            lb = true;
        else if (lo == '^')
            caret = true;
        else if (lo == '-')
            dash = true;
        else {
            char ch = (char)lo;
            put(body, &ch, 1);
        }
    }
    if (body->why) {
        refuse(o, body->code, body->why);
        return;
    }
    if (!neg && caret && !rb && !lb && body->len == 0 && !dash) {
        put(o, "\\^", 2); /* "[^]" would mean something else */
        return;
    }
    put(o, neg ? "[^" : "[", neg ? 2 : 1);
    if (rb)
        put(o, "]", 1);
    put(o, body->buf, body->len);
    if (lb)
        put(o, "[", 1);
    if (caret && !neg && !rb && body->len == 0 && !lb) {
        put(o, "-^", 2); /* '-' first keeps '^' from being first */
        dash = false;
    } else if (caret) {
        put(o, "^", 1);
    }
    if (dash)
        put(o, "-", 1);
    put(o, "]", 1);
}

/* A "{n}", "{n,}" or "{n,m}" quantifier at p, or 0 when it is not one. */
static size_t quantifier_len(const char *p, const char *end)
{
    const char *q = p + 1;
    size_t digits = 0;
    while (q < end && *q >= '0' && *q <= '9')
        q++, digits++;
    if (!digits)
        return 0;
    if (q < end && *q == ',')
        for (q++; q < end && *q >= '0' && *q <= '9'; q++)
            ;
    if (q >= end || *q != '}')
        return 0;
    return (size_t)(q - p) + 1;
}

/*
 * glibc compiles a counted repetition by copying the repeated tree (a{3}
 * is aaa), so nested counts multiply, and its epsilon closures grow with
 * the square of the copies that may match empty: .{0,10000} takes 770 MB,
 * ((a{0}){99}){99} 1.4 GB. The translation keeps an estimate of the
 * expanded size (one per atom and per group, every copy at least one),
 * per open group, and refuses a pattern past MAX_EXPANDED.
 */
#define MAX_EXPANDED 4000.0
#define MAX_GROUPS 64

struct weight {
    double group[MAX_GROUPS]; /* expanded size of each open group so far */
    int depth;
    double last;              /* of the last atom or group, what a quantifier repeats */
};

static void atom(struct weight *w)
{
    w->last = 1;
    w->group[w->depth] += 1;
}

static void group_open(struct re_out *o, struct weight *w)
{
    if (w->depth + 1 >= MAX_GROUPS) {
        refuse(o, PW_ERR_UNSUPPORTED, "groups nested too deep");
        return;
    }
    w->group[++w->depth] = 0;
}

static void group_close(struct weight *w)
{
    if (w->depth == 0) { /* unbalanced; regcomp refuses it */
        atom(w);
        return;
    }
    w->last = w->group[w->depth--] + 1;
    w->group[w->depth] += w->last;
}

/* The last atom or group repeated `copies` times (1 for * and ?, and for
 * {0}, which glibc still builds). */
static void repeat(struct re_out *o, struct weight *w, double copies)
{
    double total = 0;
    copies = copies < 1 ? 1 : copies;
    w->group[w->depth] += w->last * (copies - 1);
    w->last *= copies;
    for (int i = 0; i <= w->depth; i++)
        total += w->group[i];
    if (total > MAX_EXPANDED)
        refuse(o, PW_ERR_UNSUPPORTED, "pattern too large once its repetitions are expanded");
}

/* How many copies "{n}", "{n,}" or "{n,m}" (at p, checked) makes. */
static double counted_copies(const char *p)
{
    char *next;
    double n = (double)strtoul(p + 1, &next, 10);
    if (*next != ',')
        return n;
    if (next[1] == '}')
        return n + 1;
    double m = (double)strtoul(next + 1, NULL, 10);
    return m > n ? m : n;
}

/* ECMA-262 refuses a quantifier with nothing to repeat; POSIX refuses one
 * at the start of an expression too, but glibc takes "a++" and "a{9}{9}"
 * as nested repetitions, whose compiled size multiplies. */
static bool nothing_to_repeat(struct re_out *o, bool after_quantifier)
{
    if (after_quantifier)
        refuse(o, PW_ERR_INVALID, "nothing to repeat: a quantifier follows a quantifier");
    return after_quantifier;
}

static void translate(struct re_out *o, struct re_out *body, const char *p, const char *end)
{
    bool quantified = false; /* the last thing put was a quantifier */
    struct weight w = {.depth = 0};
    while (p < end && !o->why) {
        unsigned char c = (unsigned char)*p++;
        size_t q;
        bool after_quantifier = quantified;
        quantified = false;
        switch (c) {
        case '\\': {
            char set;
            if (p >= end) {
                refuse(o, PW_ERR_INVALID, "pattern ends in a backslash");
                return;
            }
            long v = escape_value(o, &p, end, &set);
            atom(&w);
            if (v >= 0) {
                put_codepoint(o, (unsigned long)v);
            } else if (set) {
                static const char *const sets[] = {
                    "d[0-9]", "D[^0-9]", "w[0-9A-Za-z_]", "W[^0-9A-Za-z_]",
                    "s[[:space:]]", "S[^[:space:]]",
                };
                for (size_t i = 0; i < COUNT(sets); i++)
                    if (sets[i][0] == set)
                        put(o, sets[i] + 1, strlen(sets[i] + 1));
            }
            break;
        }
        case '(':
            if (p < end && *p == '?') {
                if (p + 1 < end && p[1] == ':') {
                    p += 2;
                } else {
                    refuse(o, PW_ERR_UNSUPPORTED,
                           "look-around, named groups and inline flags are not supported");
                    return;
                }
            }
            put(o, "(", 1);
            group_open(o, &w);
            break;
        case '*':
        case '+':
        case '?':
            if (nothing_to_repeat(o, after_quantifier))
                return;
            put(o, (const char *)&c, 1);
            if (p < end && *p == '?')
                p++; /* lazy: cannot change whether the string matches */
            repeat(o, &w, c == '+' ? 2 : 1); /* glibc makes a+ of a a* */
            quantified = true;
            break;
        case '{':
            q = quantifier_len(p - 1, end);
            if (!q) {
                put(o, "\\{", 2);
                atom(&w);
                break;
            }
            if (nothing_to_repeat(o, after_quantifier))
                return;
            repeat(o, &w, counted_copies(p - 1));
            put(o, p - 1, q);
            p += q - 1;
            if (p < end && *p == '?')
                p++;
            quantified = true;
            break;
        case '[':
            translate_class(o, &p, end, body);
            atom(&w);
            break;
        case ')':
            put(o, ")", 1);
            group_close(&w);
            break;
        case '|':
        case '^':
        case '$':
        case '.':
            put(o, (const char *)&c, 1);
            atom(&w);
            break;
        default:
            put_literal(o, c);
            atom(&w);
            break;
        }
    }
}


enum pw_err core_ecmare_compile(regex_t *re, const char *src, size_t len, struct pw_error *err)
{
    size_t cap = 8 * len + 16;
    struct re_out o = {.buf = malloc(cap), .cap = cap};
    struct re_out body = {.buf = malloc(cap), .cap = cap};
    enum pw_err rc = PW_OK;
    if (!o.buf || !body.buf) {
        rc = pw_error_set(err, PW_ERR_NOMEM, "", "out of memory");
        goto out;
    }
    o.buf[0] = '\0';
    if (memchr(src, 0, len)) {
        rc = pw_error_set(err, PW_ERR_INVALID, "", "must not contain NUL");
        goto out;
    }
    translate(&o, &body, src, src + len);
    if (o.why) {
        rc = pw_error_set(err, o.code, "", "%s", o.why);
        goto out;
    }
    int e = regcomp(re, o.buf, REG_EXTENDED | REG_NOSUB);
    if (e != 0) {
        char msg[128];
        regerror(e, re, msg, sizeof msg);
        rc = pw_error_set(err, PW_ERR_INVALID, "", "not a valid pattern (%s)", msg);
    }
out:
    free(o.buf);
    free(body.buf);
    return rc;
}
