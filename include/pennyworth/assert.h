/*
 * Invariants of our own code: which thread runs a function, which lock it
 * holds, what a state machine may be in. PW_ASSERT is for our bugs only,
 * never for peer input (that gets a protocol error and the server goes on).
 *
 * Checked in debug builds, which include the sanitizer build CI runs the
 * whole suite on (PW_DEBUG, set by meson for buildtype debug*); compiled
 * out in release builds, where the expression is not evaluated. A failure
 * logs the expression and its place, then aborts, so the sanitizer or a
 * core file shows the stack.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_ASSERT_H
#define PENNYWORTH_ASSERT_H

#ifdef PW_DEBUG
#define PW_ASSERT(e) ((e) ? (void)0 : pw_assert_fail(#e, __FILE__, __LINE__, __func__))
#else
#define PW_ASSERT(e) ((void)0)
#endif

_Noreturn void pw_assert_fail(const char *expr, const char *file, int line, const char *func);

#endif
