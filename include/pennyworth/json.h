/*
 * JSON conventions shared by every module that puts JSON on a wire or in a
 * file: one set of dump flags, so that the same value prints the same way
 * everywhere (compact, and doubles with 15 significant digits so that a
 * rating stored as 4.56 prints as 4.56, not 4.5599999999999996).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_JSON_H
#define PENNYWORTH_JSON_H

#include <jansson.h>

/* Flags for json_dumps/json_dumpb of anything sent to a peer or stored. */
#define PW_JSON_WIRE (JSON_COMPACT | JSON_REAL_PRECISION(15))

#endif
