/* vhost_hostile: a hostile vhost-user-blk front-end. Part 1 submits one
 * malformed descriptor chain at a time and checks the backend returns it
 * with an error status (never OK), never writes device-readable memory, and
 * still serves a valid write + read-back on the same queue afterwards.
 * Part 2 abuses the vhost-user protocol itself, each case on its own
 * connection, then checks the backend is alive and serves a new connection.
 *
 * Expectations are a table: "strict" is what cairn-vhost must do;
 * --lenient adds what qemu-storage-daemon (libvhost-user) is known to do
 * instead, e.g. marking the device broken and dropping the connection, so
 * the harness itself is validated against a real backend.
 * Usage: vhost_hostile --socket PATH [--lenient] [--pid PID] [--timeout-ms MS]
 * Exit: 0 pass, 1 failure, 2 usage, 77 socket missing. */
#define _GNU_SOURCE
#include "tests/vhost/frontend.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* outcomes of a chain case */
enum {
    O_OK = 1 << 0,        /* returned, status OK */
    O_IOERR = 1 << 1,     /* returned, status IOERR */
    O_UNSUPP = 1 << 2,    /* returned, status UNSUPP */
    O_BADSTATUS = 1 << 3, /* returned, status byte not a valid status */
    O_RETURNED = 1 << 4,  /* returned; the chain had no valid status to check */
    O_LOST = 1 << 5,      /* never returned, but the queue still works */
    O_BROKEN = 1 << 6,    /* never returned or disconnected; a new connection works */
    /* outcomes of a protocol case */
    O_ACK = 1 << 7,       /* REPLY_ACK 0: accepted */
    O_NACK = 1 << 8,      /* REPLY_ACK nonzero: refused */
    O_DISC = 1 << 9,      /* the backend closed the connection */
    O_NOREPLY = 1 << 10,  /* nothing before the deadline */
};
#define O_ERR (O_IOERR | O_UNSUPP)
#define O_REFUSED (O_NACK | O_DISC)

static const char *const outcome_names[] = {"OK",       "IOERR", "UNSUPP", "BADSTATUS",
                                            "RETURNED", "LOST",  "BROKEN", "ACK",
                                            "NACK",     "DISCONNECT", "NOREPLY"};

struct hctx {
    const char *socket;
    bool lenient;
    int pid;
    int timeout_ms;
    unsigned nregions;
    struct vfe fe;
    bool open;
    struct vfe_queue *q;  /* the queue under test */
    struct vfe_buf hdr, data, status, table, check_w, check_r;
    uint64_t scratch;     /* sector where valid I/O goes */
    unsigned failures, cases;
};

/* What a builder produced: the head to wait for, where the status is, and
 * a device-readable range that must come back unmodified. */
struct built {
    uint16_t head;
    bool pushed; /* the builder wrote the avail entry itself (no head to track) */
    bool has_status;
    const uint8_t *canary;
    size_t canary_len;
    uint8_t canary_val;
};

/* ---- chain building ---- */

#define AUTO (-1)            /* next = following descriptor */
#define RAW(v) (0x10000 + (v)) /* next = this literal value */

struct d {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    int next; /* AUTO, a position in this chain, or RAW(v) */
};

static uint16_t resolve_next(const struct d *x, unsigned k, const uint16_t *idx)
{
    if (!(x->flags & VFE_DESC_F_NEXT))
        return 0;
    if (x->next == AUTO)
        return idx ? idx[k + 1] : (uint16_t)(k + 1);
    if (x->next >= 0x10000)
        return (uint16_t)(x->next - 0x10000);
    return idx ? idx[x->next] : (uint16_t)x->next;
}

/* Puts @n descriptors into the ring's table and makes the first the head. */
static int ring_chain(struct hctx *h, const struct d *ds, unsigned n, struct built *b)
{
    uint16_t idx[64];
    unsigned k;

    if (n > 64 || vfe_desc_alloc(h->q, n, idx) < 0)
        return -EAGAIN;
    for (k = 0; k < n; k++)
        *vfe_desc(h->q, idx[k]) = (struct vfe_vring_desc){ds[k].addr, ds[k].len, ds[k].flags,
                                                         resolve_next(&ds[k], k, idx)};
    b->head = idx[0];
    return 0;
}

/* Writes @n descriptors into the scratch indirect table and makes a ring
 * descriptor {table, 16 * n (or @len if nonzero), INDIRECT} the head. */
static int indirect_chain(struct hctx *h, const struct d *ds, unsigned n, uint32_t len,
                          struct built *b)
{
    struct vfe_vring_desc *t = (struct vfe_vring_desc *)h->table.ptr;
    struct d ring = {h->table.gpa, len ? len : 16 * n, VFE_DESC_F_INDIRECT, 0};
    unsigned k;

    for (k = 0; k < n; k++)
        t[k] = (struct vfe_vring_desc){ds[k].addr, ds[k].len, ds[k].flags,
                                      resolve_next(&ds[k], k, NULL)};
    return ring_chain(h, &ring, 1, b);
}

static void put_hdr(struct hctx *h, uint32_t type, uint64_t sector)
{
    memcpy(h->hdr.ptr, &type, 4);
    memset(h->hdr.ptr + 4, 0, 4);
    memcpy(h->hdr.ptr + 8, &sector, 8);
}

/* header(R) data(R|W) status(W) with the data descriptor replaced by @data */
static int simple(struct hctx *h, uint32_t type, uint64_t sector, struct d data, struct built *b)
{
    struct d ds[3] = {
        {h->hdr.gpa, 16, VFE_DESC_F_NEXT, AUTO},
        data,
        {h->status.gpa, 1, VFE_DESC_F_WRITE, 0},
    };

    ds[1].flags |= VFE_DESC_F_NEXT;
    ds[1].next = AUTO;
    put_hdr(h, type, sector);
    b->has_status = true;
    return ring_chain(h, ds, 3, b);
}

static void canary_on_data(struct hctx *h, struct built *b, size_t len)
{
    b->canary = h->data.ptr;
    b->canary_len = len;
    b->canary_val = 0xc5;
}

/* ---- the malformed chains ---- */

static int c_data_outside(struct hctx *h, struct built *b)
{
    struct d data = {vfe_unmapped_gpa(&h->fe), 4096, 0, 0};

    return simple(h, VFE_BLK_T_OUT, h->scratch, data, b);
}

static int c_addr_wraps(struct hctx *h, struct built *b)
{
    struct d data = {UINT64_MAX - 2047, 4096, VFE_DESC_F_WRITE, 0};

    return simple(h, VFE_BLK_T_IN, h->scratch, data, b);
}

static int c_crosses_region_end(struct hctx *h, struct built *b)
{
    struct d data = {vfe_region_end_gpa(&h->fe, 0) - 2048, 4096, VFE_DESC_F_WRITE, 0};

    return simple(h, VFE_BLK_T_IN, h->scratch, data, b);
}

static int c_loop_direct(struct hctx *h, struct built *b)
{
    struct d ds[3] = {
        {h->hdr.gpa, 16, VFE_DESC_F_NEXT, AUTO},
        {h->data.gpa, 512, VFE_DESC_F_NEXT, AUTO},
        {h->data.gpa + 512, 512, VFE_DESC_F_NEXT, 1},
    };

    put_hdr(h, VFE_BLK_T_OUT, h->scratch);
    canary_on_data(h, b, 1024);
    return ring_chain(h, ds, 3, b);
}

static int c_loop_indirect(struct hctx *h, struct built *b)
{
    struct d ds[3] = {
        {h->hdr.gpa, 16, VFE_DESC_F_NEXT, AUTO},
        {h->data.gpa, 512, VFE_DESC_F_NEXT, AUTO},
        {h->data.gpa + 512, 512, VFE_DESC_F_NEXT, 1},
    };

    put_hdr(h, VFE_BLK_T_OUT, h->scratch);
    canary_on_data(h, b, 1024);
    return indirect_chain(h, ds, 3, 0, b);
}

static int c_next_out_of_range(struct hctx *h, struct built *b)
{
    struct d ds[2] = {
        {h->hdr.gpa, 16, VFE_DESC_F_NEXT, AUTO},
        {h->data.gpa, 512, VFE_DESC_F_NEXT, RAW(h->q->num)},
    };

    put_hdr(h, VFE_BLK_T_OUT, h->scratch);
    canary_on_data(h, b, 512);
    return ring_chain(h, ds, 2, b);
}

static int c_zero_len_data(struct hctx *h, struct built *b)
{
    struct d data = {h->data.gpa, 0, 0, 0};

    return simple(h, VFE_BLK_T_OUT, h->scratch, data, b);
}

/* seg_max + 1 data segments (all the same 512 bytes), indirect when the
 * ring is too small for them. */
static int c_too_many_segments(struct hctx *h, struct built *b)
{
    uint32_t nseg = h->fe.cfg.seg_max + 1, n = nseg + 2, k;
    struct vfe_vring_desc *t = (struct vfe_vring_desc *)h->table.ptr;
    struct d ring = {h->table.gpa, 16 * n, VFE_DESC_F_INDIRECT, 0};

    if (16ull * n > h->table.len || !(h->fe.acked & (1ull << VFE_F_INDIRECT_DESC)))
        return -ENOTSUP;
    put_hdr(h, VFE_BLK_T_OUT, h->scratch);
    t[0] = (struct vfe_vring_desc){h->hdr.gpa, 16, VFE_DESC_F_NEXT, 1};
    for (k = 1; k <= nseg; k++)
        t[k] = (struct vfe_vring_desc){h->data.gpa, 512, VFE_DESC_F_NEXT, (uint16_t)(k + 1)};
    t[n - 1] = (struct vfe_vring_desc){h->status.gpa, 1, VFE_DESC_F_WRITE, 0};
    b->has_status = true;
    canary_on_data(h, b, 512);
    return ring_chain(h, &ring, 1, b);
}

static int c_readable_after_writable(struct hctx *h, struct built *b)
{
    struct d ds[4] = {
        {h->hdr.gpa, 16, VFE_DESC_F_NEXT, AUTO},
        {h->data.gpa, 4096, VFE_DESC_F_WRITE | VFE_DESC_F_NEXT, AUTO},
        {h->data.gpa + 8192, 512, VFE_DESC_F_NEXT, AUTO},
        {h->status.gpa, 1, VFE_DESC_F_WRITE, 0},
    };

    put_hdr(h, VFE_BLK_T_IN, h->scratch);
    b->has_status = true;
    b->canary = h->data.ptr + 8192;
    b->canary_len = 512;
    b->canary_val = 0xc5;
    return ring_chain(h, ds, 4, b);
}

static int c_nested_indirect(struct hctx *h, struct built *b)
{
    struct vfe_vring_desc *inner = (struct vfe_vring_desc *)(h->table.ptr + 16384);
    uint64_t inner_gpa = h->table.gpa + 16384;
    struct d ds[3] = {
        {h->hdr.gpa, 16, VFE_DESC_F_NEXT, AUTO},
        {inner_gpa, 32 * 16, VFE_DESC_F_INDIRECT | VFE_DESC_F_NEXT, AUTO},
        {h->status.gpa, 1, VFE_DESC_F_WRITE, 0},
    };
    unsigned k;

    for (k = 0; k < 32; k++)
        inner[k] = (struct vfe_vring_desc){h->data.gpa, 512,
                                          k < 31 ? VFE_DESC_F_NEXT : 0, (uint16_t)(k + 1)};
    put_hdr(h, VFE_BLK_T_OUT, h->scratch);
    b->has_status = true;
    return indirect_chain(h, ds, 3, 0, b);
}

static int c_indirect_outside(struct hctx *h, struct built *b)
{
    struct d ring = {vfe_unmapped_gpa(&h->fe), 48, VFE_DESC_F_INDIRECT, 0};

    return ring_chain(h, &ring, 1, b);
}

static int c_indirect_len_odd(struct hctx *h, struct built *b)
{
    struct d ds[2] = {
        {h->hdr.gpa, 16, VFE_DESC_F_NEXT, AUTO},
        {h->status.gpa, 1, VFE_DESC_F_WRITE, 0},
    };

    put_hdr(h, VFE_BLK_T_GET_ID + 100, 0);
    return indirect_chain(h, ds, 2, 40, b);
}

static int c_header_too_short(struct hctx *h, struct built *b)
{
    struct d ds[2] = {
        {h->hdr.gpa, 8, VFE_DESC_F_NEXT, AUTO},
        {h->status.gpa, 1, VFE_DESC_F_WRITE, 0},
    };

    put_hdr(h, VFE_BLK_T_IN, h->scratch);
    b->has_status = true;
    return ring_chain(h, ds, 2, b);
}

static int c_status_read_only(struct hctx *h, struct built *b)
{
    struct d ds[3] = {
        {h->hdr.gpa, 16, VFE_DESC_F_NEXT, AUTO},
        {h->data.gpa, 4096, VFE_DESC_F_NEXT, AUTO},
        {h->status.gpa, 1, 0, 0},
    };

    put_hdr(h, VFE_BLK_T_OUT, h->scratch);
    b->canary = h->status.ptr;
    b->canary_len = 1;
    b->canary_val = 0xee;
    return ring_chain(h, ds, 3, b);
}

static int c_in_read_only_data(struct hctx *h, struct built *b)
{
    struct d data = {h->data.gpa, 4096, 0, 0};

    canary_on_data(h, b, 4096);
    return simple(h, VFE_BLK_T_IN, h->scratch, data, b);
}

static int c_unknown_type(struct hctx *h, struct built *b)
{
    struct d ds[2] = {
        {h->hdr.gpa, 16, VFE_DESC_F_NEXT, AUTO},
        {h->status.gpa, 1, VFE_DESC_F_WRITE, 0},
    };

    put_hdr(h, 0x7f, 0);
    b->has_status = true;
    return ring_chain(h, ds, 2, b);
}

static int c_read_crosses_capacity(struct hctx *h, struct built *b)
{
    struct d data = {h->data.gpa, 4096, VFE_DESC_F_WRITE, 0};

    return simple(h, VFE_BLK_T_IN, h->fe.cfg.capacity_sectors - 4, data, b);
}

static int c_write_past_capacity(struct hctx *h, struct built *b)
{
    struct d data = {h->data.gpa, 4096, 0, 0};

    return simple(h, VFE_BLK_T_OUT, h->fe.cfg.capacity_sectors + 8, data, b);
}

static int c_sector_overflow(struct hctx *h, struct built *b)
{
    struct d data = {h->data.gpa, 4096, VFE_DESC_F_WRITE, 0};

    return simple(h, VFE_BLK_T_IN, UINT64_MAX - 3, data, b);
}

static int c_unaligned_write(struct hctx *h, struct built *b)
{
    struct d data = {h->data.gpa, 1000, 0, 0};

    return simple(h, VFE_BLK_T_OUT, h->scratch, data, b);
}

static int c_unaligned_read(struct hctx *h, struct built *b)
{
    struct d data = {h->data.gpa, 513, VFE_DESC_F_WRITE, 0};

    return simple(h, VFE_BLK_T_IN, h->scratch, data, b);
}

static int c_avail_head_out_of_range(struct hctx *h, struct built *b)
{
    vfe_raw_avail_push(h->q, (uint16_t)(h->q->num + 3));
    b->pushed = true;
    return 0;
}

struct chain_case {
    const char *name;
    int (*build)(struct hctx *h, struct built *b);
    unsigned strict;  /* outcomes our backend may produce */
    unsigned lenient; /* further outcomes allowed with --lenient */
    const char *why;  /* what qemu-storage-daemon does, when lenient differs */
};

/* libvhost-user vu_panic()s on descriptor errors: the device turns broken,
 * the chain is never returned, and the connection must be replaced. Its
 * virtio-blk handler drops requests without a header or status. */
static const struct chain_case chain_cases[] = {
    {"data-outside-memory", c_data_outside, O_IOERR, O_BROKEN, "vu_panic"},
    {"data-addr-wraps", c_addr_wraps, O_IOERR, O_BROKEN, "vu_panic"},
    {"data-crosses-region-end", c_crosses_region_end, O_IOERR, O_BROKEN, "vu_panic"},
    {"loop-direct", c_loop_direct, O_RETURNED, O_BROKEN, "vu_panic"},
    {"loop-in-indirect", c_loop_indirect, O_RETURNED, O_BROKEN, "vu_panic"},
    {"next-out-of-range", c_next_out_of_range, O_RETURNED, O_BROKEN, "vu_panic"},
    {"zero-length-data", c_zero_len_data, O_IOERR, O_BROKEN, "vu_panic"},
    {"more-than-seg-max", c_too_many_segments, O_IOERR, O_OK | O_BROKEN,
     "does not enforce seg_max"},
    {"readable-after-writable", c_readable_after_writable, O_IOERR, O_BROKEN, "vu_panic"},
    {"nested-indirect", c_nested_indirect, O_IOERR, O_OK | O_BROKEN,
     "treats the inner table as data"},
    {"indirect-outside-memory", c_indirect_outside, O_RETURNED, O_BROKEN, "vu_panic"},
    {"indirect-len-not-16n", c_indirect_len_odd, O_RETURNED | O_ERR, O_BROKEN, "vu_panic"},
    {"header-too-short", c_header_too_short, O_IOERR, O_LOST, "drops the request"},
    {"status-read-only", c_status_read_only, O_RETURNED, O_LOST, "drops the request"},
    {"in-read-only-data", c_in_read_only_data, O_IOERR, O_OK, "reads 0 bytes"},
    {"unknown-type", c_unknown_type, O_UNSUPP, 0, NULL},
    {"read-crosses-capacity", c_read_crosses_capacity, O_IOERR, 0, NULL},
    {"write-past-capacity", c_write_past_capacity, O_IOERR, 0, NULL},
    {"sector-overflow", c_sector_overflow, O_IOERR, 0, NULL},
    {"unaligned-write", c_unaligned_write, O_IOERR, 0, NULL},
    {"unaligned-read", c_unaligned_read, O_IOERR, 0, NULL},
    /* nothing valid to return: skipping the entry or dropping the device is fine */
    {"avail-head-out-of-range", c_avail_head_out_of_range, O_LOST | O_BROKEN, 0, NULL},
};

/* ---- connection, valid I/O, liveness ---- */

static int conn_open(struct hctx *h)
{
    struct vfe_opts o;
    int rc;

    vfe_opts_default(&o, h->socket);
    o.nregions = h->nregions;
    o.num_queues = 2;
    o.timeout_ms = h->timeout_ms;
    rc = vfe_open(&h->fe, &o);
    if (rc < 0)
        return rc;
    h->q = &h->fe.q[h->fe.nqueues - 1];
    if ((rc = vfe_mem_alloc(&h->fe, 64, 64, &h->hdr)) < 0 ||
        (rc = vfe_mem_alloc(&h->fe, 64, 64, &h->status)) < 0 ||
        (rc = vfe_mem_alloc(&h->fe, 16384, 4096, &h->data)) < 0 ||
        (rc = vfe_mem_alloc(&h->fe, 32768, 4096, &h->table)) < 0 ||
        (rc = vfe_mem_alloc(&h->fe, 4096, 4096, &h->check_w)) < 0 ||
        (rc = vfe_mem_alloc(&h->fe, 4096, 4096, &h->check_r)) < 0) {
        vfe_close(&h->fe);
        return rc;
    }
    h->scratch = (h->fe.cfg.capacity_sectors / 2) & ~7ull;
    h->open = true;
    return 0;
}

static void conn_close(struct hctx *h)
{
    if (h->open)
        vfe_close(&h->fe);
    h->open = false;
}

/* A write of a pattern unique to @tag and its read-back, on the queue under
 * test. 0, or -errno with the reason printed. */
static int valid_io(struct hctx *h, unsigned tag)
{
    uint64_t sector = h->scratch + 8 * (tag % 64);
    struct vfe_seg w = {h->check_w.gpa, 4096}, r = {h->check_r.gpa, 4096};
    struct vfe_req wr = {VFE_BLK_T_OUT, sector, &w, 1, false, &w};
    struct vfe_req rd = {VFE_BLK_T_IN, sector, &r, 1, false, &r};
    struct vfe_cpl c;
    unsigned i;
    int rc;

    for (i = 0; i < 4096; i++)
        h->check_w.ptr[i] = (uint8_t)(i * 7 + tag * 13 + 1);
    memset(h->check_r.ptr, 0, 4096);
    rc = vfe_do(h->q, &wr, &c);
    if (rc == 0 && c.status != VFE_BLK_S_OK)
        rc = -EIO;
    if (rc == 0)
        rc = vfe_do(h->q, &rd, &c);
    if (rc == 0 && c.status != VFE_BLK_S_OK)
        rc = -EIO;
    if (rc == 0 && memcmp(h->check_w.ptr, h->check_r.ptr, 4096) != 0)
        rc = -EILSEQ;
    return rc;
}

static bool backend_alive(const struct hctx *h)
{
    char path[64], buf[512], *p;
    FILE *f;
    size_t n;

    if (h->pid <= 0)
        return true;
    snprintf(path, sizeof(path), "/proc/%d/stat", h->pid);
    f = fopen(path, "r");
    if (!f)
        return false;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* After a case: the backend process lives and a fresh connection does I/O. */
static int fresh_connection_works(struct hctx *h, unsigned tag, char *why, size_t len)
{
    int rc;

    conn_close(h);
    if (!backend_alive(h)) {
        snprintf(why, len, "backend process %d is gone", h->pid);
        return -ESRCH;
    }
    rc = conn_open(h);
    if (rc < 0) {
        snprintf(why, len, "new connection failed: %s", h->fe.err);
        return rc;
    }
    rc = valid_io(h, tag);
    if (rc < 0)
        snprintf(why, len, "valid I/O on a new connection failed: %s",
                 rc == -EILSEQ ? "data mismatch" : h->fe.err);
    return rc;
}

static void describe(unsigned mask, char *out, size_t len)
{
    size_t used = 0;
    unsigned i;

    out[0] = 0;
    for (i = 0; i < sizeof(outcome_names) / sizeof(outcome_names[0]); i++)
        if (mask & (1u << i))
            used += (size_t)snprintf(out + used, len - used, "%s%s", used ? "|" : "",
                                     outcome_names[i]);
}

static const char *outcome_name(unsigned o)
{
    return outcome_names[__builtin_ctz(o)];
}

static void verdict(struct hctx *h, const char *kind, const char *name, unsigned got,
                    unsigned strict, unsigned lenient, const char *note)
{
    char exp[128];
    bool ok = (got & strict) || (h->lenient && (got & lenient));

    describe(strict, exp, sizeof(exp));
    h->cases++;
    if (!ok)
        h->failures++;
    printf("%-5s %-26s got %-10s strict %-16s %s%s%s\n", kind, name, outcome_name(got), exp,
           ok ? ((got & strict) ? "ok" : "ok (lenient)") : "FAIL",
           note && note[0] ? ": " : "", note ? note : "");
}

/* ---- part 1: chains ---- */

static unsigned classify_returned(struct hctx *h, const struct built *b)
{
    uint8_t s = h->status.ptr[0];

    if (!b->has_status)
        return O_RETURNED;
    return s == VFE_BLK_S_OK ? O_OK : s == VFE_BLK_S_IOERR ? O_IOERR
         : s == VFE_BLK_S_UNSUPP ? O_UNSUPP : O_BADSTATUS;
}

static void run_chain_case(struct hctx *h, const struct chain_case *cc, unsigned tag)
{
    struct built b = {0};
    struct vfe_cpl c;
    char note[512] = "";
    int64_t deadline;
    unsigned got;
    int rc;

    if (!h->open && (rc = conn_open(h)) < 0) {
        snprintf(note, sizeof(note), "cannot connect: %s", h->fe.err);
        verdict(h, "chain", cc->name, O_BROKEN, cc->strict, 0, note);
        return;
    }
    memset(h->data.ptr, 0xc5, h->data.len);
    memset(h->status.ptr, 0xee, h->status.len);
    rc = cc->build(h, &b);
    if (rc == -ENOTSUP) {
        printf("chain %-26s skipped: backend limits do not allow it\n", cc->name);
        return;
    }
    if (rc < 0) {
        snprintf(note, sizeof(note), "cannot build: %s", strerror(-rc));
        verdict(h, "chain", cc->name, O_BROKEN, cc->strict, 0, note);
        return;
    }
    if (!b.pushed)
        vfe_raw_publish(h->q, b.head, &b);
    deadline = vfe_now_ns() + (int64_t)h->timeout_ms * 1000000;
    rc = vfe_kick(h->q);
    while (rc == 0 && (rc = vfe_reap(h->q, &c, 1)) == 0)
        rc = vfe_wait(&h->fe, &h->q, 1, deadline);
    if (rc == 1 && c.head != b.head)
        rc = -EPROTO;
    if (rc == -EPROTO) {
        snprintf(note, sizeof(note), "bad used ring: %s", h->fe.err);
        verdict(h, "chain", cc->name, O_BADSTATUS, 0, 0, note);
        conn_close(h);
        return;
    }
    if (rc == 1) {
        got = classify_returned(h, &b);
        if (b.canary && (b.canary[0] != b.canary_val ||
                         memcmp(b.canary, b.canary + 1, b.canary_len - 1) != 0)) {
            snprintf(note, sizeof(note), "the backend wrote into device-readable memory");
            verdict(h, "chain", cc->name, got, 0, 0, note);
            return;
        }
        rc = valid_io(h, tag);
        if (rc < 0) {
            snprintf(note, sizeof(note), "valid I/O afterwards on the same queue failed: %s",
                     rc == -EILSEQ ? "data mismatch" : h->fe.err);
            verdict(h, "chain", cc->name, got, 0, 0, note);
            conn_close(h);
            return;
        }
        if (b.has_status && h->status.ptr[1] != 0xee) {
            verdict(h, "chain", cc->name, got, 0, 0, "wrote past the 1-byte status");
            return;
        }
        if (h->lenient && (got & cc->lenient) && !(got & cc->strict) && cc->why)
            snprintf(note, sizeof(note), "qemu-storage-daemon %s", cc->why);
        verdict(h, "chain", cc->name, got, cc->strict, cc->lenient, note);
        return;
    }
    /* never returned: does the queue still work (lost) or is it broken? */
    if (rc != -ECONNRESET && valid_io(h, tag) == 0) {
        got = O_LOST;
    } else if (fresh_connection_works(h, tag, note, sizeof(note)) == 0) {
        got = O_BROKEN;
    } else {
        verdict(h, "chain", cc->name, O_BROKEN, 0, 0, note);
        return;
    }
    if (h->lenient && (got & cc->lenient) && cc->why)
        snprintf(note, sizeof(note), "qemu-storage-daemon %s", cc->why);
    verdict(h, "chain", cc->name, got, cc->strict, cc->lenient, note);
    conn_close(h); /* the lost chain still holds descriptors; start clean */
}

/* ---- part 2: protocol abuse ---- */

struct proto_case {
    const char *name;
    /* sends the abuse on a negotiated connection; returns the outcome */
    unsigned (*send)(struct hctx *h);
    unsigned strict;
    unsigned lenient;
    const char *why;   /* what qemu-storage-daemon does, when lenient differs */
    bool skip_lenient; /* known to corrupt qemu-storage-daemon 7.2's memory */
};

/* Reads the reply to a message sent with NEED_REPLY. */
static unsigned await_ack(struct hctx *h, uint32_t request)
{
    struct vfe_msg_hdr hdr;
    uint64_t v = 0;
    int rc = vfe_recv_msg(&h->fe, &hdr, &v, sizeof(v), h->timeout_ms);

    if (rc == -ECONNRESET)
        return O_DISC;
    if (rc == -ETIMEDOUT)
        return O_NOREPLY;
    if (rc < 0 || hdr.request != request || hdr.size != 8)
        return O_DISC; /* a garbled reply counts as a refusal we cannot use */
    return v == 0 ? O_ACK : O_NACK;
}

static unsigned send_acked(struct hctx *h, uint32_t request, uint32_t size, const void *p,
                           size_t len, const int *fds, unsigned nfds)
{
    int rc = vfe_send_msg(&h->fe, request, VFE_FLAG_VERSION | VFE_FLAG_NEED_REPLY, size, p,
                          len, fds, nfds);

    if (rc < 0)
        return O_DISC;
    return await_ack(h, request);
}

static unsigned p_oversized(struct hctx *h)
{
    static uint8_t big[4096];

    return send_acked(h, VFE_SET_VRING_NUM, sizeof(big), big, sizeof(big), NULL, 0);
}

static unsigned p_size_bigger_than_type(struct hctx *h)
{
    uint32_t state[4] = {0, 128, 0, 0};

    return send_acked(h, VFE_SET_VRING_NUM, sizeof(state), state, sizeof(state), NULL, 0);
}

static unsigned p_size_smaller_than_type(struct hctx *h)
{
    uint32_t state[1] = {0};

    return send_acked(h, VFE_SET_VRING_ADDR, sizeof(state), state, sizeof(state), NULL, 0);
}

static unsigned p_truncated(struct hctx *h)
{
    uint8_t part[20] = {1};
    int rc = vfe_send_msg(&h->fe, VFE_SET_MEM_TABLE, VFE_FLAG_VERSION | VFE_FLAG_NEED_REPLY, 40,
                          part, sizeof(part), NULL, 0);

    if (rc < 0)
        return O_DISC;
    shutdown(h->fe.sock, SHUT_WR);
    return await_ack(h, VFE_SET_MEM_TABLE);
}

static unsigned p_unknown_request(struct hctx *h)
{
    uint64_t v = 0;

    return send_acked(h, 9999, sizeof(v), &v, sizeof(v), NULL, 0);
}

static unsigned mem_table(struct hctx *h, uint32_t n, bool overlap)
{
    uint8_t msg[8 + 32 * 9] = {0};
    int fds[9];
    uint32_t i;

    memcpy(msg, &n, 4);
    for (i = 0; i < n; i++) {
        uint64_t size = h->fe.mem_size / 16;
        uint64_t reg[4] = {0x100000000ull + (overlap ? size / 2 : size) * i, size,
                           0x100000000000ull + size * i, size * i};

        memcpy(msg + 8 + 32 * i, reg, sizeof(reg));
        fds[i] = h->fe.memfd;
    }
    return send_acked(h, VFE_SET_MEM_TABLE, 8 + 32 * n, msg, 8 + 32 * n, fds, n);
}

static unsigned p_mem_table_0(struct hctx *h)
{
    return mem_table(h, 0, false);
}

static unsigned p_mem_table_9(struct hctx *h)
{
    return mem_table(h, 9, false);
}

static unsigned p_mem_table_overlap(struct hctx *h)
{
    return mem_table(h, 2, true);
}

static unsigned vring_num(struct hctx *h, uint32_t index, uint32_t num)
{
    uint32_t state[2] = {index, num};

    return send_acked(h, VFE_SET_VRING_NUM, sizeof(state), state, sizeof(state), NULL, 0);
}

static unsigned p_num_not_pow2(struct hctx *h)
{
    return vring_num(h, 0, 100);
}

static unsigned p_num_zero(struct hctx *h)
{
    return vring_num(h, 0, 0);
}

static unsigned p_num_too_big(struct hctx *h)
{
    return vring_num(h, 0, 65536);
}

static unsigned p_num_bad_index(struct hctx *h)
{
    return vring_num(h, 200, 128);
}

static unsigned p_addr_outside(struct hctx *h)
{
    struct {
        uint32_t index, flags;
        uint64_t desc, used, avail, log;
    } __attribute__((packed)) a = {0, 0, 0x1000, 0x2000, 0x3000, 0};
    unsigned o;

    if (vfe_set_mem_table(&h->fe) < 0 || vring_num(h, 0, 128) != O_ACK)
        return O_DISC;
    o = send_acked(h, VFE_SET_VRING_ADDR, sizeof(a), &a, sizeof(a), NULL, 0);
    return o;
}

static unsigned p_kick_bad_index(struct hctx *h)
{
    uint64_t v = 200;
    int fd = h->fe.memfd; /* any fd will do: it must be refused and closed */

    return send_acked(h, VFE_SET_VRING_KICK, sizeof(v), &v, sizeof(v), &fd, 1);
}

static unsigned p_enable_bad_index(struct hctx *h)
{
    uint32_t state[2] = {200, 1};

    return send_acked(h, VFE_SET_VRING_ENABLE, sizeof(state), state, sizeof(state), NULL, 0);
}

/* libvhost-user acks most SET_* requests before it validates them, and on a
 * bad one vu_panic()s afterwards: the connection closes after the ACK. */
static const struct proto_case proto_cases[] = {
    {"payload-over-4k", p_oversized, O_REFUSED, 0, NULL, false},
    {"size-bigger-than-type", p_size_bigger_than_type, O_REFUSED, O_ACK,
     "ignores the extra bytes", false},
    {"size-smaller-than-type", p_size_smaller_than_type, O_REFUSED, O_ACK, "acks first", false},
    {"truncated-message", p_truncated, O_REFUSED | O_NOREPLY, 0, NULL, false},
    {"unknown-request", p_unknown_request, O_REFUSED, O_ACK, "acks first", false},
    {"mem-table-0-regions", p_mem_table_0, O_REFUSED, O_ACK, "accepts an empty table", false},
    {"mem-table-9-regions", p_mem_table_9, O_REFUSED, 0, NULL, false},
    {"mem-table-overlap", p_mem_table_overlap, O_REFUSED, O_ACK, "accepts overlapping regions",
     false},
    {"vring-num-not-pow2", p_num_not_pow2, O_REFUSED, O_ACK, "does not check num", false},
    {"vring-num-zero", p_num_zero, O_REFUSED, O_ACK, "does not check num", false},
    {"vring-num-over-32768", p_num_too_big, O_REFUSED, O_ACK, "does not check num", false},
    {"vring-num-bad-index", p_num_bad_index, O_REFUSED, 0, NULL, true},
    {"vring-addr-outside", p_addr_outside, O_REFUSED, O_ACK, "acks first", false},
    {"vring-kick-bad-index", p_kick_bad_index, O_REFUSED, O_ACK, "acks first", false},
    {"vring-enable-bad-index", p_enable_bad_index, O_REFUSED, O_ACK, "acks first", false},
};

static void run_proto_case(struct hctx *h, const struct proto_case *pc, unsigned tag)
{
    struct vfe_opts o;
    char note[512] = "";
    unsigned got;
    int rc;

    if (h->lenient && pc->skip_lenient) {
        printf("proto %-26s skipped with --lenient: qemu-storage-daemon 7.2 does not check "
               "the index\n", pc->name);
        return;
    }
    conn_close(h);
    vfe_opts_default(&o, h->socket);
    o.timeout_ms = h->timeout_ms;
    rc = vfe_connect(&h->fe, &o);
    if (rc == 0) {
        h->open = true;
        rc = vfe_negotiate(&h->fe);
    }
    if (rc < 0) {
        snprintf(note, sizeof(note), "cannot set up the connection: %s", h->fe.err);
        verdict(h, "proto", pc->name, O_DISC, 0, 0, note);
        conn_close(h);
        return;
    }
    if (!(h->fe.protocol_acked & (1ull << VFE_PF_REPLY_ACK))) {
        printf("proto %-26s skipped: backend lacks REPLY_ACK\n", pc->name);
        return;
    }
    got = pc->send(h);
    if (got == O_ACK) {
        /* did it accept the request, or ack and then give up on the device? */
        uint32_t len;
        uint64_t v;

        if (vfe_get(&h->fe, VFE_GET_FEATURES, NULL, 0, &v, sizeof(v), &len) < 0)
            snprintf(note, sizeof(note), "then closed the connection");
    }
    if (h->lenient && (got & pc->lenient) && !(got & pc->strict) && pc->why)
        snprintf(note + strlen(note), sizeof(note) - strlen(note), "%sqemu-storage-daemon %s",
                 note[0] ? "; " : "", pc->why);
    if (fresh_connection_works(h, tag, note, sizeof(note)) < 0) {
        verdict(h, "proto", pc->name, got, 0, 0, note);
        conn_close(h);
        return;
    }
    conn_close(h);
    verdict(h, "proto", pc->name, got, pc->strict, pc->lenient, note);
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr, "usage: vhost_hostile --socket PATH [--lenient] [--pid PID] "
                    "[--timeout-ms MS] [--regions 1|2]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", 1, 0, 's'}, {"lenient", 0, 0, 'l'},    {"pid", 1, 0, 'p'},
        {"timeout-ms", 1, 0, 't'}, {"regions", 1, 0, 'r'}, {0, 0, 0, 0},
    };
    static struct hctx h = {.timeout_ms = 3000, .nregions = 2};
    unsigned i;
    int c, rc;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': h.socket = optarg; break;
        case 'l': h.lenient = true; break;
        case 'p': h.pid = atoi(optarg); break;
        case 't': h.timeout_ms = atoi(optarg); break;
        case 'r': h.nregions = (unsigned)atoi(optarg); break;
        default: usage(); return 2;
        }
    }
    if (!h.socket || optind != argc || h.timeout_ms <= 0 || h.nregions < 1 || h.nregions > 2) {
        usage();
        return 2;
    }
    if (access(h.socket, F_OK) < 0) {
        fprintf(stderr, "vhost_hostile: %s does not exist; skipping\n", h.socket);
        return 77;
    }
    rc = conn_open(&h);
    if (rc < 0) {
        fprintf(stderr, "vhost_hostile: %s\n", h.fe.err);
        return rc == -ECONNREFUSED || rc == -ENOENT ? 77 : 1;
    }
    printf("vhost_hostile: features 0x%" PRIx64 " protocol 0x%" PRIx64 " capacity %" PRIu64
           " sectors blk_size %u seg_max %u size_max %u queues %u%s\n",
           h.fe.acked, h.fe.protocol_acked, h.fe.cfg.capacity_sectors, h.fe.cfg.blk_size,
           h.fe.cfg.seg_max, h.fe.cfg.size_max, h.fe.nqueues, h.lenient ? " (lenient)" : "");
    if (valid_io(&h, 0) < 0) {
        fprintf(stderr, "vhost_hostile: valid I/O fails before any abuse: %s\n", h.fe.err);
        conn_close(&h);
        return 1;
    }
    for (i = 0; i < sizeof(chain_cases) / sizeof(chain_cases[0]); i++)
        run_chain_case(&h, &chain_cases[i], i + 1);
    for (i = 0; i < sizeof(proto_cases) / sizeof(proto_cases[0]); i++)
        run_proto_case(&h, &proto_cases[i], i + 40);
    conn_close(&h);
    if (!backend_alive(&h)) {
        printf("vhost_hostile: backend process %d died\n", h.pid);
        h.failures++;
    }
    printf("vhost_hostile: %u cases, %u failed\n", h.cases, h.failures);
    return h.failures ? 1 : 0;
}
