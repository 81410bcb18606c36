/* cairn-bench internals, in sections by defining file. Only the files of
 * tools/bench/ include this. */
#ifndef CAIRN_TOOLS_BENCH_INTERNAL_H
#define CAIRN_TOOLS_BENCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes shared by every subcommand. */
#define BENCH_EXIT_OK 0
#define BENCH_EXIT_FAIL 1
#define BENCH_EXIT_USAGE 2
#define BENCH_EXIT_SKIP 77 /* a required tool (fio) is missing */

/* ---- main.c ------------------------------------------------------------ */

/* Parses a size such as "4096", "256M" or "2G" (powers of 1024). 0 or -EINVAL. */
int bench_parse_size(const char *s, uint64_t *out);
/* Parses a non-negative decimal integer no larger than @max. 0 or -EINVAL. */
int bench_parse_uint(const char *s, unsigned max, unsigned *out);
/* Sorts @n samples ascending; the value at quantile @p (0..1) of sorted
 * samples (0 when there are none). */
void bench_sort(double *v, size_t n);
double bench_percentile(const double *sorted, size_t n, double p);

/* ---- bench_store.c ------------------------------------------------------- */

/* `cairn-bench store`: argv[0] is "store". Returns the process exit code. */
int bench_store_main(int argc, char **argv);
void bench_store_usage(FILE *out);

/* bench_mon.c: `cairn-bench mon` */
int bench_mon_main(int argc, char **argv);
void bench_mon_usage(FILE *out);

/* bench_image.c: `cairn-bench image` */
int bench_image_main(int argc, char **argv);
void bench_image_usage(FILE *out);

/* ---- fio.c ---------------------------------------------------------------- */

/* One fio job on one file, with one job process (numjobs=1). */
struct bench_fio_job {
    const char *fio;      /* path of the fio binary */
    const char *name;     /* job name */
    const char *filename; /* the file fio works on */
    uint64_t size_bytes;  /* file size */
    const char *ioengine; /* "io_uring" or "libaio" */
    const char *rw;       /* "randwrite", "write" or "read" */
    unsigned bs_bytes;    /* block size */
    unsigned iodepth;
    unsigned fdatasync;  /* fdatasync(2) after every this many writes (--fdatasync=N); 0: never */
    unsigned runtime_ms; /* measured time; 0: one pass over the file, untimed */
    unsigned ramp_ms;    /* warm-up before measuring (--ramp_time) */
};

/* What fio measured, for the read side (rw=read) or write side otherwise. */
struct bench_fio_result {
    double iops;     /* operations per second */
    double bw_bytes; /* bytes per second */
};

/* Finds fio: $CAIRN_FIO, else "fio" on $PATH. Writes its path to @path.
 * 0, or -ENOENT when there is none. */
int bench_fio_find(char *path, size_t cap);
/* Runs @job to completion and parses its JSON report. 0, or -errno with a
 * message printed (fio failed to start, exited non-zero, or its output had
 * no usable figures: -EBADMSG). */
int bench_fio_run(const struct bench_fio_job *job, struct bench_fio_result *res);

/* ---- json_min.c ------------------------------------------------------------ */

/* Finds the number at @path in the JSON document @json of @len bytes. @path
 * names object members and array indexes separated by '/', like
 * "jobs/0/write/iops"; member names are compared with the raw (unescaped)
 * key text. 0; -ENOENT when the path does not lead to a value; -EINVAL when
 * the document is malformed on the way or the value is not a number. */
int bench_json_number(const char *json, size_t len, const char *path, double *out);

#endif
