/* Log line formatting and output; see log.h. */
#include "common/log.h"
#include "common/assert.h"
#include "common/clock.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum cairn_log_level cairn__log_level = CAIRN_LOG_INFO;
bool cairn__log_debug[CAIRN_SS_COUNT];

static char entity[64] = "cairn";
static int log_fd = 2;

static const char *const subsys_names[CAIRN_SS_COUNT] = {
    [CAIRN_SS_MAIN] = "main",   [CAIRN_SS_CONFIG] = "config", [CAIRN_SS_PROTO] = "proto",
    [CAIRN_SS_MSGR] = "msgr",   [CAIRN_SS_STORE] = "store",   [CAIRN_SS_IO] = "io",
    [CAIRN_SS_OSD] = "osd",     [CAIRN_SS_MON] = "mon",       [CAIRN_SS_CLIENT] = "client",
    [CAIRN_SS_GATEWAY] = "gw",
};

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void cairn_log_set_entity(const char *name)
{
    snprintf(entity, sizeof(entity), "%s", name);
}

void cairn_log_set_level(enum cairn_log_level level)
{
    cairn__log_level = level;
}

void cairn_log_set_fd(int fd)
{
    log_fd = fd;
}

static int set_one_debug(const char *name, size_t len)
{
    if (len == 3 && strncmp(name, "all", 3) == 0) {
        for (int i = 0; i < CAIRN_SS_COUNT; i++)
            cairn__log_debug[i] = true;
        return 0;
    }
    for (int i = 0; i < CAIRN_SS_COUNT; i++) {
        if (strlen(subsys_names[i]) == len && strncmp(subsys_names[i], name, len) == 0) {
            cairn__log_debug[i] = true;
            return 0;
        }
    }
    return -EINVAL;
}

int cairn_log_set_debug(const char *subsystems)
{
    const char *p = subsystems;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len > 0 && set_one_debug(p, len) < 0)
            return -EINVAL;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

void cairn__log(enum cairn_log_level level, enum cairn_log_subsys ss, const char *fmt, ...)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    int saved_errno = errno;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s %s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000, entity, level_names[level],
                     subsys_names[ss]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(log_fd, line, len);
    (void)w;
    errno = saved_errno;
}

void cairn__assert_fail(const char *expr, const char *file, int line, const char *func)
{
    cairn__log(CAIRN_LOG_ERROR, CAIRN_SS_MAIN, "assertion failed: %s (%s:%d %s)", expr, file,
               line, func);
    abort();
}

bool cairn_log_limit_allow(struct cairn_log_limit *limit, enum cairn_log_subsys ss,
                           const char *what)
{
    uint64_t now_s = cairn_now_ns() / 1000000000u;

    if (now_s != limit->window_s) {
        if (limit->suppressed)
            cairn_log(CAIRN_LOG_WARN, ss, "%llu more %s not logged",
                      (unsigned long long)limit->suppressed, what);
        limit->window_s = now_s;
        limit->logged = limit->suppressed = 0;
    }
    if (limit->logged >= limit->per_s) {
        limit->suppressed++;
        return false;
    }
    limit->logged++;
    return true;
}

int cairn_fail(const char *prog, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAILURE;
}
