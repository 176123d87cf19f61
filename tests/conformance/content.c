/*
 * Content items shared by the conformance fixtures: text, a tiny PNG image
 * and embedded text resources, in the shapes of the MCP schema's
 * ContentBlock. The image is a 1x1 red pixel, small enough to keep every
 * message readable in the suite's logs.
 *
 * SPDX-License-Identifier: MIT
 */
#include "tests/conformance/conformance.h"

const char conf_png_base64[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5Er"
    "kJggg==";

json_t *conf_text(const char *text)
{
    return json_pack("{s:s, s:s}", "type", "text", "text", text);
}

json_t *conf_image(void)
{
    return json_pack("{s:s, s:s, s:s}", "type", "image", "data", conf_png_base64, "mimeType",
                     "image/png");
}

json_t *conf_embedded_text(const char *uri, const char *mime_type, const char *text)
{
    return json_pack("{s:s, s:{s:s, s:s, s:s}}", "type", "resource", "resource", "uri", uri,
                     "mimeType", mime_type, "text", text);
}
