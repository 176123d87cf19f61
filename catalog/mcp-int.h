/*
 * Private to the catalog's MCP tool set (catalog/mcp_*.c): the shared
 * context and the registration entry points of each part.
 *
 * Handlers run on the engine's worker threads. Each worker thread gets its
 * own read-only SQLite connection, opened on first use and kept in a
 * thread-specific slot; every connection opened is also on `conns` so that
 * pw_catalog_mcp_free() closes them all (after the workers are joined).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_CATALOG_MCP_INT_H
#define PW_CATALOG_MCP_INT_H

#include <pthread.h>

#include "pennyworth/catalog.h"
#include "pennyworth/catalog_mcp.h"

struct pw_catalog_mcp {
    struct pw_mcp_server *srv;
    char *db_path;
    pthread_key_t key;             /* this thread's struct pw_catalog * */
    pthread_mutex_t lock;
    struct pw_catalog **conns;     /* {lock} every connection opened */
    size_t nconns;                 /* {lock} */
    struct pw_catalog *watch;      /* loop thread: change-log reader */
    int64_t seq;                   /* loop thread: last change seen */
};

/* This thread's connection, or NULL with err set. Borrowed. */
struct pw_catalog *catalog_mcp_conn(struct pw_catalog_mcp *cm, struct pw_error *err);

/* Renders a product as a few readable lines into a new string. */
char *catalog_mcp_render_product(json_t *p);
/* One line per product: "1. Name (Brand) - 9.99 USD - in-stock - 4.5/5 - id 12". */
char *catalog_mcp_render_list(json_t *products, const char *heading);

enum pw_err catalog_mcp_add_tools(struct pw_catalog_mcp *cm, struct pw_error *err);
enum pw_err catalog_mcp_add_export(struct pw_catalog_mcp *cm, struct pw_error *err);
enum pw_err catalog_mcp_add_resources(struct pw_catalog_mcp *cm, struct pw_error *err);
enum pw_err catalog_mcp_add_prompts(struct pw_catalog_mcp *cm, struct pw_error *err);

#endif
