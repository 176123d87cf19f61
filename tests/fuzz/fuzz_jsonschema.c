/*
 * Fuzz target: the JSON Schema compiler and checker (core/jsonschema.c,
 * jsonschema_check.c). Schemas are ours in production, instances are the
 * peer's (tool arguments, configuration files); fuzzing both finds what
 * either can do to the other. The input is a schema JSON text followed
 * by an instance JSON text (a case of fixtures/jsonschema/valid: its
 * schema.json, then its instance.json); without a second text the
 * instance is null.
 *
 * Compiling and validating must agree with the one-shot
 * pw_jsonschema_check, and validating twice must give the same answer.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "pennyworth/jsonschema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *schema = json_loadb((const char *)data, size,
                                JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &je);
    if (!schema)
        return 0;
    size_t used = (size_t)je.position;
    json_t *instance = used < size ? json_loadb((const char *)data + used, size - used,
                                                JSON_DECODE_ANY, NULL)
                                   : NULL;
    if (!instance)
        instance = json_null();
    struct pw_error e1 = {0}, e2 = {0}, e3 = {0};
    struct pw_jsonschema *compiled = pw_jsonschema_compile(schema, NULL);
    if (compiled) {
        enum pw_err a = pw_jsonschema_validate(compiled, instance, &e1);
        enum pw_err b = pw_jsonschema_validate(compiled, instance, &e2);
        enum pw_err c = pw_jsonschema_check(schema, instance, &e3);
        if (a != b || a != c || strcmp(e1.message, e2.message) != 0 ||
            strcmp(e1.pointer, e3.pointer) != 0)
            abort();
        pw_jsonschema_free(compiled);
    }
    json_decref(instance);
    json_decref(schema);
    return 0;
}
