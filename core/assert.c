/*
 * The failure path of PW_ASSERT (include/pennyworth/assert.h): one log
 * line naming the broken invariant, then abort().
 *
 * SPDX-License-Identifier: MIT
 */
#include "pennyworth/assert.h"

#include <stdlib.h>

#include "pennyworth/log.h"

void pw_assert_fail(const char *expr, const char *file, int line, const char *func)
{
    pw_errorlog("invariant broken: %s (%s:%d, %s)", expr, file, line, func);
    abort();
}
