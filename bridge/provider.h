/*
 * Providers, bridge-private: one vtable row per upstream API (OpenAI chat
 * completions, Bedrock Converse, and the built-in offline model that
 * answers from the catalog context without a network), registered in a
 * table (providers.c) and looked up by name, by the prefix of a model name
 * or by the built-in model name a row answers. A provider knows its
 * own configuration (the environment variables it reads, the deployment
 * members and credentials it takes, into a target of its own shape), how
 * to turn a normalised OpenAI chat request into an HTTP request for its
 * API, and how to turn the bytes that come back into OpenAI objects. It
 * knows nothing of sockets, retries, routing or the client: the exchange
 * (attempt.c, above) drives it, the upstream layer (upstream.h, below)
 * moves the bytes. Adding a provider is adding a row (providers.c) and its
 * file, and its name to the configuration schema's provider enum.
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

typedef const char *(*bridge_getenv_fn)(const char *name);

/*
 * Where one deployment's requests go, as its provider reads it: every
 * provider's own target struct starts with this one (openai.h, bedrock.h)
 * and adds its credentials, so the exchange only ever sees the common part.
 * Made by the provider's `target_new`, freed by its `target_free`.
 */
struct bridge_target {
    const struct bridge_provider *provider;
    char *model;                 /* the upstream model id ("gpt-4o-mini",
                                    "anthropic.claude-3-5-sonnet-20240620-v1:0",
                                    "us.anthropic...:0" inference profiles) */
    char *base_url;              /* the endpoint requests go to */
};

/* One prepared upstream HTTP request; every string is new (the caller frees
 * with bridge_http_clear). Headers are "Name: value" lines. A `local`
 * request goes nowhere: `body` is the provider's whole 200 response, which
 * the upstream layer hands back as if it had arrived (upstream.h), so the
 * exchange drives a provider without a network exactly like the others. */
struct bridge_http {
    char *method;
    char *url;                   /* NULL when local */
    char **headers;              /* NULL terminated */
    char *body;
    size_t body_len;
    bool local;                  /* body is the response, not a request */
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
    const char *name;            /* a deployment's "provider" member */
    const char *prefix;          /* model names it takes by prefix ("openai/NAME");
                                    NULL: none */
    const char *genai_system;    /* OTel's gen_ai.system for its spans ("openai") */
    const char *builtin;         /* a model name it answers with no configuration at
                                    all, routed even when passthrough is off; NULL:
                                    none */
    const char *default_model;   /* the model to suggest when the environment
                                    configures this provider (after its prefix) */

    /* Whether the environment configures this provider (`defaults`, from
     * defaults_new): credentials or an endpoint of its own. NULL for a
     * provider that needs nothing (offline), which never counts as a real
     * provider being configured (config.c: the default model). */
    bool (*configured)(const void *defaults);

    /* Configuration. `defaults_new` reads the provider's environment
     * variables once at start-up (*out new, for defaults_free);
     * `target_new` makes one deployment's target from those defaults and
     * the deployment's provider-specific members of `deploy` (the
     * configuration file's object, borrowed; NULL for a deployment made by
     * prefix routing), with variables the file names read through
     * `getenv_fn`. Errors name `ptr`, the deployment's JSON pointer, and
     * read "POINTER/member: reason". */
    enum pw_err (*defaults_new)(bridge_getenv_fn getenv_fn, void **out, struct pw_error *err);
    void (*defaults_free)(void *defaults);
    enum pw_err (*target_new)(const void *defaults, const char *model, json_t *deploy,
                              bridge_getenv_fn getenv_fn, const char *ptr,
                              struct bridge_target **out, struct pw_error *err);
    void (*target_free)(struct bridge_target *t);

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
/* The provider whose prefix starts `model` ("openai/NAME"), with something
 * after the prefix, or NULL. */
const struct bridge_provider *bridge_provider_for_model(const char *model);
/* The provider whose built-in model is `model`, or NULL. */
const struct bridge_provider *bridge_provider_builtin(const char *model);
/* Row `i` of the table, NULL past its end (for configuration, which keeps
 * one set of defaults per row). */
const struct bridge_provider *bridge_provider_at(size_t i);

/* Helpers for the providers' configuration (providers.c). */
/* The variable's value when set and not empty, else NULL (borrowed). */
const char *bridge_env(bridge_getenv_fn getenv_fn, const char *name);
/* A copy of `s` (new), or NULL for NULL and "". */
char *bridge_strdup_or_null(const char *s);
/* When `creds` names a variable under `key`, replaces *slot with its value
 * (new; NULL when unset). */
void bridge_cred(json_t *creds, const char *key, bridge_getenv_fn getenv_fn, char **slot);

extern const struct bridge_provider bridge_provider_openai;  /* openai.c */
extern const struct bridge_provider bridge_provider_bedrock; /* bedrock.c */
extern const struct bridge_provider bridge_provider_offline; /* offline.c */

#endif
