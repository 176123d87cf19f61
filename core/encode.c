/*
 * Hex and base64url codecs (include/pennyworth/encode.h).
 *
 * Decoding is strict: base64url input must be canonical (no padding, no
 * stray bits in the last character), so one byte string has exactly one
 * text form and an opaque token cannot be varied into an equivalent one.
 *
 * SPDX-License-Identifier: MIT
 */
#include "pennyworth/encode.h"

#include <string.h>

static const char hexdigits[] = "0123456789abcdef";
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int pw_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void pw_hex_encode(char *dst, const void *src, size_t n)
{
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = hexdigits[s[i] >> 4];
        dst[2 * i + 1] = hexdigits[s[i] & 15];
    }
    dst[2 * n] = '\0';
}

bool pw_hex_decode(void *dst, const char *src, size_t n)
{
    unsigned char *d = dst;
    for (size_t i = 0; i < n; i++) {
        int hi = pw_hex_digit((unsigned char)src[2 * i]);
        int lo = hi < 0 ? -1 : pw_hex_digit((unsigned char)src[2 * i + 1]);
        if (lo < 0)
            return false;
        d[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

size_t pw_base64url_encode(char *dst, const void *src, size_t n)
{
    const unsigned char *s = src;
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8 | s[i]) & 0xffff;
        bits += 8;
        while (bits >= 6) {
            dst[o++] = b64[v >> (bits - 6) & 63];
            bits -= 6;
        }
    }
    if (bits)
        dst[o++] = b64[v << (6 - bits) & 63];
    dst[o] = '\0';
    return o;
}

static int b64val(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

long pw_base64url_decode(void *dst, size_t cap, const char *text, size_t len)
{
    if (len % 4 == 1)
        return -1;
    unsigned char *d = dst;
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int x = b64val(text[i]);
        if (x < 0)
            return -1;
        v = (v << 6 | (unsigned)x) & 0xffff;
        bits += 6;
        if (bits >= 8) {
            if (o >= cap)
                return -1;
            d[o++] = (unsigned char)(v >> (bits - 8));
            bits -= 8;
        }
    }
    if (v & ((1u << bits) - 1))
        return -1;
    return (long)o;
}

size_t pw_utf8_prefix(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) /* continuation: 10xxxxxx */
        n--;
    return n;
}
