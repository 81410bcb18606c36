/* Writes the seed corpus of the mon_cmd fuzz target: a few encoded monitor
 * commands (a pool create with every pool field, an OSD boot with uuid and
 * address, a key create), one file each, into the directory given. Run by
 * hand after a schema change:  fuzz_mon_cmd_gen_corpus tests/fuzz/corpus/mon_cmd */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mon.h"

static int write_cmd(const char *dir, const char *name, const struct proto_mon_cmd *c)
{
    char path[4096];
    uint8_t *buf;
    size_t len;

    if (proto_mon_cmd_encode(c, &buf, &len) != 0)
        return 1;
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
    return r;
}
