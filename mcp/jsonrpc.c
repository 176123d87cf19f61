/*
 * JSON-RPC 2.0 message builders and checks used by the MCP engine.
 *
 * Builders return new references and steal their `_new` arguments, so a
 * message can be assembled in one expression without leaks on failure.
 * Request ids are echoed exactly: the id object received is the id object
 * sent back (jansson keeps integers as 64-bit, strings as bytes).
 *
 * SPDX-License-Identifier: MIT
 */
#include "mcp/mcp-int.h"

json_t *mcp_error_object(int code, const char *message, json_t *data_new)
{
    json_t *e = json_pack("{s:i, s:s}", "code", code, "message", message ? message : "");
    if (e && data_new)
        json_object_set_new(e, "data", data_new);
    else
        json_decref(data_new);
    return e;
}

json_t *mcp_error_from(const struct pw_error *err)
{
    enum pw_err code = err ? err->code : PW_ERR_INTERNAL;
    const char *msg = err && err->message[0] ? err->message : pw_err_name(code);
    json_t *data = NULL;
    if (err && err->pointer[0])
        data = json_pack("{s:s}", "pointer", err->pointer);
    return mcp_error_object(pw_err_jsonrpc_code(code), msg, data);
}

json_t *mcp_response(json_t *id, json_t *result_new)
{
    json_t *m = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                          "result", result_new ? result_new : json_object());
    return m;
}

json_t *mcp_error_response(json_t *id, json_t *error_new)
{
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                     "error", error_new ? error_new : mcp_error_object(MCP_INTERNAL_ERROR,
                                                                       "internal error", NULL));
}

json_t *mcp_notification(const char *method, json_t *params_new)
{
    json_t *m = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
    if (m && params_new)
        json_object_set_new(m, "params", params_new);
    else
        json_decref(params_new);
    return m;
}

/* MCP narrows JSON-RPC ids to strings and integers; null is not allowed. */
bool mcp_valid_id(json_t *id)
{
    return id && (json_is_string(id) || json_is_integer(id));
}
