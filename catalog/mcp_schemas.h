/*
 * JSON Schemas of the catalog tools' outputs, as C string fragments so a
 * tool's outputSchema can embed the product schema without repeating it.
 * They describe exactly the shape include/pennyworth/catalog.h documents.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PW_CATALOG_MCP_SCHEMAS_H
#define PW_CATALOG_MCP_SCHEMAS_H

#define CATALOG_PRODUCT_SCHEMA                                                             \
    "{\"type\":\"object\",\"required\":[\"id\",\"name\",\"category\",\"price\","            \
    "\"availability\",\"stock\"],\"properties\":{"                                         \
    "\"id\":{\"type\":\"string\"},\"sku\":{\"type\":[\"string\",\"null\"]},"               \
    "\"name\":{\"type\":\"string\"},\"brand\":{\"type\":[\"string\",\"null\"]},"           \
    "\"category\":{\"type\":\"string\"},"                                                   \
    "\"price\":{\"type\":\"object\",\"required\":[\"amountMinor\",\"currency\"],"           \
    "\"properties\":{\"amountMinor\":{\"type\":\"integer\"},\"currency\":{\"type\":"        \
    "\"string\"},\"formatted\":{\"type\":\"string\"}}},"                                    \
    "\"availability\":{\"enum\":[\"in-stock\",\"limited\",\"out-of-stock\"]},"             \
    "\"stock\":{\"type\":\"integer\"},\"rating\":{\"type\":\"number\"},"                   \
    "\"description\":{\"type\":\"string\"},\"tags\":{\"type\":\"array\",\"items\":"        \
    "{\"type\":\"string\"}},\"attributes\":{\"type\":\"object\"},"                          \
    "\"updatedAt\":{\"type\":\"string\"}}}"

#define CATALOG_PRODUCT_LIST_SCHEMA \
    "{\"type\":\"array\",\"items\":" CATALOG_PRODUCT_SCHEMA "}"

#endif
