/* Test helper: drive a libevent loop until a condition holds or a deadline
 * passes (no sleep-and-hope). Shared by the tests of event-driven modules. */
#ifndef CAIRN_TESTS_SUPPORT_EVLOOP_H
#define CAIRN_TESTS_SUPPORT_EVLOOP_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/clock.h"

typedef bool (*pred_fn)(void *arg);

/* Runs @base one turn at a time until @pred(@arg) is true (returns true) or
 * @ms milliseconds have passed (returns false). */
static inline bool t_loop_until(struct event_base *base, pred_fn pred, void *arg, unsigned ms)
{
    uint64_t deadline = cairn_now_ns() + (uint64_t)ms * 1000000u;

    while (!pred(arg)) {
        if (cairn_now_ns() > deadline)
            return false;
        event_base_loop(base, EVLOOP_ONCE);
    }
    return true;
}

#endif
