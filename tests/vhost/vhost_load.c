/* vhost_load: a virtio-blk load generator over the test front-end
 * (frontend.h), the "fio" of the vhost benchmarks. It keeps --qd requests
 * in flight in total, spread round-robin over --queues queues, refilling as
 * they complete, and reports IOPS, MB/s, p50/p99 latency and its own CPU
 * time per I/O (getrusage), so a run shows whether the generator or the
 * backend is the bottleneck.
 *
 * --verify: every 512-byte sector written carries a tag {magic, sector,
 * run seed, generation} and a fill derived from it; reads check the tags of
 * whatever they find (all-zero sectors count as never written), and a write
 * run ends by reading back every block it wrote and checking it holds the
 * last generation written. In-flight requests never overlap when verifying.
 * Reads verify only data written by vhost_load --verify (or zeros): a disk
 * written by a run without --verify holds untagged data and fails. 
 * Exit: 0 ok, 1 I/O error, timeout or mismatch, 2 usage, 77 no socket. */
#define _GNU_SOURCE
#include "tests/vhost/frontend.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define TAG_MAGIC 0x4546564e52494143ull /* "CAIRNVFE" little-endian */
#define HIST_LINEAR 128
#define HIST_SUB 64
#define HIST_SIZE (HIST_LINEAR + 40 * HIST_SUB)
#define REAP_BATCH 64

struct slot {
    struct vfe_buf data;
    uint64_t block;   /* index in units of bs */
    int64_t start_ns;
    unsigned queue;
    bool write;
    bool busy;
};

struct args {
    const char *socket;
    const char *rw;
    uint64_t bs;
    unsigned qd;
    double seconds;
    unsigned queues;
    uint64_t size;
    uint64_t seed;
    bool verify, json, indirect, event_idx, random, write;
    int timeout_ms;
};

struct stats {
    uint64_t ios, bytes, errors;
    uint64_t verified, unwritten, mismatches;
    uint64_t hist[HIST_SIZE];
    uint64_t lat_max_ns;
};

struct load {
    struct args a;
    struct vfe fe;
    struct slot *slots;
    uint64_t range_blocks;
    uint64_t seq_next, rng, scan;
    uint32_t *gen;   /* verify, write runs: last generation written per block */
    uint8_t *busy;   /* verify: block has a request in flight */
    uint32_t gen_counter;
    struct stats st;
    unsigned inflight;
};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned hist_bucket(uint64_t v)
{
    unsigned msb, idx;

    if (v < HIST_LINEAR)
        return (unsigned)v;
    msb = 63u - (unsigned)__builtin_clzll(v);
    idx = HIST_LINEAR + (msb - 7) * HIST_SUB + (unsigned)((v >> (msb - 6)) & (HIST_SUB - 1));
    return idx < HIST_SIZE ? idx : HIST_SIZE - 1;
}

static uint64_t hist_value(unsigned idx)
{
    unsigned k, msb;

    if (idx < HIST_LINEAR)
        return idx;
    k = idx - HIST_LINEAR;
    msb = k / HIST_SUB + 7;
    return ((uint64_t)(HIST_SUB + k % HIST_SUB) << (msb - 6)) + (1ull << (msb - 7));
}

static double hist_pct_us(const struct stats *st, double pct)
{
    uint64_t want = (uint64_t)((double)st->ios * pct / 100.0), seen = 0;
    unsigned i;

    for (i = 0; i < HIST_SIZE; i++) {
        seen += st->hist[i];
        if (seen > want)
            return (double)hist_value(i) / 1000.0;
    }
    return (double)st->lat_max_ns / 1000.0;
}

/* ---- tags ---- */

static void tag_fill(uint8_t *sec, uint64_t sector, uint64_t seed, uint32_t gen)
{
    uint64_t s = sector * 0x2545f4914f6cdd1dull ^ seed ^ (uint64_t)gen << 32;
    uint64_t w[4] = {TAG_MAGIC, sector, seed, gen};
    unsigned i;

    memcpy(sec, w, sizeof(w));
    for (i = sizeof(w); i < VFE_SECTOR; i += 8) {
        uint64_t v = splitmix(&s);

        memcpy(sec + i, &v, 8);
    }
}

static bool all_zero(const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Checks one block read back; @expect_gen 0 means "any consistent tag". */
static void check_block(struct load *ld, const uint8_t *buf, uint64_t block, uint32_t expect_gen)
{
    uint64_t first = block * (ld->a.bs / VFE_SECTOR), i;
    uint8_t want[VFE_SECTOR];

    for (i = 0; i < ld->a.bs / VFE_SECTOR; i++) {
        const uint8_t *sec = buf + i * VFE_SECTOR;
        uint64_t w[4];

        memcpy(w, sec, sizeof(w));
        if (expect_gen == 0 && all_zero(sec, VFE_SECTOR)) {
            ld->st.unwritten++;
            continue;
        }
        if (w[0] == TAG_MAGIC && w[1] == first + i && w[3] <= UINT32_MAX) {
            tag_fill(want, w[1], w[2], (uint32_t)w[3]);
            if (memcmp(want, sec, VFE_SECTOR) == 0 &&
                (expect_gen == 0 || (w[2] == ld->a.seed && w[3] == expect_gen))) {
                ld->st.verified++;
                continue;
            }
        }
        if (ld->st.mismatches++ >= 5)
            continue;
        if (w[0] != TAG_MAGIC)
            fprintf(stderr, "vhost_load: verify: sector %" PRIu64 " holds no vhost_load tag "
                            "(data not written by vhost_load --verify?)\n", first + i);
        else
            fprintf(stderr,
                    "vhost_load: verify: sector %" PRIu64 " holds tag {sector %" PRIu64
                    " seed %" PRIu64 " gen %" PRIu64 "}%s, expected %s gen %u of seed %" PRIu64
                    "\n", first + i, w[1], w[2], w[3],
                    w[1] == first + i ? " with a corrupt fill" : "",
                    expect_gen ? "" : "any", expect_gen, ld->a.seed);
    }
}

/* ---- the engine ---- */

enum phase { PH_MAIN, PH_READBACK };

static int pick(struct load *ld, enum phase ph, uint64_t *block)
{
    unsigned tries;
    uint64_t b = 0;

    if (ph == PH_READBACK) {
        while (ld->scan < ld->range_blocks && (!ld->gen[ld->scan] || ld->busy[ld->scan]))
            ld->scan++;
        if (ld->scan >= ld->range_blocks)
            return -ENOENT;
        *block = ld->scan++;
        return 0;
    }
    for (tries = 0; tries < 64; tries++) {
        b = ld->a.random ? splitmix(&ld->rng) % ld->range_blocks
                         : ld->seq_next++ % ld->range_blocks;
        if (!ld->busy || !ld->busy[b])
            break;
    }
    while (ld->busy && ld->busy[b])
        b = (b + 1) % ld->range_blocks; /* QD < range_blocks, so one is free */
    *block = b;
    return 0;
}

static int submit(struct load *ld, struct slot *s, enum phase ph)
{
    struct vfe_seg segs[VFE_MAX_SEGS];
    uint64_t seg_max = ld->fe.cfg.size_max ? ld->fe.cfg.size_max : ld->a.bs, off = 0;
    struct vfe_req r = {0};
    unsigned n = 0;
    int rc;

    rc = pick(ld, ph, &s->block);
    if (rc < 0)
        return rc;
    s->write = ph == PH_MAIN && ld->a.write;
    if (ld->busy)
        ld->busy[s->block] = 1;
    if (s->write && ld->a.verify) {
        uint64_t sec = s->block * (ld->a.bs / VFE_SECTOR), i;

        ld->gen[s->block] = ++ld->gen_counter;
        for (i = 0; i < ld->a.bs / VFE_SECTOR; i++)
            tag_fill(s->data.ptr + i * VFE_SECTOR, sec + i, ld->a.seed, ld->gen_counter);
    }
    while (off < ld->a.bs && n < VFE_MAX_SEGS) {
        uint64_t len = ld->a.bs - off < seg_max ? ld->a.bs - off : seg_max;

        segs[n++] = (struct vfe_seg){s->data.gpa + off, (uint32_t)len};
        off += len;
    }
    r.type = s->write ? VFE_BLK_T_OUT : VFE_BLK_T_IN;
    r.sector = s->block * (ld->a.bs / VFE_SECTOR);
    r.segs = segs;
    r.nsegs = n;
    r.indirect = ld->a.indirect;
    r.ctx = s;
    s->start_ns = vfe_now_ns();
    rc = vfe_submit(&ld->fe.q[s->queue], &r);
    if (rc < 0) {
        fprintf(stderr, "vhost_load: submit on queue %u: %s\n", s->queue, strerror(-rc));
        return rc;
    }
    s->busy = true;
    ld->inflight++;
    return 0;
}

static int complete(struct load *ld, const struct vfe_cpl *c, enum phase ph, int64_t now)
{
    struct slot *s = c->ctx;
    uint64_t lat = (uint64_t)(now - s->start_ns);

    s->busy = false;
    ld->inflight--;
    if (ld->busy)
        ld->busy[s->block] = 0;
    if (c->status != VFE_BLK_S_OK) {
        if (ld->st.errors++ < 5)
            fprintf(stderr, "vhost_load: %s of block %" PRIu64 " failed: status %u (%s)\n",
                    s->write ? "write" : "read", s->block, c->status,
                    vfe_status_name(c->status));
        return 0;
    }
    if (!s->write && ld->a.verify)
        check_block(ld, s->data.ptr, s->block, ph == PH_READBACK ? ld->gen[s->block] : 0);
    if (ph == PH_READBACK)
        return 0;
    ld->st.ios++;
    ld->st.bytes += ld->a.bs;
    ld->st.hist[hist_bucket(lat)]++;
    if (lat > ld->st.lat_max_ns)
        ld->st.lat_max_ns = lat;
    return 0;
}

/* Runs until @end_ns (PH_MAIN) or until every written block was read back
 * (PH_READBACK), then drains. 0, or -errno after printing why. */
static int run_phase(struct load *ld, enum phase ph, int64_t end_ns)
{
    struct vfe_queue *qs[VFE_MAX_QUEUES];
    struct vfe_cpl cpl[REAP_BATCH];
    unsigned i, nq = ld->fe.nqueues;
    bool more = true;
    int rc;

    for (i = 0; i < nq; i++)
        qs[i] = &ld->fe.q[i];
    for (i = 0; i < ld->a.qd && more; i++) {
        rc = submit(ld, &ld->slots[i], ph);
        if (rc == -ENOENT)
            more = false;
        else if (rc < 0)
            return rc;
    }
    for (i = 0; i < nq; i++)
        if ((rc = vfe_kick(qs[i])) < 0)
            return rc;
    while (ld->inflight > 0) {
        int64_t now = vfe_now_ns();
        unsigned got = 0;

        if (ph == PH_MAIN && now >= end_ns)
            more = false;
        for (i = 0; i < nq; i++) {
            int n = vfe_reap(qs[i], cpl, REAP_BATCH), k;

            if (n < 0) {
                fprintf(stderr, "vhost_load: %s\n", ld->fe.err);
                return n;
            }
            for (k = 0; k < n; k++) {
                struct slot *s = cpl[k].ctx;

                complete(ld, &cpl[k], ph, now);
                if (!more)
                    continue;
                rc = submit(ld, s, ph);
                if (rc == -ENOENT)
                    more = false;
                else if (rc < 0)
                    return rc;
            }
            got += (unsigned)n;
            if ((rc = vfe_kick(qs[i])) < 0)
                return rc;
        }
        if (got)
            continue;
        rc = vfe_wait(&ld->fe, qs, nq, now + (int64_t)ld->a.timeout_ms * 1000000);
        if (rc < 0) {
            fprintf(stderr, "vhost_load: %u requests in flight, no completion within %d ms: %s\n",
                    ld->inflight, ld->a.timeout_ms, ld->fe.err);
            return rc;
        }
    }
    return 0;
}

/* ---- setup and report ---- */

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);

    if (end == s)
        return -EINVAL;
    if (*end == 'k' || *end == 'K')
        v <<= 10, end++;
    else if (*end == 'm' || *end == 'M')
        v <<= 20, end++;
    else if (*end == 'g' || *end == 'G')
        v <<= 30, end++;
    if (*end)
        return -EINVAL;
    *out = v;
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: vhost_load --socket PATH --rw randread|randwrite|read|write --bs 4k|1m\n"
            "       --qd N --seconds S [--queues Q] [--verify] [--json] [--size BYTES]\n"
            "       [--seed N] [--indirect] [--event-idx] [--timeout-ms MS]\n"
            "--qd is the total in flight, spread over the queues.\n");
}

static int parse_args(struct args *a, int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", 1, 0, 's'}, {"rw", 1, 0, 'r'},     {"bs", 1, 0, 'b'},
        {"qd", 1, 0, 'q'},     {"seconds", 1, 0, 't'}, {"queues", 1, 0, 'Q'},
        {"verify", 0, 0, 'v'}, {"json", 0, 0, 'j'},    {"size", 1, 0, 'S'},
        {"seed", 1, 0, 'e'},   {"indirect", 0, 0, 'i'}, {"event-idx", 0, 0, 'E'},
        {"timeout-ms", 1, 0, 'T'}, {0, 0, 0, 0},
    };
    int c;

    *a = (struct args){.rw = "randread", .bs = 4096, .qd = 1, .seconds = 5, .queues = 1,
                       .timeout_ms = 5000};
    a->seed = (uint64_t)vfe_now_ns() ^ (uint64_t)getpid() << 32;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': a->socket = optarg; break;
        case 'r': a->rw = optarg; break;
        case 'b': if (parse_size(optarg, &a->bs) < 0) return -EINVAL; break;
        case 'q': a->qd = (unsigned)atoi(optarg); break;
        case 't': a->seconds = atof(optarg); break;
        case 'Q': a->queues = (unsigned)atoi(optarg); break;
        case 'v': a->verify = true; break;
        case 'j': a->json = true; break;
        case 'S': if (parse_size(optarg, &a->size) < 0) return -EINVAL; break;
        case 'e': a->seed = strtoull(optarg, NULL, 0); break;
        case 'i': a->indirect = true; break;
        case 'E': a->event_idx = true; break;
        case 'T': a->timeout_ms = atoi(optarg); break;
        default: return -EINVAL;
        }
    }
    if (!a->socket || optind != argc || a->qd < 1 || a->qd > 4096 || a->queues < 1 ||
        a->queues > VFE_MAX_QUEUES || a->seconds <= 0 || a->bs < VFE_SECTOR ||
        a->bs % VFE_SECTOR || a->bs > (64u << 20) || a->timeout_ms <= 0)
        return -EINVAL;
    if (!strcmp(a->rw, "randread") || !strcmp(a->rw, "randwrite"))
        a->random = true;
    else if (strcmp(a->rw, "read") && strcmp(a->rw, "write"))
        return -EINVAL;
    a->write = !strcmp(a->rw, "write") || !strcmp(a->rw, "randwrite");
    return 0;
}

static unsigned pow2_at_least(unsigned v)
{
    unsigned p = 128;

    while (p < v)
        p <<= 1;
    return p;
}

static int setup(struct load *ld)
{
    struct args *a = &ld->a;
    unsigned per_q = (a->qd + a->queues - 1) / a->queues, descs, i;
    uint64_t segs = (a->bs + (1u << 20) - 1) >> 20, cap;
    struct vfe_opts o;
    int rc;

    descs = a->indirect ? 1 : (unsigned)segs + 2;
    vfe_opts_default(&o, a->socket);
    o.num_queues = a->queues;
    o.event_idx = a->event_idx;
    o.timeout_ms = a->timeout_ms;
    o.queue_size = pow2_at_least(per_q * descs);
    if (o.queue_size > 1024) { /* qemu's VIRTQUEUE_MAX_SIZE */
        fprintf(stderr, "vhost_load: qd %u needs %u descriptors per queue; use --indirect "
                        "or more --queues\n", a->qd, o.queue_size);
        return -EINVAL;
    }
    o.mem_size = (16ull << 20) + (uint64_t)a->qd * a->bs + a->queues * o.queue_size * 1024ull;
    rc = vfe_open(&ld->fe, &o);
    if (rc < 0) {
        fprintf(stderr, "vhost_load: %s\n", ld->fe.err);
        return rc;
    }
    if (ld->fe.nqueues < a->queues)
        fprintf(stderr, "vhost_load: backend offers %u queues, using %u\n",
                ld->fe.nqueues, ld->fe.nqueues);
    if (a->bs % ld->fe.cfg.blk_size) {
        fprintf(stderr, "vhost_load: bs %" PRIu64 " is not a multiple of blk_size %u\n",
                a->bs, ld->fe.cfg.blk_size);
        return -EINVAL;
    }
    if (ld->fe.cfg.size_max && (a->bs + ld->fe.cfg.size_max - 1) / ld->fe.cfg.size_max >
                                   VFE_MAX_SEGS) {
        fprintf(stderr, "vhost_load: bs too large for size_max %u\n", ld->fe.cfg.size_max);
        return -EINVAL;
    }
    cap = ld->fe.cfg.capacity_sectors * VFE_SECTOR;
    if (a->size && a->size < cap)
        cap = a->size;
    ld->range_blocks = cap / a->bs;
    if (ld->range_blocks <= a->qd) {
        fprintf(stderr, "vhost_load: the range holds %" PRIu64 " blocks, need more than qd\n",
                ld->range_blocks);
        return -EINVAL;
    }
    ld->slots = calloc(a->qd, sizeof(*ld->slots));
    if (a->verify) {
        ld->busy = calloc(ld->range_blocks, 1);
        ld->gen = calloc(ld->range_blocks, sizeof(*ld->gen));
    }
    if (!ld->slots || (a->verify && (!ld->busy || !ld->gen)))
        return -ENOMEM;
    for (i = 0; i < a->qd; i++) {
        struct slot *s = &ld->slots[i];
        uint64_t k;

        rc = vfe_mem_alloc(&ld->fe, a->bs, 4096, &s->data);
        if (rc < 0) {
            fprintf(stderr, "vhost_load: %s\n", ld->fe.err);
            return rc;
        }
        for (k = 0; k < a->bs; k += 8) {
            uint64_t v = splitmix(&ld->rng);

            memcpy(s->data.ptr + k, &v, 8);
        }
        s->queue = i % ld->fe.nqueues;
    }
    ld->rng = a->seed;
    return 0;
}

static void report(const struct load *ld, double secs, double cpu_s)
{
    const struct args *a = &ld->a;
    const struct stats *st = &ld->st;
    double iops = (double)st->ios / secs, mbs = (double)st->bytes / secs / 1e6;
    double cpu_us = st->ios ? cpu_s * 1e6 / (double)st->ios : 0;

    if (a->json) {
        printf("{\"rw\":\"%s\",\"bs\":%" PRIu64 ",\"qd\":%u,\"queues\":%u,\"seconds\":%.3f,"
               "\"ios\":%" PRIu64 ",\"iops\":%.0f,\"mb_s\":%.1f,\"lat_p50_us\":%.1f,"
               "\"lat_p99_us\":%.1f,\"lat_max_us\":%.1f,\"cpu_us_per_io\":%.2f,"
               "\"errors\":%" PRIu64 ",\"verify\":%s,\"verified_sectors\":%" PRIu64
               ",\"unwritten_sectors\":%" PRIu64 ",\"mismatches\":%" PRIu64
               ",\"seed\":%" PRIu64 "}\n",
               a->rw, a->bs, a->qd, ld->fe.nqueues, secs, st->ios, iops, mbs,
               hist_pct_us(st, 50), hist_pct_us(st, 99), (double)st->lat_max_ns / 1000.0,
               cpu_us, st->errors, a->verify ? "true" : "false", st->verified, st->unwritten,
               st->mismatches, a->seed);
        return;
    }
    printf("vhost_load: %s bs=%" PRIu64 " qd=%u queues=%u %.2fs: %" PRIu64 " ios, %.0f IOPS, "
           "%.1f MB/s, lat p50 %.1f us p99 %.1f us max %.1f us, cpu %.2f us/io, errors %" PRIu64
           "\n",
           a->rw, a->bs, a->qd, ld->fe.nqueues, secs, st->ios, iops, mbs, hist_pct_us(st, 50),
           hist_pct_us(st, 99), (double)st->lat_max_ns / 1000.0, cpu_us, st->errors);
    if (a->verify)
        printf("vhost_load: verify seed %" PRIu64 ": %" PRIu64 " sectors verified, %" PRIu64
               " never written, %" PRIu64 " mismatches\n",
               a->seed, st->verified, st->unwritten, st->mismatches);
}

static double rusage_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    static struct load ld;
    double cpu0, secs;
    int64_t t0, t1;
    int rc;

    if (parse_args(&ld.a, argc, argv) < 0) {
        usage();
        return 2;
    }
    if (access(ld.a.socket, F_OK) < 0) {
        fprintf(stderr, "vhost_load: %s does not exist; skipping\n", ld.a.socket);
        return 77;
    }
    rc = setup(&ld);
    if (rc < 0) {
        vfe_close(&ld.fe);
        return rc == -ENOENT || rc == -ECONNREFUSED ? 77 : 1;
    }
    cpu0 = rusage_s();
    t0 = vfe_now_ns();
    rc = run_phase(&ld, PH_MAIN, t0 + (int64_t)(ld.a.seconds * 1e9));
    t1 = vfe_now_ns();
    secs = (double)(t1 - t0) / 1e9;
    cpu0 = rusage_s() - cpu0;
    if (rc == 0 && ld.a.verify && ld.a.write)
        rc = run_phase(&ld, PH_READBACK, 0);
    if (rc == 0)
        report(&ld, secs, cpu0);
    if (rc == 0 && vfe_stop(&ld.fe) < 0) {
        fprintf(stderr, "vhost_load: stop: %s\n", ld.fe.err);
        rc = -EPROTO;
    }
    vfe_close(&ld.fe);
    if (rc < 0 || ld.st.errors || ld.st.mismatches) {
        fprintf(stderr, "vhost_load: FAILED (seed %" PRIu64 ")\n", ld.a.seed);
        return 1;
    }
    return 0;
}
