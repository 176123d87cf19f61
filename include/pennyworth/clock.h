/*
 * The one clock of the code base. Durations, deadlines and timeouts use the
 * monotonic clock (never steps back when the wall clock is set); records
 * that people read (usage rows, log lines, expiry dates) use the wall
 * clock. Every module reads time through these, so a duration measured in
 * one module and compared in another agrees on units and origin.
 *
 * Threads: any. No state.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PENNYWORTH_CLOCK_H
#define PENNYWORTH_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic time in microseconds / milliseconds (arbitrary origin). */
int64_t pw_clock_us(void);
int64_t pw_clock_ms(void);

/* Wall-clock time since the Unix epoch, milliseconds. */
int64_t pw_clock_wall_ms(void);

/* The monotonic timespec `ms` milliseconds from now, for
 * pthread_cond_timedwait on a condition variable whose clock is
 * CLOCK_MONOTONIC (pthread_condattr_setclock). */
struct timespec pw_clock_deadline(int64_t ms);

#endif
