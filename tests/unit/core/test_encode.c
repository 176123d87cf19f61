/*
 * Hex and base64url codecs: RFC 4648 §10 vectors (base64url has the same
 * output for them, as none produces '+' or '/'), the url-safe alphabet, and
 * rejection of every non-canonical input.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pennyworth/encode.h"

static void rfc4648(void **state)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char text[16];
        unsigned char back[16];
        size_t n = strlen(in[i]);
        assert_int_equal(pw_base64url_encode(text, in[i], n), PW_BASE64URL_LEN(n));
        assert_string_equal(text, out[i]);
        assert_int_equal(pw_base64url_decode(back, sizeof back, text, strlen(text)), (long)n);
        assert_memory_equal(back, in[i], n);
    }
}

static void url_alphabet(void **state)
{
    const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
    char text[8];
    unsigned char back[3];
    pw_base64url_encode(text, bytes, sizeof bytes);
    assert_string_equal(text, "-_-_");
    assert_int_equal(pw_base64url_decode(back, sizeof back, text, 4), 3);
    assert_memory_equal(back, bytes, 3);
}

static void rejects(void **state)
{
    unsigned char buf[8];
    assert_int_equal(pw_base64url_decode(buf, sizeof buf, "Zm9v+A", 6), -1); /* '+' */
    assert_int_equal(pw_base64url_decode(buf, sizeof buf, "Zm9v=", 5), -1);  /* padding */
    assert_int_equal(pw_base64url_decode(buf, sizeof buf, "Z", 1), -1);      /* length */
    assert_int_equal(pw_base64url_decode(buf, sizeof buf, "Zh", 2), -1);     /* stray bits */
    assert_int_equal(pw_base64url_decode(buf, 2, "Zm9v", 4), -1);            /* too small */
}

static void hex(void **state)
{
    const unsigned char bytes[] = {0x00, 0x9f, 0xa0, 0xff};
    char text[9];
    unsigned char back[4];
    pw_hex_encode(text, bytes, sizeof bytes);
    assert_string_equal(text, "009fa0ff");
    assert_true(pw_hex_decode(back, "009FA0fF", 4));
    assert_memory_equal(back, bytes, 4);
    assert_false(pw_hex_decode(back, "009g", 2));
    assert_int_equal(pw_hex_digit('F'), 15);
    assert_int_equal(pw_hex_digit('/'), -1);
}

/* Cuts fall before a character, never inside one. */
static void utf8_prefix(void **state)
{
    assert_int_equal(pw_utf8_prefix("short", 10), 5);
    assert_int_equal(pw_utf8_prefix("exactly", 7), 7);
    assert_int_equal(pw_utf8_prefix("abcdef", 3), 3);
    /* "a\xc3\xa9" is "a" and a two-byte e-acute: a cut at 2 would split it. */
    assert_int_equal(pw_utf8_prefix("a\xc3\xa9" "b", 2), 1);
    assert_int_equal(pw_utf8_prefix("a\xc3\xa9" "b", 3), 3);
    /* a four-byte character cut anywhere inside goes whole */
    assert_int_equal(pw_utf8_prefix("\xf0\x9f\x98\x80x", 3), 0);
    assert_int_equal(pw_utf8_prefix("", 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc4648),
        cmocka_unit_test(url_alphabet),
        cmocka_unit_test(rejects),
        cmocka_unit_test(hex),
        cmocka_unit_test(utf8_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
