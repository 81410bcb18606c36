/* usage_probe: what libcairn says about the cluster's capacity, for
 * cli_usage.sh to compare with `cairn status --json` and the OSDs' sizes:
 *
 *   usage_probe CONF POOL VOLUME
 *
 * Prints one JSON object: "usage" from cairn_cluster_usage() before and
 * after the statfs (null when unknown; the script compares only when both
 * agree, since beacons may land in between), and "statfs", the figures of
 * cairn_fs_statfs() on VOLUME of POOL. Exit 0 when every call worked
 * (-ENODATA from cairn_cluster_usage counts as working), 1 otherwise. */
#include "client/cairn_admin.h"
#include "client/fs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what, int r)
{
    fprintf(stderr, "usage_probe: %s: %s\n", what, strerror(-r));
    return 1;
}

/* One "usage" sample as JSON into @out. 0, or the error of the call. */
static int usage_json(struct cairn *c, char *out, size_t len)
{
    uint64_t total, used;
    int r = cairn_cluster_usage(c, &total, &used);

    if (r == -ENODATA) {
        snprintf(out, len, "null");
        return 0;
    }
    if (r == 0)
        snprintf(out, len, "{\"bytes_total\": %llu, \"bytes_used\": %llu}",
                 (unsigned long long)total, (unsigned long long)used);
    return r;
}

static int probe(struct cairn *c, int32_t pool, const char *volume)
{
    char before[128], after[128];
    struct cairn_fs *fs;
    struct statvfs sv;
    int r;

    if ((r = cairn_fs_open(c, pool, volume, &fs)) < 0)
        return fail("cairn_fs_open", r);
    if ((r = usage_json(c, before, sizeof(before))) < 0 || (r = cairn_fs_statfs(fs, &sv)) < 0 ||
        (r = usage_json(c, after, sizeof(after))) < 0) {
        cairn_fs_close(fs);
        return fail("usage or statfs", r);
    }
    cairn_fs_close(fs);
    printf("{\"usage_before\": %s, \"usage_after\": %s, \"statfs\": {\"bsize\": %lu, "
           "\"frsize\": %lu, \"blocks\": %llu, \"bfree\": %llu, \"bavail\": %llu, "
           "\"files\": %llu, \"ffree\": %llu, \"namemax\": %lu}}\n",
           before, after, (unsigned long)sv.f_bsize, (unsigned long)sv.f_frsize,
           (unsigned long long)sv.f_blocks, (unsigned long long)sv.f_bfree,
           (unsigned long long)sv.f_bavail, (unsigned long long)sv.f_files,
           (unsigned long long)sv.f_ffree, (unsigned long)sv.f_namemax);
    return 0;
}

int main(int argc, char **argv)
{
    struct cairn *c;
    int32_t pool;
    int r;

    if (argc != 4) {
        fprintf(stderr, "usage: usage_probe CONF POOL VOLUME\n");
        return 2;
    }
    if ((r = cairn_connect(argv[1], "client.admin", &c)) < 0)
        return fail("cairn_connect", r);
    if ((r = cairn_pool_lookup(c, argv[2], &pool)) < 0) {
        cairn_shutdown(c);
        return fail("cairn_pool_lookup", r);
    }
    int rc = probe(c, pool, argv[3]);
    cairn_shutdown(c);
    return rc;
}
