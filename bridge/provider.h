/*
 * Providers, bridge-private: one vtable row per upstream API (OpenAI chat
 * completions, Bedrock Converse), registered in a table (providers.c) and
 * looked up by name. A provider knows how to turn a normalised OpenAI chat
 * request into an HTTP request for its API, and how to turn the bytes that
 * come back into OpenAI objects. It knows nothing of sockets, retries,
 * routing or the client: the router (above) drives it, the upstream layer
 * (upstream.h, below) moves the bytes.
 *
 * Output model: a response decoder appends OpenAI chat.completion.chunk
 * objects to an array as upstream bytes arrive (streamed upstream), or
 * produces one chat.completion at the end (non-streamed upstream). The
 * bridge aggregates chunks into a completion for non-streaming clients, so
 * a provider only needs the shapes it actually receives.
 *
 * Threads: every function runs on the loop thread; decoders are per
 * response. Errors: a decoder that meets a provider failure inside a 200
 * stream (a Bedrock exception event, an OpenAI `error` object in SSE)
 * returns the mapped pw_err with `*retryable` set, exactly as `error` does
 * for an HTTP error status.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_BRIDGE_PROVIDER_H
#define PENNYWORTH_BRIDGE_PROVIDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "pennyworth/error.h"

/* Credentials and endpoint of one deployment, resolved from configuration
 * or the environment at start-up (strings owned by the router's config). */
struct bridge_target {
    const char *provider;        /* "openai" | "bedrock" */
    const char *model;           /* the upstream model id ("gpt-4o-mini",
                                    "anthropic.claude-3-5-sonnet-20240620-v1:0",
                                    "us.anthropic...:0" inference profiles) */
    const char *base_url;        /* openai: ".../v1"; bedrock: the endpoint
                                    ("https://bedrock-runtime.REGION.amazonaws.com"
                                    or an override) */
    const char *api_key;         /* openai: bearer key; bedrock: AWS_BEARER_TOKEN_BEDROCK */
    const char *region;          /* bedrock */
    const char *access_key_id;   /* bedrock SigV4 */
    const char *secret_access_key;
    const char *session_token;   /* may be NULL */
};

/* One prepared upstream HTTP request; every string is new (the caller frees
 * with bridge_http_clear). Headers are "Name: value" lines. */
struct bridge_http {
    char *method;
    char *url;
    char **headers;              /* NULL terminated */
    char *body;
    size_t body_len;
};

void bridge_http_clear(struct bridge_http *h);

struct bridge_decoder;           /* a provider's per-response state */

/* What a decoder was created for. */
struct bridge_decode_ctx {
    const char *id;              /* "chatcmpl-..." we give the client */
    const char *model;           /* the model name the client asked for */
    long long created;           /* unix seconds */
    bool include_usage;          /* the client asked for the usage chunk */
};

struct bridge_provider {
    const char *name;

    /* Builds the HTTP request. `req` (borrowed) is the client's OpenAI
     * request with our own fields removed; `stream` says whether to use the
     * provider's streaming API. `now` (unix seconds) is for signing. */
    enum pw_err (*prepare)(const struct bridge_target *t, json_t *req, bool stream,
                           long long now, struct bridge_http *out, struct pw_error *err);

    /* Maps an HTTP error response (status >= 300) to our error: `header`
     * looks up a response header (case-insensitive; NULL when absent), body
     * is the raw bytes. *retryable: whether a retry or the next deployment
     * may help (429, 5xx, timeouts: yes; 400, 401, 403, 404: no). */
    enum pw_err (*error)(int status, const char *(*header)(void *hud, const char *name),
                         void *hud, const char *body, size_t len, bool *retryable,
                         struct pw_error *err);

    /* A decoder for one 2xx response (streaming or not). */
    enum pw_err (*decoder_new)(const struct bridge_decode_ctx *ctx, bool stream,
                               struct bridge_decoder **out, struct pw_error *err);
    /* Bytes in: appends chunks (streamed) or buffers (not streamed). */
    enum pw_err (*decode)(struct bridge_decoder *d, const char *data, size_t len,
                          json_t *chunks, bool *retryable, struct pw_error *err);
    /* The body ended. Streamed: appends any last chunks and fails with
     * PW_ERR_UPSTREAM when the stream was cut before its proper end.
     * Not streamed: *completion (new) is the chat.completion. */
    enum pw_err (*finish)(struct bridge_decoder *d, json_t *chunks, json_t **completion,
                          bool *retryable, struct pw_error *err);
    void (*decoder_free)(struct bridge_decoder *d);
};

/* The provider named `name`, or NULL (borrowed, static). */
const struct bridge_provider *bridge_provider_find(const char *name);

extern const struct bridge_provider bridge_provider_openai;  /* openai.c */
extern const struct bridge_provider bridge_provider_bedrock; /* bedrock.c */

#endif
