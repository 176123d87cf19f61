/*
 * The conformance server's fixtures: the tools, resources, prompts and
 * completions that the official MCP conformance suite
 * (@modelcontextprotocol/conformance, "server" mode) calls by name. Each
 * concept has its own file (tools.c, resources.c, prompts.c); server.c
 * registers them on an MCP engine and serves it over Streamable HTTP.
 *
 * This is test-only code: it is linked with the engine library but never
 * part of the `pennyworth` executable. Protocol behaviour (sessions, SSE,
 * resumption, errors) is the product's; the fixtures only produce the
 * content the suite's scenarios check.
 *
 * Every function runs on the engine's loop thread.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_CONFORMANCE_H
#define PW_CONFORMANCE_H

#include <jansson.h>

#include "pennyworth/error.h"
#include "pennyworth/mcp.h"

/* A 1x1 red pixel, PNG, base64 (shared by tools, resources and prompts). */
extern const char conf_png_base64[];

/* tools.c: every fixture tool. */
enum pw_err conf_add_tools(struct pw_mcp_server *mcp, struct pw_error *err);

/* resources.c: static resources and the resource template. */
enum pw_err conf_add_resources(struct pw_mcp_server *mcp, struct pw_error *err);

/* prompts.c: the prompts and the completion handler. */
enum pw_err conf_add_prompts(struct pw_mcp_server *mcp, struct pw_error *err);

/* modern.c: the fixtures of revision 2026-07-28's scenarios. */
enum pw_err conf_add_modern(struct pw_mcp_server *mcp, struct pw_error *err);

/* Content items (new references). */
json_t *conf_text(const char *text);
json_t *conf_image(void);
json_t *conf_embedded_text(const char *uri, const char *mime_type, const char *text);

#endif
