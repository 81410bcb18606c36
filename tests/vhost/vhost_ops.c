/* vhost_ops: every virtio-blk request type against a vhost-user-blk
 * back-end, with its effect checked (tests/vhost/test_hostile_cairn.sh
 * runs it on cairn-vhost):
 *   the config (capacity, blk_size, seg_max, discard and write-zeroes
 *   limits) and, with --read-only, the RO feature;
 *   GET_ID returns the image name;
 *   OUT then IN returns the pattern; WRITE_ZEROES (without and with unmap)
 *   and DISCARD make their ranges read as zeros and leave the rest;
 *   FLUSH succeeds;
 *   with --read-only, OUT, DISCARD and WRITE_ZEROES fail with IOERR and
 *   nothing changes, while IN and FLUSH work.
 * Usage: vhost_ops --socket PATH --id NAME --size BYTES [--read-only]
 * Exit: 0 pass, 1 a check failed, 2 usage, 77 nobody listens. */
#define _GNU_SOURCE
#include "frontend.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE_SECTOR 4096u  /* 2 MiB into the disk */
#define SPAN_SECTORS 256u  /* 128 KiB of pattern */

static int failures;

#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "vhost_ops: FAIL: " __VA_ARGS__);                                   \
            fputc('\n', stderr);                                                                \
            failures++;                                                                         \
        }                                                                                       \
    } while (0)

struct ctx {
    struct vfe fe;
    struct vfe_queue *q;
    struct vfe_buf data;  /* SPAN_SECTORS * 512 bytes */
    struct vfe_buf seg;   /* one discard/write-zeroes segment */
};

/* One request on @len bytes of c->data (or of c->seg for DISCARD and
 * WRITE_ZEROES); returns the status byte, or -1 when it did not complete. */
static int run(struct ctx *c, uint32_t type, uint64_t sector, uint32_t len)
{
    bool ranged = type == VFE_BLK_T_DISCARD || type == VFE_BLK_T_WRITE_ZEROES;
    struct vfe_seg s = {ranged ? c->seg.gpa : c->data.gpa, ranged ? 16 : len};
    struct vfe_req r = {.type = type, .sector = sector, .segs = &s, .nsegs = s.len ? 1 : 0};
    struct vfe_cpl cpl;

    if (vfe_do(c->q, &r, &cpl) < 0) {
        fprintf(stderr, "vhost_ops: request type %u: %s\n", type, c->fe.err);
        return -1;
    }
    return cpl.status;
}

/* DISCARD / WRITE_ZEROES of [@sector, +@n) with @flags. */
static int range_op(struct ctx *c, uint32_t type, uint64_t sector, uint32_t n, uint32_t flags)
{
    memcpy(c->seg.ptr, &sector, 8);
    memcpy(c->seg.ptr + 8, &n, 4);
    memcpy(c->seg.ptr + 12, &flags, 4);
    return run(c, type, sector, 0);
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 9));
}

static bool all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return false;
    return true;
}

/* Reads the span back and checks it is @want with sectors [z0, z1) zero. */
static void expect_span(struct ctx *c, const uint8_t *want, unsigned z0, unsigned z1,
                        const char *what)
{
    size_t len = (size_t)SPAN_SECTORS * 512;

    memset(c->data.ptr, 0xee, len);
    CHECK(run(c, VFE_BLK_T_IN, BASE_SECTOR, (uint32_t)len) == VFE_BLK_S_OK, "%s: read", what);
    for (unsigned s = 0; s < SPAN_SECTORS; s++) {
        const uint8_t *got = c->data.ptr + (size_t)s * 512;
        if (s >= z0 && s < z1)
            CHECK(all_zero(got, 512), "%s: sector +%u is not zero", what, s);
        else
            CHECK(memcmp(got, want + (size_t)s * 512, 512) == 0, "%s: sector +%u differs", what,
                  s);
    }
}

static void check_config(struct ctx *c, uint64_t size, bool ro)
{
    const struct vfe_blk_config *cfg = &c->fe.cfg;

    CHECK(cfg->capacity_sectors == size / 512, "capacity %llu sectors, want %llu",
          (unsigned long long)cfg->capacity_sectors, (unsigned long long)(size / 512));
    CHECK(cfg->blk_size == 512, "blk_size %u", cfg->blk_size);
    CHECK(cfg->seg_max == 126, "seg_max %u", cfg->seg_max);
    CHECK(cfg->max_discard_seg == 1 && cfg->max_discard_sectors > 0, "discard limits %u/%u",
          cfg->max_discard_seg, cfg->max_discard_sectors);
    CHECK(cfg->max_write_zeroes_seg == 1 && cfg->max_write_zeroes_sectors > 0,
          "write-zeroes limits %u/%u", cfg->max_write_zeroes_seg, cfg->max_write_zeroes_sectors);
    CHECK(!!(c->fe.features & (1ull << VFE_F_BLK_RO)) == ro, "RO feature %s",
          ro ? "missing" : "offered");
}

static void check_get_id(struct ctx *c, const char *id)
{
    char got[21] = "";

    memset(c->data.ptr, 0xee, 20);
    CHECK(run(c, VFE_BLK_T_GET_ID, 0, 20) == VFE_BLK_S_OK, "GET_ID");
    memcpy(got, c->data.ptr, 20);
    CHECK(strncmp(got, id, 20) == 0, "GET_ID returned '%.20s', want '%.20s'", got, id);
}

static void check_writable(struct ctx *c, uint8_t *want)
{
    size_t len = (size_t)SPAN_SECTORS * 512;

    fill(want, len, 1);
    memcpy(c->data.ptr, want, len);
    CHECK(run(c, VFE_BLK_T_OUT, BASE_SECTOR, (uint32_t)len) == VFE_BLK_S_OK, "write");
    expect_span(c, want, 0, 0, "after the write");
    CHECK(range_op(c, VFE_BLK_T_WRITE_ZEROES, BASE_SECTOR + 16, 16, 0) == VFE_BLK_S_OK,
          "write zeroes");
    expect_span(c, want, 16, 32, "after write zeroes");
    memset(want + 16 * 512, 0, 16 * 512);
    CHECK(range_op(c, VFE_BLK_T_WRITE_ZEROES, BASE_SECTOR + 40, 8, 1) == VFE_BLK_S_OK,
          "write zeroes with unmap");
    expect_span(c, want, 40, 48, "after write zeroes with unmap");
    memset(want + 40 * 512, 0, 8 * 512);
    CHECK(range_op(c, VFE_BLK_T_DISCARD, BASE_SECTOR + 128, 64, 0) == VFE_BLK_S_OK, "discard");
    expect_span(c, want, 128, 192, "after discard");
    CHECK(range_op(c, VFE_BLK_T_DISCARD, BASE_SECTOR, 8, 1) == 2 /* UNSUPP */,
          "discard with the unmap flag is not UNSUPP");
    CHECK(run(c, VFE_BLK_T_FLUSH, 0, 0) == VFE_BLK_S_OK, "flush");
}

static void check_read_only(struct ctx *c, uint8_t *want)
{
    size_t len = (size_t)SPAN_SECTORS * 512;

    CHECK(run(c, VFE_BLK_T_IN, BASE_SECTOR, (uint32_t)len) == VFE_BLK_S_OK, "read");
    memcpy(want, c->data.ptr, len);
    fill(c->data.ptr, len, 2);
    CHECK(run(c, VFE_BLK_T_OUT, BASE_SECTOR, (uint32_t)len) == VFE_BLK_S_IOERR,
          "a write to a read-only device is not IOERR");
    CHECK(range_op(c, VFE_BLK_T_WRITE_ZEROES, BASE_SECTOR, 8, 0) == VFE_BLK_S_IOERR,
          "write zeroes on a read-only device is not IOERR");
    CHECK(range_op(c, VFE_BLK_T_DISCARD, BASE_SECTOR, 8, 0) == VFE_BLK_S_IOERR,
          "discard on a read-only device is not IOERR");
    expect_span(c, want, 0, 0, "read-only, after refused writes");
    CHECK(run(c, VFE_BLK_T_FLUSH, 0, 0) == VFE_BLK_S_OK, "flush");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'}, {"id", required_argument, NULL, 'i'},
        {"size", required_argument, NULL, 'z'},   {"read-only", no_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    const char *sock = NULL, *id = NULL;
    uint64_t size = 0;
    bool ro = false;
    struct ctx c = {0};
    struct vfe_opts o;
    uint8_t *want;
    int opt, r;

    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': sock = optarg; break;
        case 'i': id = optarg; break;
        case 'z': size = strtoull(optarg, NULL, 0); break;
        case 'r': ro = true; break;
        default: return 2;
        }
    }
    if (!sock || !id || size < (BASE_SECTOR + SPAN_SECTORS) * 512ull) {
        fprintf(stderr, "usage: vhost_ops --socket PATH --id NAME --size BYTES [--read-only]\n");
        return 2;
    }
    vfe_opts_default(&o, sock);
    if ((r = vfe_open(&c.fe, &o)) < 0) {
        fprintf(stderr, "vhost_ops: %s\n", c.fe.err);
        return r == -ENOENT || r == -ECONNREFUSED ? 77 : 1;
    }
    c.q = &c.fe.q[0];
    if (vfe_mem_alloc(&c.fe, (uint64_t)SPAN_SECTORS * 512, 4096, &c.data) < 0 ||
        vfe_mem_alloc(&c.fe, 16, 16, &c.seg) < 0 || !(want = malloc(SPAN_SECTORS * 512))) {
        fprintf(stderr, "vhost_ops: out of guest memory\n");
        return 1;
    }
    check_config(&c, size, ro);
    check_get_id(&c, id);
    if (ro)
        check_read_only(&c, want);
    else
        check_writable(&c, want);
    if (vfe_stop(&c.fe) < 0)
        CHECK(false, "stop: %s", c.fe.err);
    vfe_close(&c.fe);
    free(want);
    printf("vhost_ops: %s device: %s\n", ro ? "read-only" : "writable",
           failures ? "FAILED" : "every request type did what it should");
    return failures ? 1 : 0;
}
