/* Writes the seed corpus of the mon_cmd fuzz target: a few encoded monitor
 * commands (a pool create with every pool field, an OSD boot with uuid and
 * address, a key create, a beacon with PG stats, a PG stats reply), one
 * file each, into the directory given. Run by
 * hand after a schema change:  fuzz_mon_cmd_gen_corpus tests/fuzz/corpus/mon_cmd */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mon.h"

static int write_buf(const char *dir, const char *name, uint8_t *buf, size_t len);

static int write_cmd(const char *dir, const char *name, const struct proto_mon_cmd *c)
{
    uint8_t *buf;
    size_t len;

    if (proto_mon_cmd_encode(c, &buf, &len) != 0)
        return 1;
    return write_buf(dir, name, buf, len);
}

/* Two PGs with every field set, and store usage; as a beacon of osd.1 and
 * as a reply. */
static int write_pg_stats(const char *dir)
{
    struct proto_pg_stat pgs[2] = {
        {.pool = 1, .ps = 0x1f, .state = PROTO_PGS_ACTIVE | PROTO_PGS_CLEAN, .epoch = 12,
         .last_update = (12ull << 32) | 7, .objects = 40, .last_scrub_ns = 1700000000000000000ull,
         .n_acting = 3, .acting = {1, 0, 2}},
        {.pool = 2, .ps = 3, .state = PROTO_PGS_ACTIVE | PROTO_PGS_DEGRADED | PROTO_PGS_RECOVERING,
         .epoch = 13, .objects = 9, .objects_missing = 4, .objects_recovered = 5, .n_acting = 2,
         .acting = {1, 2}},
    };
    struct proto_osd_usage usage[2] = {{.osd = 0, .bytes_total = 1ull << 30, .bytes_used = 4096},
                                       {.osd = 2, .bytes_total = 1ull << 30}};
    struct proto_pg_stats s = {.n = 2, .pgs = pgs, .beacon_ms = 1000, .objects_per_s = 2.5,
                               .has_store = true, .store = usage[0], .n_usage = 2,
                               .usage = usage};
    struct proto_mon_cmd c;
    uint8_t *buf;
    size_t len;

    proto_mon_cmd_init(&c, PROTO_MON_OSD_BEACON);
    c.id = 1;
    if (proto_mon_beacon_encode(&c, &s, &buf, &len) != 0 ||
        write_buf(dir, "beacon-pg-stats.bin", buf, len) != 0)
        return 1;
    if (proto_mon_pg_stats_encode(&s, &buf, &len) != 0)
        return 1;
    return write_buf(dir, "pg-stats-reply.bin", buf, len);
}

/* Writes and frees @buf. */
static int write_buf(const char *dir, const char *name, uint8_t *buf, size_t len)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    int r = !fp || fwrite(buf, 1, len, fp) != len;
    if (fp && fclose(fp) != 0)
        r = 1;
    if (r)
        perror(path);
    free(buf);
    return r;
}

int main(int argc, char **argv)
{
    struct proto_mon_cmd c;
    int r = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    proto_mon_cmd_init(&c, PROTO_MON_POOL_CREATE);
    strcpy(c.name, "rbd");
    c.size = 3;
    c.min_size = 2;
    c.pg_num = 128;
    c.failure_domain = PROTO_MON_FD_HOST;
    c.stamp_ns = 1700000000000000000ull;
    r |= write_cmd(argv[1], "pool-create.bin", &c);

    proto_mon_cmd_init(&c, PROTO_MON_OSD_BOOT);
    strcpy(c.name, "node1");
    strcpy(c.value, "10.0.0.1:6800");
    for (unsigned i = 0; i < sizeof(c.uuid); i++)
        c.uuid[i] = (uint8_t)(0x11 * i + 1);
    c.stamp_ns = 1700000000000000001ull;
    r |= write_cmd(argv[1], "osd-boot.bin", &c);

    proto_mon_cmd_init(&c, PROTO_MON_KEY_CREATE);
    strcpy(c.name, "client.admin");
    strcpy(c.value, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    r |= write_cmd(argv[1], "key-create.bin", &c);
    r |= write_pg_stats(argv[1]);
    return r;
}
