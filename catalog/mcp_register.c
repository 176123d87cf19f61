/*
 * The catalog's MCP tool set: registration, per-thread connections, product
 * rendering, and the change watcher that turns catalog changes into
 * notifications/resources/updated.
 *
 * The watcher reads the catalog's change log on the loop thread every
 * PW_CATALOG_MCP_POLL_MS; that read is an index range scan on a WAL
 * database and never waits for writers. Any process may write the catalog
 * (a re-import, the CLI, the admin API): subscribers hear of it all the same.
 *
 * SPDX-License-Identifier: MIT
 */
#include "catalog/mcp-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pennyworth/buf.h"
#include "pennyworth/log.h"

struct pw_catalog *catalog_mcp_conn(struct pw_catalog_mcp *cm, struct pw_error *err)
{
    struct pw_catalog *cat = pthread_getspecific(cm->key);
    if (cat)
        return cat;
    if (pw_catalog_open(cm->db_path, PW_CATALOG_READONLY, &cat, err) != PW_OK)
        return NULL;
    pthread_mutex_lock(&cm->lock);
    struct pw_catalog **conns = realloc(cm->conns, (cm->nconns + 1) * sizeof *conns);
    if (conns) {
        cm->conns = conns;
        cm->conns[cm->nconns++] = cat;
    }
    pthread_mutex_unlock(&cm->lock);
    if (!conns) {
        pw_catalog_close(cat);
        pw_error_set(err, PW_ERR_NOMEM, NULL, "catalog: out of memory");
        return NULL;
    }
    pthread_setspecific(cm->key, cat);
    return cat;
}

static const char *str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

static const char *price(json_t *p)
{
    return str(json_object_get(p, "price"), "formatted");
}

/* Out of memory while rendering gives "" (or NULL if even that fails): the
 * structured content still carries the product. */
static char *rendered(struct pw_buf *b)
{
    char *s = pw_buf_take(b);
    return s ? s : strdup("");
}

char *catalog_mcp_render_product(json_t *p)
{
    struct pw_buf b = {0};
    const char *brand = str(p, "brand");
    pw_buf_appendf(&b, "%s%s%s\n", str(p, "name"), *brand ? " by " : "", brand);
    pw_buf_appendf(&b, "id %s, sku %s, category %s\n", str(p, "id"), str(p, "sku"),
                   str(p, "category"));
    pw_buf_appendf(&b, "price %s, %s (stock %" JSON_INTEGER_FORMAT "), rating %.2f/5\n",
                   price(p), str(p, "availability"),
                   json_integer_value(json_object_get(p, "stock")),
                   json_number_value(json_object_get(p, "rating")));
    pw_buf_append_str(&b, str(p, "description"));
    return rendered(&b);
}

char *catalog_mcp_render_list(json_t *products, const char *heading)
{
    struct pw_buf b = {0};
    size_t i;
    json_t *p;
    pw_buf_append_str(&b, heading);
    json_array_foreach(products, i, p) {
        const char *brand = str(p, "brand");
        pw_buf_appendf(&b, "\n%zu. %s%s%s%s - %s - %s - %.1f/5 - id %s", i + 1,
                       str(p, "name"), *brand ? " (" : "", brand, *brand ? ")" : "", price(p),
                       str(p, "availability"), json_number_value(json_object_get(p, "rating")),
                       str(p, "id"));
    }
    return rendered(&b);
}

enum pw_err pw_catalog_mcp_register(struct pw_mcp_server *srv, const char *db_path,
                                    struct pw_catalog_mcp **out, struct pw_error *err)
{
    struct pw_catalog_mcp *cm = calloc(1, sizeof *cm);
    if (!cm || !(cm->db_path = strdup(db_path))) {
        free(cm);
        return pw_error_set(err, PW_ERR_NOMEM, NULL, "catalog: out of memory");
    }
    cm->srv = srv;
    pthread_key_create(&cm->key, NULL);
    pthread_mutex_init(&cm->lock, NULL);
    enum pw_err rc = pw_catalog_open(db_path, PW_CATALOG_READONLY, &cm->watch, err);
    if (rc == PW_OK)
        cm->seq = pw_catalog_change_seq(cm->watch);
    if (rc == PW_OK)
        rc = catalog_mcp_add_tools(cm, err);
    if (rc == PW_OK)
        rc = catalog_mcp_add_export(cm, err);
    if (rc == PW_OK)
        rc = catalog_mcp_add_resources(cm, err);
    if (rc == PW_OK)
        rc = catalog_mcp_add_prompts(cm, err);
    if (rc != PW_OK) {
        pw_catalog_mcp_free(cm);
        return rc;
    }
    *out = cm;
    return PW_OK;
}

static void changed(void *ud, const char *id)
{
    struct pw_catalog_mcp *cm = ud;
    char uri[256];
    snprintf(uri, sizeof uri, "catalog://products/%s", id);
    pw_mcp_server_resource_updated(cm->srv, uri);
}

void pw_catalog_mcp_poll(struct pw_catalog_mcp *cm)
{
    struct pw_error err = {0};
    int64_t before = cm->seq;
    if (pw_catalog_changes_since(cm->watch, &cm->seq, changed, cm, &err) != PW_OK) {
        pw_warn("catalog: reading the change log failed: %s", err.message);
        return;
    }
    if (cm->seq != before) {
        pw_mcp_server_resource_updated(cm->srv, "catalog://stats");
        pw_mcp_server_resource_updated(cm->srv, "catalog://categories");
    }
}

void pw_catalog_mcp_free(struct pw_catalog_mcp *cm)
{
    if (!cm)
        return;
    for (size_t i = 0; i < cm->nconns; i++)
        pw_catalog_close(cm->conns[i]);
    free(cm->conns);
    pw_catalog_close(cm->watch);
    pthread_key_delete(cm->key);
    pthread_mutex_destroy(&cm->lock);
    free(cm->db_path);
    free(cm);
}
