/*
 * The catalog served over MCP: registers the catalog's tools, resources,
 * prompts and completions on an MCP server, and turns catalog changes (from
 * this process or any other writing the same database) into
 * notifications/resources/updated for subscribed sessions.
 *
 * Tool handlers run on the engine's worker threads, each with its own
 * read-only SQLite connection; nothing here blocks the loop thread except
 * pw_catalog_mcp_poll(), which reads a counter from the WAL index.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_CATALOG_MCP_H
#define PENNYWORTH_CATALOG_MCP_H

#include "pennyworth/error.h"
#include "pennyworth/mcp.h"

/* How often the host loop should call pw_catalog_mcp_poll(). */
#define PW_CATALOG_MCP_POLL_MS 50

struct pw_catalog_mcp;

/* Registers everything on `srv` for the database at `db_path` (which must
 * exist and be migrated). *out is new: free it with pw_catalog_mcp_free
 * after pw_mcp_server_free (which joins the workers that use it). */
enum pw_err pw_catalog_mcp_register(struct pw_mcp_server *srv, const char *db_path,
                                    struct pw_catalog_mcp **out, struct pw_error *err);

/* Loop thread: notices changes since the last poll and notifies subscribers. */
void pw_catalog_mcp_poll(struct pw_catalog_mcp *cm);

void pw_catalog_mcp_free(struct pw_catalog_mcp *cm);

#endif
