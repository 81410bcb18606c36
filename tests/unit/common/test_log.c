/* common/log: the rate limit for lines an outsider can trigger. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"

/* The log goes to a temp file the tests read back. */
static int log_fd = -1;
static char log_path[] = "/tmp/cairn-test-log.XXXXXX";

static int setup(void **state)
{
    (void)state;
    log_fd = mkstemp(log_path);
    if (log_fd < 0)
        return -1;
    cairn_log_set_fd(log_fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    close(log_fd);
    unlink(log_path);
    return 0;
}

static void read_log(char *buf, size_t len)
{
    ssize_t n = pread(log_fd, buf, len - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
}

static void test_log_limit_allows_per_second_then_counts(void **state)
{
    (void)state;
    struct cairn_log_limit limit;
    unsigned allowed;
    uint64_t window;

    /* Ten calls within one second: 3 allowed, 7 counted. A run that crossed
     * a second boundary (the window moved) is tried again. */
    for (int attempt = 0;; attempt++) {
        assert_true(attempt < 5);
        memset(&limit, 0, sizeof(limit));
        limit.per_s = 3;
        allowed = 0;
        for (int i = 0; i < 10; i++) {
            allowed += cairn_log_limit_allow(&limit, CAIRN_SS_OSD, "refused requests");
            if (i == 0)
                window = limit.window_s;
        }
        if (limit.window_s == window)
            break;
    }
    assert_int_equal(allowed, 3);
    assert_int_equal(limit.suppressed, 7);

    /* A new second: the count of the last one is logged, lines flow again. */
    limit.window_s -= 1;
    assert_true(cairn_log_limit_allow(&limit, CAIRN_SS_OSD, "refused requests"));
    assert_int_equal(limit.logged, 1);
    assert_int_equal(limit.suppressed, 0);
    char buf[4096];
    read_log(buf, sizeof(buf));
    assert_non_null(strstr(buf, "7 more refused requests not logged"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_limit_allows_per_second_then_counts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
