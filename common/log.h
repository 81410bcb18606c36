/* Leveled logging with per-subsystem debug switches. Every line carries the
 * process entity (e.g. "osd.3") and the subsystem. The level is checked
 * before any formatting, so disabled debug lines cost one branch.
 * Thread-safe: each line is written with one write(2). */
#ifndef CAIRN_COMMON_LOG_H
#define CAIRN_COMMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum cairn_log_level {
    CAIRN_LOG_ERROR = 0,
    CAIRN_LOG_WARN = 1,
    CAIRN_LOG_INFO = 2,
    CAIRN_LOG_DEBUG = 3,
};

/* Subsystems; debug output is switched on per subsystem. */
enum cairn_log_subsys {
    CAIRN_SS_MAIN = 0,
    CAIRN_SS_CONFIG,
    CAIRN_SS_PROTO,
    CAIRN_SS_MSGR,
    CAIRN_SS_STORE,
    CAIRN_SS_IO,
    CAIRN_SS_OSD,
    CAIRN_SS_MON,
    CAIRN_SS_CLIENT,
    CAIRN_SS_GATEWAY,
    CAIRN_SS_COUNT,
};

extern enum cairn_log_level cairn__log_level;
extern bool cairn__log_debug[CAIRN_SS_COUNT];

/* Sets the entity shown on every line ("osd.3"); copied. */
void cairn_log_set_entity(const char *entity);
/* Sets the level for all subsystems (debug lines still need the subsystem switch). */
void cairn_log_set_level(enum cairn_log_level level);
/* Switches debug output for one subsystem, or all of them with "all".
 * Accepts a comma-separated list such as "store,msgr". Returns 0 or -EINVAL. */
int cairn_log_set_debug(const char *subsystems);
/* Redirects output to @fd (default 2). */
void cairn_log_set_fd(int fd);

void cairn__log(enum cairn_log_level level, enum cairn_log_subsys ss, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline bool cairn_log_enabled(enum cairn_log_level level, enum cairn_log_subsys ss)
{
    if (level == CAIRN_LOG_DEBUG)
        return cairn__log_debug[ss];
    return level <= cairn__log_level;
}

#define cairn_log(level, ss, ...)                                                          \
    do {                                                                                   \
        if (cairn_log_enabled(level, ss))                                                  \
            cairn__log(level, ss, __VA_ARGS__);                                            \
    } while (0)

/* A rate limit for lines an outsider can trigger (refused input): at most
 * per_s lines a second, then one line saying how many were left out. Zero
 * the struct and set per_s; one per call site, on one thread. */
struct cairn_log_limit {
    unsigned per_s;
    uint64_t window_s, logged, suppressed;
};
/* True when a line may be logged now. At the start of a new second, first
 * logs (at WARN, in @ss) how many lines of @what the last second left out. */
bool cairn_log_limit_allow(struct cairn_log_limit *limit, enum cairn_log_subsys ss,
                           const char *what);

/* A program's failure, for its main: prints "PROG: MESSAGE" and a newline on
 * stderr and returns EXIT_FAILURE (1), the operator contract's "operation
 * failed" status. Not a log line: it is for the person who ran PROG. */
int cairn_fail(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
