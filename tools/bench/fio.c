/* Runs fio as a child process and reads its figures from the JSON report
 * (--output-format=json), for benchmarks that compare a Cairn component with
 * the raw device. fio's stderr goes to ours; its stdout is captured. */
#define _GNU_SOURCE
#include "tools/bench/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIO_OUTPUT_MAX (16u << 20) /* bytes of JSON we accept */
#define FIO_ARGS_MAX 24
#define FIO_ARG_LEN 256

int bench_fio_find(char *path, size_t cap)
{
    const char *env = getenv("CAIRN_FIO"), *dirs = getenv("PATH");

    if (env && *env) {
        snprintf(path, cap, "%s", env);
        return access(path, X_OK) == 0 ? 0 : -ENOENT;
    }
    for (const char *d = dirs ? dirs : "/usr/bin:/bin"; *d;) {
        size_t n = strcspn(d, ":");

        snprintf(path, cap, "%.*s/fio", (int)n, d);
        if (n > 0 && access(path, X_OK) == 0)
            return 0;
        d += n + (d[n] == ':');
    }
    return -ENOENT;
}

/* The fio command line for @job, in @args (FIO_ARGS_MAX strings of FIO_ARG_LEN). */
static int build_args(const struct bench_fio_job *job, char args[][FIO_ARG_LEN], char **argv)
{
    int n = 0;

#define ARG(...) snprintf(args[n], FIO_ARG_LEN, __VA_ARGS__), argv[n] = args[n], n++
    ARG("%s", job->fio);
    ARG("--output-format=json");
    ARG("--name=%s", job->name);
    ARG("--filename=%s", job->filename);
    ARG("--size=%" PRIu64, job->size_bytes);
    ARG("--ioengine=%s", job->ioengine);
    ARG("--direct=1");
    ARG("--rw=%s", job->rw);
    ARG("--bs=%u", job->bs_bytes);
    ARG("--iodepth=%u", job->iodepth);
    ARG("--numjobs=1");
    ARG("--randrepeat=0");
    ARG("--norandommap");
    ARG("--fallocate=none");
    if (job->fdatasync)
        ARG("--fdatasync=%u", job->fdatasync);
    if (job->runtime_ms) {
        ARG("--time_based");
        ARG("--runtime=%ums", job->runtime_ms);
        ARG("--ramp_time=%ums", job->ramp_ms);
    }
#undef ARG
    argv[n] = NULL;
    return n;
}

/* Reads all of @fd into a NUL-terminated heap buffer. */
static int read_all(int fd, char **out, size_t *out_len)
{
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap), *nbuf;
    ssize_t n;

    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (len + 1 == cap) {
            if (cap >= FIO_OUTPUT_MAX) {
                free(buf);
                return -EFBIG;
            }
            nbuf = realloc(buf, cap * 2);
            if (!nbuf) {
                free(buf);
                return -ENOMEM;
            }
            buf = nbuf;
            cap *= 2;
        }
        n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return n < 0 ? (free(buf), -errno) : 0;
}

/* Runs fio with @argv; its stdout lands in *@out (free it). */
static int run_capture(char **argv, char **out, size_t *out_len)
{
    int fds[2], status = 0, rc;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        rc = -errno;
        close(fds[0]);
        close(fds[1]);
        return rc;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        execv(argv[0], argv);
        fprintf(stderr, "cairn-bench: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    rc = read_all(fds[0], out, out_len);
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        fprintf(stderr, "cairn-bench: fio failed (status 0x%x)\n", status);
        free(*out);
        rc = -EIO;
    }
    return rc;
}

static int parse_report(const struct bench_fio_job *job, const char *out, size_t len,
                        struct bench_fio_result *res)
{
    const char *side = strcmp(job->rw, "read") == 0 || strcmp(job->rw, "randread") == 0
                           ? "jobs/0/read/"
                           : "jobs/0/write/";
    /* fio may print notices before the report: start at the first '{' of a line. */
    const char *json = out[0] == '{' ? out : strstr(out, "\n{");
    char path[64];
    double error = 0;
    int rc;

    if (!json) {
        fprintf(stderr, "cairn-bench: no JSON in fio's output\n");
        return -EBADMSG;
    }
    len -= (size_t)(json - out);
    rc = bench_json_number(json, len, "jobs/0/error", &error);
    snprintf(path, sizeof(path), "%siops", side);
    if (rc == 0)
        rc = bench_json_number(json, len, path, &res->iops);
    snprintf(path, sizeof(path), "%sbw_bytes", side);
    if (rc == 0)
        rc = bench_json_number(json, len, path, &res->bw_bytes);
    if (rc < 0 || error != 0) {
        fprintf(stderr, "cairn-bench: fio report for %s: %s (job error %g)\n", job->name,
                rc < 0 ? strerror(-rc) : "ok", error);
        return -EBADMSG;
    }
    return 0;
}

int bench_fio_run(const struct bench_fio_job *job, struct bench_fio_result *res)
{
    char args[FIO_ARGS_MAX][FIO_ARG_LEN];
    char *argv[FIO_ARGS_MAX + 1];
    char *out = NULL;
    size_t len = 0;
    int rc;

    build_args(job, args, argv);
    rc = run_capture(argv, &out, &len);
    if (rc < 0) {
        fprintf(stderr, "cairn-bench: running fio job %s: %s\n", job->name, strerror(-rc));
        return rc;
    }
    rc = parse_report(job, out, len, res);
    free(out);
    return rc;
}
