/* The daemon's store lock (osd/lockfile.c): a live holder refuses at once
 * with its pid; a holder whose main thread already exited while another
 * thread still holds the lock (what a kill -9 leaves for a moment) is
 * waited for. Real processes: a forked child holds the lock. */
#include "osd/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static char lock_path[64];

static void *hold_then_exit(void *arg)
{
    usleep((useconds_t)(uintptr_t)arg * 1000u);
    _exit(0);
}

/* A child that flocks the file and writes its pid; with @exit_main_after_ms
 * its main thread exits while a second thread keeps the lock that long. */
static pid_t spawn_holder(int exit_main_after_ms)
{
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(lock_path, O_RDWR | O_CREAT, 0644);
        char buf[32];
        int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
        if (fd < 0 || flock(fd, LOCK_EX) < 0 || pwrite(fd, buf, (size_t)len, 0) != len)
            _exit(1);
        (void)!write(ready[1], "x", 1);
        if (exit_main_after_ms <= 0) {
            pause();
            _exit(0);
        }
        pthread_t t;
        pthread_create(&t, NULL, hold_then_exit, (void *)(uintptr_t)exit_main_after_ms);
        pthread_exit(NULL); /* the main thread goes; the process and its lock stay */
    }
    char c;
    close(ready[1]);
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    return pid;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits (5 s at most) until @pid's main thread is a zombie. */
static bool main_thread_exited(pid_t pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    for (int i = 0; i < 500; i++, usleep(10000)) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = '\0';
        const char *end = strrchr(buf, ')');
        if (end && end[1] == ' ' && end[2] == 'Z')
            return true;
    }
    return false;
}

static void test_live_holder_refuses_at_once(void **state)
{
    (void)state;
    pid_t child = spawn_holder(0);
    int fd = open(lock_path, O_RDWR);
    char pid[32], want[32];
    snprintf(want, sizeof(want), "%ld", (long)child);
    double t0 = now_s();
    assert_int_equal(osd__lock_store(fd, pid), -EBUSY);
    assert_true(now_s() - t0 < 1.0);
    assert_string_equal(pid, want);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    assert_int_equal(osd__lock_store(fd, pid), 0); /* released with the process */
    close(fd);
}

static void test_exiting_holder_is_waited_for(void **state)
{
    (void)state;
    pid_t child = spawn_holder(600);
    int fd = open(lock_path, O_RDWR);
    char pid[32];
    assert_true(main_thread_exited(child));
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1); /* held... */
    double t0 = now_s();
    assert_int_equal(osd__lock_store(fd, pid), 0); /* ...until the last thread went */
    assert_true(now_s() - t0 < 10.0);
    waitpid(child, NULL, 0);
    close(fd);
}

static int setup(void **state)
{
    (void)state;
    snprintf(lock_path, sizeof(lock_path), "/tmp/cairn-osd-lock-%ld", (long)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(lock_path);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_live_holder_refuses_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exiting_holder_is_waited_for, setup, teardown),
    };
    return cmocka_run_group_tests_name("osd_lock", tests, NULL, NULL);
}
