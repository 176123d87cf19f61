/*
 * The monotonic and wall clocks (include/pennyworth/clock.h), read with
 * clock_gettime; CLOCK_MONOTONIC cannot fail on Linux with a valid clock
 * id, so there is no error path.
 *
 * SPDX-License-Identifier: MIT
 */
#include "pennyworth/clock.h"

static int64_t read_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pw_clock_us(void) { return read_us(CLOCK_MONOTONIC); }

int64_t pw_clock_ms(void) { return read_us(CLOCK_MONOTONIC) / 1000; }

int64_t pw_clock_wall_ms(void) { return read_us(CLOCK_REALTIME) / 1000; }

struct timespec pw_clock_deadline(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}
