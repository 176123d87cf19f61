/*
 * Fuzz target: catalog import (catalog/import.c and import_csv.c): the
 * format detection, the JSON array walker, JSON Lines, CSV, row
 * validation and the all-or-nothing transaction. The input is the file.
 *
 * Each input is imported into a fresh in-memory catalog (migrated, empty),
 * so that what one input imported never changes how the next one runs.
 * Diagnostics go to /dev/null. The buffer handed over is exactly the
 * input's bytes, not NUL-terminated, like the mapped file in production.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#include "catalog/catalog-int.h"

static FILE *diag;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    diag = fopen("/dev/null", "w");
    if (!diag)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pw_catalog *cat = NULL;
    struct pw_error err = {0};
    if (pw_catalog_open(":memory:", 0, &cat, &err) != PW_OK) {
        fprintf(stderr, "fuzz_catalog_import: %s\n", err.message);
        abort();
    }
    struct pw_import_report report = {0};
    catalog_import_buffer(cat, "fuzz", (const char *)data, size, diag, NULL, NULL, &report,
                          NULL);
    if (report.imported > report.rows || (report.bad && report.imported))
        abort();
    pw_catalog_close(cat);
    return 0;
}
