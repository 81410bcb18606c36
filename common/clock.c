/* Real clocks; see clock.h. */
#include "common/clock.h"

#include <time.h>

uint64_t cairn_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t cairn_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t real_now(void *ctx)
{
    (void)ctx;
    return cairn_now_ns();
}

const struct cairn_clock cairn_real_clock = {.now_ns = real_now, .ctx = 0};
