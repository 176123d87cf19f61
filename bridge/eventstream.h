/*
 * AWS event stream framing (application/vnd.amazon.eventstream), bridge-private.
 *
 * Bedrock's ConverseStream and InvokeModelWithResponseStream answer with a
 * sequence of binary messages, each carrying typed headers (":message-type",
 * ":event-type", ...) and a payload (JSON for Bedrock). The decoder is
 * incremental: feed it whatever bytes arrived (one at a time works) and it
 * calls back once per complete, CRC-checked message. The encoder builds the
 * same frames, for tests and for our fake upstreams.
 *
 * A decoder belongs to one stream and one thread at a time (whichever thread
 * owns the upstream transfer); separate decoders are independent.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_BRIDGE_EVENTSTREAM_H
#define PENNYWORTH_BRIDGE_EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "pennyworth/error.h"

/* Header value types, with their wire codes. */
enum bridge_es_type {
    BRIDGE_ES_TRUE = 0,      /* no value bytes */
    BRIDGE_ES_FALSE = 1,     /* no value bytes */
    BRIDGE_ES_BYTE = 2,      /* int8 in num */
    BRIDGE_ES_SHORT = 3,     /* int16 in num */
    BRIDGE_ES_INT = 4,       /* int32 in num */
    BRIDGE_ES_LONG = 5,      /* int64 in num */
    BRIDGE_ES_BYTES = 6,     /* u16 length + bytes in bytes/len */
    BRIDGE_ES_STRING = 7,    /* u16 length + UTF-8 in bytes/len */
    BRIDGE_ES_TIMESTAMP = 8, /* int64 milliseconds since the epoch in num */
    BRIDGE_ES_UUID = 9,      /* 16 bytes in bytes (len 16) */
};

/*
 * One header. In a decoded message every pointer is borrowed for the
 * duration of the callback; `name`, and `bytes` of STRING and BYTES values,
 * are NUL-terminated copies (so a string value is usable as a C string when
 * it holds no NUL itself). For encoding, name_len 0 means strlen(name).
 */
struct bridge_es_header {
    const char *name;
    size_t name_len; /* 1..255 */
    enum bridge_es_type type;
    int64_t num;
    const uint8_t *bytes;
    size_t len; /* BYTES/STRING: 0..65535; UUID: 16 */
};

/* A decoded message; everything borrowed for the duration of the callback.
 * The well-known string headers are picked out for convenience (NULL when
 * absent or not of string type). */
struct bridge_es_message {
    const struct bridge_es_header *headers;
    size_t n_headers;
    const uint8_t *payload;
    size_t payload_len;
    const char *message_type;   /* ":message-type": "event", "exception", "error" */
    const char *event_type;     /* ":event-type", e.g. "contentBlockDelta" */
    const char *exception_type; /* ":exception-type", e.g. "throttlingException" */
    const char *error_code;     /* ":error-code" */
    const char *error_message;  /* ":error-message" */
    const char *content_type;   /* ":content-type", e.g. "application/json" */
};

/*
 * Called once per complete message, on the thread that called feed; it must
 * not feed or free the decoder that called it. Return PW_OK to go on; any
 * other code stops the decoder and is returned by feed (set `err` to say
 * why; it is feed's own `err`).
 */
typedef enum pw_err (*bridge_es_message_fn)(void *ud, const struct bridge_es_message *msg,
                                            struct pw_error *err);

#define BRIDGE_ES_PRELUDE_LEN 12u
#define BRIDGE_ES_MIN_MESSAGE 16u              /* prelude + message CRC */
#define BRIDGE_ES_DEFAULT_MAX_MESSAGE (16u << 20) /* 16 MiB, AWS's own limit */
#define BRIDGE_ES_DEFAULT_MAX_HEADERS (128u << 10) /* 128 KiB, AWS's own limit */

struct bridge_es_decoder;

/*
 * New decoder (NULL when out of memory). `max_message` bounds a message's
 * total length and `max_headers` its headers section; 0 picks the defaults
 * above. `fn` gets every message with `ud`.
 */
struct bridge_es_decoder *bridge_es_decoder_new(size_t max_message, size_t max_headers,
                                                bridge_es_message_fn fn, void *ud);

/*
 * Feed `len` bytes. Calls back for every message they complete, then
 * returns PW_OK; or returns the first failure: PW_ERR_PARSE for a bad
 * prelude CRC, a bad message CRC, inconsistent lengths or malformed headers;
 * PW_ERR_TOO_LARGE over a bound (reported as soon as the prelude arrives,
 * before buffering the body); PW_ERR_NOMEM; or the callback's code. After a
 * failure the decoder is stopped: every later feed returns PW_ERR_STATE.
 */
enum pw_err bridge_es_decoder_feed(struct bridge_es_decoder *d, const void *data, size_t len,
                                   struct pw_error *err);

/*
 * The stream ended: PW_OK if it ended between messages, PW_ERR_PARSE
 * ("incomplete message at end of stream") if a message was cut short.
 */
enum pw_err bridge_es_decoder_finish(struct bridge_es_decoder *d, struct pw_error *err);

/* Bytes of a partial message currently buffered (0 between messages). */
size_t bridge_es_decoder_pending(const struct bridge_es_decoder *d);

void bridge_es_decoder_free(struct bridge_es_decoder *d);

/*
 * Encode one message into a new buffer (*out, *out_len; free() it).
 * PW_ERR_INVALID for a bad header (empty or long name, unknown type, value
 * over 65535 bytes, UUID not 16 bytes), PW_ERR_TOO_LARGE over 4 GiB,
 * PW_ERR_NOMEM. Any thread.
 */
enum pw_err bridge_es_encode(const struct bridge_es_header *headers, size_t n_headers,
                             const void *payload, size_t payload_len, uint8_t **out,
                             size_t *out_len, struct pw_error *err);

/* CRC-32 (IEEE 802.3 / zlib polynomial), continuing from `crc` (0 to start). */
uint32_t bridge_es_crc32(uint32_t crc, const void *data, size_t len);

#endif
