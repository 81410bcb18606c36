/* Writes the seed corpus of the vhost_vring fuzz target (layout in
 * fuzz_vhost_vring.h): guest RAM images with a queue of 16 and chains as a
 * virtio-blk driver lays them out (IN, OUT, FLUSH, GET_ID, DISCARD,
 * WRITE_ZEROES; direct and indirect; across two regions; a 16-bit index
 * wrap), and malformed ones (a loop, a bad next, too many segments, nested
 * indirect, readable after writable, avail->idx too far ahead). Run by hand
 * after a layout change:
 *   fuzz_vhost_vring_gen_corpus tests/fuzz/corpus/vhost_vring */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_vhost_vring.h"

#define RAM_BYTES 0x4000u
#define NUM 16u
#define DESC_OFF 0x0000u
#define AVAIL_OFF 0x0400u
#define USED_OFF 0x0800u
#define DATA_OFF 0x1000u

#define F_NEXT 1u
#define F_WRITE 2u
#define F_INDIRECT 4u

static const char *out_dir;
static uint8_t img[FUZZ_VRING_HDR_BYTES + RAM_BYTES];
static uint8_t *ram = img + FUZZ_VRING_HDR_BYTES;
static uint16_t avail_idx;

static void put(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t gpa(uint32_t off)
{
    return FUZZ_VRING_GPA + off;
}

/* A fresh image: queue of 16 at the standard offsets, @flags, @base. */
static void reset(uint8_t flags, uint16_t base, uint16_t split)
{
    memset(img, 0, sizeof(img));
    img[0] = 4; /* 16 entries */
    img[1] = flags;
    put(img + 2, base, 2);
    put(img + 4, DESC_OFF / 16, 2);
    put(img + 6, AVAIL_OFF / 2, 2);
    put(img + 8, USED_OFF / 4, 2);
    put(img + 10, split, 2);
    avail_idx = base;
}

static void desc_at(uint32_t table_off, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                    uint16_t next)
{
    uint8_t *p = ram + table_off + 16 * i;
    put(p, addr, 8);
    put(p + 8, len, 4);
    put(p + 12, flags, 2);
    put(p + 14, next, 2);
}

static void offer(uint16_t head)
{
    put(ram + AVAIL_OFF + 4 + 2 * (avail_idx % NUM), head, 2);
    avail_idx++;
    put(ram + AVAIL_OFF + 2, avail_idx, 2);
}

static void hdr(uint32_t off, uint32_t type, uint64_t sector)
{
    put(ram + off, type, 4);
    put(ram + off + 8, sector, 8);
}

/* A direct request at descriptors @d.. : header, payload, status. */
static void request(uint16_t d, uint32_t type, uint32_t len, uint16_t pflags)
{
    uint32_t h = DATA_OFF + 0x100 * d;
    hdr(h, type, 8);
    desc_at(DESC_OFF, d, gpa(h), 16, F_NEXT, (uint16_t)(d + 1));
    if (len) {
        desc_at(DESC_OFF, d + 1u, gpa(h + 0x20), len, pflags | F_NEXT, (uint16_t)(d + 2));
        desc_at(DESC_OFF, d + 2u, gpa(h + 0xf0), 1, F_WRITE, 0);
    } else {
        desc_at(DESC_OFF, d + 1u, gpa(h + 0xf0), 1, F_WRITE, 0);
    }
    offer(d);
}

static int save(const char *name)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s", out_dir, name);
    FILE *fp = fopen(path, "wb");
    int r = !fp || fwrite(img, 1, sizeof(img), fp) != sizeof(img);
    if (fp && fclose(fp) != 0)
        r = 1;
    if (r)
        perror(path);
    return r;
}

static int valid_seeds(void)
{
    int r = 0;

    reset(0, 0, 0);
    request(0, 0 /* IN */, 512, F_WRITE);
    request(3, 1 /* OUT */, 512, 0);
    request(6, 4 /* FLUSH */, 0, 0);
    request(8, 8 /* GET_ID */, 20, F_WRITE);
    r |= save("direct-rw.bin");

    reset(FUZZ_VRING_F_EVENT_IDX, 0, 0);
    request(0, 11 /* DISCARD */, 16, 0);
    put(ram + DATA_OFF + 0x20, 64, 8);
    put(ram + DATA_OFF + 0x28, 8, 4);
    request(3, 13 /* WRITE_ZEROES */, 16, 0);
    put(ram + DATA_OFF + 0x320, 128, 8);
    put(ram + DATA_OFF + 0x328, 16, 4);
    put(ram + DATA_OFF + 0x32c, 1, 4);
    r |= save("discard-zeroes.bin");

    /* OUT through an indirect table, header split 8 + 8 */
    reset(FUZZ_VRING_F_EVENT_IDX, 0, 0);
    hdr(DATA_OFF, 1, 0);
    desc_at(0x3000, 0, gpa(DATA_OFF), 8, F_NEXT, 1);
    desc_at(0x3000, 1, gpa(DATA_OFF + 8), 8 + 1024, F_NEXT, 2);
    desc_at(0x3000, 2, gpa(DATA_OFF + 0x800), 1, F_WRITE, 0);
    desc_at(DESC_OFF, 5, gpa(0x3000), 48, F_INDIRECT, 0);
    offer(5);
    r |= save("indirect-out.bin");

    /* two regions split at 0x2000: a buffer and an indirect table cross it */
    reset(FUZZ_VRING_F_TWO_REGIONS, 0, 0x2000);
    hdr(0x1f00, 0, 0);
    desc_at(0x1ff0, 0, gpa(0x1f00), 16, F_NEXT, 1);
    desc_at(0x1ff0, 1, gpa(0x1f80), 1024 + 1, F_WRITE, 0);
    desc_at(DESC_OFF, 0, gpa(0x1ff0), 32, F_INDIRECT, 0);
    offer(0);
    r |= save("two-regions.bin");

    /* last_avail_idx and used->idx about to wrap */
    reset(FUZZ_VRING_F_EVENT_IDX, 0xfffe, 0);
    put(ram + USED_OFF + 2, 0xfffe, 2);
    request(0, 0, 512, F_WRITE);
    request(3, 1, 512, 0);
    request(6, 4, 0, 0);
    r |= save("wrap.bin");
    return r;
}

static int malformed_seeds(void)
{
    int r = 0;

    reset(0, 0, 0);
    desc_at(DESC_OFF, 0, gpa(DATA_OFF), 16, F_WRITE | F_NEXT, 1);
    desc_at(DESC_OFF, 1, gpa(DATA_OFF), 16, F_WRITE | F_NEXT, 0);
    offer(0);
    r |= save("loop.bin");

    reset(0, 0, 0);
    desc_at(DESC_OFF, 0, gpa(DATA_OFF), 16, F_NEXT, 99);
    offer(0);
    request(1, 1, 16, F_WRITE); /* and an OUT whose data is device-writable */
    r |= save("bad-next.bin");

    reset(0, 0, 0);
    for (unsigned i = 0; i < 150; i++)
        desc_at(0x2000, i, gpa(DATA_OFF + i), 1, F_NEXT, (uint16_t)(i + 1));
    desc_at(0x2000, 150, gpa(DATA_OFF + 0x800), 1, F_WRITE, 0);
    desc_at(DESC_OFF, 0, gpa(0x2000), 151 * 16, F_INDIRECT, 0);
    offer(0);
    r |= save("too-many.bin");

    reset(0, 0, 0);
    desc_at(0x3000, 0, gpa(DATA_OFF), 16, F_NEXT, 1);
    desc_at(0x3000, 1, gpa(0x3000), 32, F_INDIRECT, 0);
    desc_at(DESC_OFF, 0, gpa(0x3000), 32, F_INDIRECT, 0);
    offer(0);
    hdr(DATA_OFF + 0x100, 0, 0);
    desc_at(DESC_OFF, 1, gpa(DATA_OFF + 0x100), 16, F_NEXT, 2);
    desc_at(DESC_OFF, 2, gpa(DATA_OFF + 0x200), 512, F_WRITE | F_NEXT, 3);
    desc_at(DESC_OFF, 3, gpa(DATA_OFF + 0x400), 16, F_NEXT, 4);
    desc_at(DESC_OFF, 4, gpa(RAM_BYTES - 1), 2, F_WRITE, 0);
    offer(1);
    r |= save("nested-and-order.bin");

    reset(0, 0, 0);
    request(0, 0, 512, F_WRITE);
    put(ram + AVAIL_OFF + 2, NUM + 1, 2);
    r |= save("avail-jump.bin");
    return r;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    return valid_seeds() | malformed_seeds();
}
