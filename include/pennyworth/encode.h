/*
 * Byte encodings used across modules: lower-case hex (SHA-256 digests in
 * SigV4 and key hashes), hex digit values (percent-decoding, stored keys),
 * and unpadded base64url (opaque cursors, tokens), and where to cut UTF-8
 * text a client sent (bounded labels and records). One implementation each,
 * so that every module encodes the same bytes the same way.
 *
 * All functions are pure and thread-safe; none allocates.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_ENCODE_H
#define PENNYWORTH_ENCODE_H

#include <stdbool.h>
#include <stddef.h>

/* Value of one hex digit (either case), or -1. */
int pw_hex_digit(int c);

/* Writes 2n lower-case hex digits and a NUL to dst (2n + 1 bytes). */
void pw_hex_encode(char *dst, const void *src, size_t n);

/* Decodes exactly 2n hex digits from src into n bytes at dst; false when a
 * character is not a hex digit. */
bool pw_hex_decode(void *dst, const char *src, size_t n);

/* Characters pw_base64url_encode writes for n bytes (without the NUL). */
#define PW_BASE64URL_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))

/* Writes the unpadded base64url form of n bytes and a NUL to dst
 * (PW_BASE64URL_LEN(n) + 1 bytes); returns the length written. */
size_t pw_base64url_encode(char *dst, const void *src, size_t n);

/* Decodes unpadded base64url text (len characters) into dst (cap bytes);
 * returns the number of bytes, or -1 when the text is not canonical
 * base64url (bad character, impossible length, non-zero trailing bits) or
 * does not fit. */
long pw_base64url_decode(void *dst, size_t cap, const char *text, size_t len);

/* Bytes of `s` to keep so that at most `max` remain and no UTF-8 character
 * is split: all of it when it is shorter, else `max` less the bytes of the
 * character the cut would fall into. */
size_t pw_utf8_prefix(const char *s, size_t max);

#endif
