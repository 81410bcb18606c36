/* cairn-bench: benchmarks of Cairn components, one subcommand each
 * (`cairn-bench store`; later `mon`, ...). This file parses the command
 * line down to the subcommand and holds the option parsers they share. */
#include "tools/bench/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct subcommand {
    const char *name;
    const char *summary;
    int (*main)(int argc, char **argv); /* argv[0] is the subcommand */
    void (*usage)(FILE *out);
};


static const struct subcommand subcommands[] = {
    {"store", "the object store engine against fio on the same disk", bench_store_main,
     bench_store_usage},
    {"mon", "map-change commit latency and throughput of a running cluster", bench_mon_main,
     bench_mon_usage},
    {"image", "block image I/O through libcairn on a running cluster", bench_image_main,
     bench_image_usage},
};

#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *out)
{
    fprintf(out, "usage: cairn-bench SUBCOMMAND [OPTIONS]\n"
                 "       cairn-bench SUBCOMMAND --help\n\nSubcommands:\n");
    for (size_t i = 0; i < N_SUBCOMMANDS; i++)
        fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out, "\nExit status: 0 ok, 1 the benchmark failed, 2 usage error, "
                 "77 a required tool is missing.\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void bench_sort(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
}

double bench_percentile(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

int bench_parse_uint(const char *s, unsigned max, unsigned *out)
{
    unsigned long v;
    char *end;

    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (*end || errno || v > max)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

int bench_parse_size(const char *s, uint64_t *out)
{
    unsigned long long v;
    unsigned shift = 0;
    char *end;

    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -EINVAL;
    switch (*end) {
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    case 't':
    case 'T':
        shift = 40;
        end++;
        break;
    default:
        break;
    }
    if (*end == 'i' && shift)
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return BENCH_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return BENCH_EXIT_OK;
    }
    for (size_t i = 0; i < N_SUBCOMMANDS; i++)
        if (!strcmp(argv[1], subcommands[i].name))
            return subcommands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "cairn-bench: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return BENCH_EXIT_USAGE;
}
