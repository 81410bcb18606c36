/* Time sources. Cores never read the clock themselves: they get a
 * struct cairn_clock, so tests and simulations can drive time. */
#ifndef CAIRN_COMMON_CLOCK_H
#define CAIRN_COMMON_CLOCK_H

#include <stdint.h>

struct cairn_clock {
    /* Monotonic nanoseconds; never goes backwards. */
    uint64_t (*now_ns)(void *ctx);
    void *ctx;
};

/* The real monotonic clock (CLOCK_MONOTONIC). */
uint64_t cairn_now_ns(void);
/* Wall-clock nanoseconds since the epoch (CLOCK_REALTIME), for timestamps only. */
uint64_t cairn_wall_ns(void);
/* A struct cairn_clock over cairn_now_ns. */
extern const struct cairn_clock cairn_real_clock;

static inline uint64_t cairn_clock_now_ns(const struct cairn_clock *c)
{
    return c->now_ns(c->ctx);
}

#endif
