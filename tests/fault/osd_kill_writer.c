/* osd_kill_writer: the client side of the OSD kill test (osd_kill.sh).
 * Several clients overwrite a set of objects again and again while the
 * script kills OSDs with SIGKILL and restarts them; afterwards every object
 * is checked against what the OSDs acknowledged.
 *
 *   osd_kill_writer CONF POOL --seconds T [--objects N] [--clients C]
 *                   [--journal FILE] [--manifest FILE]
 *
 * Object J belongs to client J % C, which writes generation 1, 2, 3, ... of
 * it, each a write_full whose every 4 KiB block carries (J, generation,
 * block index) and a pattern derived from them, at a size that varies by
 * generation (4 KiB to 1 MiB). A client remembers, per object, the last
 * generation the cluster acknowledged and the last one it attempted. The
 * invariant, checked at the end for every object: it reads back as exactly
 * one generation g, whole (no block of another generation, the right size),
 * with acked <= g <= attempted: an acknowledged write is never lost or
 * altered, and an unacknowledged one is all or nothing.
 * --journal appends a line per acknowledged write, --manifest one per object
 * as the final check found it, both "NAME GEN SIZE CRC32C VERSION" (GEN 0:
 * absent), the format tests/replication/repl_objects verifies against.
 * SIGUSR1 ends the writing early (the check still runs): the replication
 * chaos test stops the load when its kill loop is over.
 * Exit 0 when the invariant held for every object, 1 otherwise. */
#include "client/cairn.h"
#include "common/crc32c.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCK 4096u
#define MAX_SIZE (1u << 20)
#define MAX_CLIENTS 16

struct object {
    uint64_t acked;     /* last generation acknowledged */
    uint64_t attempted; /* last generation sent */
};

struct run {
    const char *conf, *pool_name;
    int32_t pool;
    unsigned objects, clients;
    double until;
    struct object *obj;
    atomic_uint write_errors, check_errors;
    atomic_ulong writes;
    atomic_bool stop;             /* SIGUSR1 came: stop writing */
    atomic_uint running;          /* writer threads not yet done */
    FILE *journal;                /* or NULL; lines under journal_lock */
    FILE *manifest;               /* or NULL; written by the final check */
    pthread_mutex_t journal_lock; /* one line at a time in either file */
};

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static size_t gen_size(unsigned j, uint64_t gen)
{
    return BLOCK * (1 + mix((uint64_t)j << 32 | gen) % (MAX_SIZE / BLOCK));
}

/* Block @b of generation @gen of object @j: a 24-byte header, then a pattern. */
static void fill_block(uint8_t *p, unsigned j, uint64_t gen, uint64_t b)
{
    uint64_t hdr[3] = {j, gen, b};
    memcpy(p, hdr, sizeof(hdr));
    uint64_t s = mix(mix(j) ^ gen ^ (b << 20));
    for (unsigned off = sizeof(hdr); off < BLOCK; off += 8) {
        uint64_t v = mix(s + off);
        memcpy(p + off, &v, 8);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void name_of(unsigned j, char *buf, size_t len)
{
    snprintf(buf, len, "kill.%u", j);
}

/* One "NAME GEN SIZE CRC32C VERSION" line to @f (journal or manifest). */
static void journal_line(struct run *r, FILE *f, const char *name, uint64_t gen, size_t size,
                         uint32_t crc, uint64_t version)
{
    if (!f)
        return;
    pthread_mutex_lock(&r->journal_lock);
    fprintf(f, "%s %" PRIu64 " %zu %08x %" PRIu64 "\n", name, gen, size, crc, version);
    fflush(f);
    pthread_mutex_unlock(&r->journal_lock);
}

struct client {
    struct run *r;
    unsigned id;
};

static void *writer_main(void *arg)
{
    struct client *cl = arg;
    struct run *r = cl->r;
    struct cairn *c;
    uint8_t *buf = malloc(MAX_SIZE);
    int e = buf ? cairn_connect(r->conf, NULL, &c) : -ENOMEM;
    if (e < 0) {
        fprintf(stderr, "osd_kill_writer: client %u: %s\n", cl->id, strerror(-e));
        atomic_fetch_add(&r->write_errors, 1);
        free(buf);
        return NULL;
    }
    uint64_t rng = mix(cl->id + 1);
    while (now_s() < r->until && !atomic_load(&r->stop)) {
        rng = mix(rng);
        unsigned j = cl->id + (unsigned)(rng % (r->objects / r->clients)) * r->clients;
        struct object *o = &r->obj[j];
        uint64_t gen = o->attempted + 1;
        size_t size = gen_size(j, gen);
        for (size_t b = 0; b < size / BLOCK; b++)
            fill_block(buf + b * BLOCK, j, gen, b);
        char name[32];
        name_of(j, name, sizeof(name));
        o->attempted = gen;
        struct cairn_op *op = cairn_op_create();
        e = op ? cairn_op_write_full(op, buf, size) : -ENOMEM;
        if (e == 0)
            e = cairn_op_exec(c, r->pool, name, op);
        if (e == 0) {
            o->acked = gen;
            atomic_fetch_add(&r->writes, 1);
            journal_line(r, r->journal, name, gen, size, cairn_crc32c(0, buf, size),
                         cairn_op_version(op));
        } else {
            /* Not acknowledged: it may or may not have happened. The
             * cluster must still answer: count it as a failure. */
            fprintf(stderr, "osd_kill_writer: write %s gen %" PRIu64 ": %s\n", name, gen,
                    strerror(-e));
            atomic_fetch_add(&r->write_errors, 1);
        }
        cairn_op_destroy(op);
    }
    cairn_shutdown(c);
    free(buf);
    atomic_fetch_sub(&r->running, 1);
    return NULL;
}

/* Checks object @j: 0 when it holds one whole generation within bounds. */
static int check_object(struct run *r, struct cairn *c, unsigned j, uint8_t *buf, uint8_t *want)
{
    struct object *o = &r->obj[j];
    char name[32];
    size_t n = 0;
    name_of(j, name, sizeof(name));
    int e = cairn_read(c, r->pool, name, 0, MAX_SIZE + 1, buf, &n);
    if (e == -ENOENT && o->acked == 0) {
        journal_line(r, r->manifest, name, 0, 0, 0, 0);
        return 0; /* never acknowledged, never written: fine */
    }
    if (e < 0) {
        fprintf(stderr, "osd_kill_writer: read %s: %s (acked gen %" PRIu64 ")\n", name,
                strerror(-e), o->acked);
        return -1;
    }
    uint64_t gen = 0;
    if (n >= 24)
        memcpy(&gen, buf + 8, 8);
    if (gen < o->acked || gen > o->attempted || gen == 0) {
        fprintf(stderr,
                "osd_kill_writer: %s holds generation %" PRIu64 ", acked %" PRIu64
                ", attempted %" PRIu64 "\n",
                name, gen, o->acked, o->attempted);
        return -1;
    }
    if (n != gen_size(j, gen)) {
        fprintf(stderr, "osd_kill_writer: %s generation %" PRIu64 " is %zu bytes, not %zu\n",
                name, gen, n, gen_size(j, gen));
        return -1;
    }
    for (size_t b = 0; b < n / BLOCK; b++) {
        fill_block(want, j, gen, b);
        if (memcmp(want, buf + b * BLOCK, BLOCK) != 0) {
            fprintf(stderr, "osd_kill_writer: %s block %zu is not generation %" PRIu64 "\n",
                    name, b, gen);
            return -1;
        }
    }
    journal_line(r, r->manifest, name, gen, n, cairn_crc32c(0, buf, n), 0);
    return 0;
}

static int check_all(struct run *r)
{
    struct cairn *c;
    uint8_t *buf = malloc(MAX_SIZE + 1), *want = malloc(BLOCK);
    int e = buf && want ? cairn_connect(r->conf, NULL, &c) : -ENOMEM;
    if (e < 0) {
        fprintf(stderr, "osd_kill_writer: check: %s\n", strerror(-e));
        free(buf);
        free(want);
        return 1;
    }
    unsigned bad = 0, acked = 0;
    for (unsigned j = 0; j < r->objects; j++) {
        bad += check_object(r, c, j, buf, want) < 0;
        acked += r->obj[j].acked > 0;
    }
    cairn_shutdown(c);
    free(buf);
    free(want);
    printf("checked %u objects (%u with acknowledged writes): %u broke the invariant\n",
           r->objects, acked, bad);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seconds", required_argument, NULL, 't'},
        {"objects", required_argument, NULL, 'n'},
        {"clients", required_argument, NULL, 'c'},
        {"journal", required_argument, NULL, 'j'},
        {"manifest", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    struct run r = {.objects = 64, .clients = 4};
    double seconds = 0;
    const char *journal = NULL, *manifest = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 't')
            seconds = strtod(optarg, NULL);
        else if (o == 'n')
            r.objects = (unsigned)strtoul(optarg, NULL, 10);
        else if (o == 'c')
            r.clients = (unsigned)strtoul(optarg, NULL, 10);
        else if (o == 'j')
            journal = optarg;
        else if (o == 'm')
            manifest = optarg;
        else
            return 2;
    }
    if (argc - optind != 2 || seconds <= 0 || r.clients == 0 || r.clients > MAX_CLIENTS ||
        r.objects < r.clients) {
        fprintf(stderr, "usage: osd_kill_writer CONF POOL --seconds T [--objects N] "
                        "[--clients C] [--journal FILE] [--manifest FILE]\n");
        return 2;
    }
    pthread_mutex_init(&r.journal_lock, NULL);
    if ((journal && !(r.journal = fopen(journal, "a"))) ||
        (manifest && !(r.manifest = fopen(manifest, "w")))) {
        fprintf(stderr, "osd_kill_writer: %s: %s\n", r.journal ? manifest : journal,
                strerror(errno));
        return 1;
    }
    /* SIGUSR1 is taken by sigtimedwait below, in no other thread: block it
     * before any thread (ours or libcairn's) starts, so they inherit that. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, NULL);
    r.conf = argv[optind];
    r.pool_name = argv[optind + 1];
    r.obj = calloc(r.objects, sizeof(*r.obj));
    struct cairn *c;
    int e = r.obj ? cairn_connect(r.conf, NULL, &c) : -ENOMEM;
    if (e == 0) {
        e = cairn_pool_lookup(c, r.pool_name, &r.pool);
        cairn_shutdown(c);
    }
    if (e < 0) {
        fprintf(stderr, "osd_kill_writer: pool %s: %s\n", r.pool_name, strerror(-e));
        return 1;
    }

    pthread_t th[MAX_CLIENTS];
    struct client cl[MAX_CLIENTS];
    r.until = now_s() + seconds;
    atomic_store(&r.running, r.clients);
    for (unsigned i = 0; i < r.clients; i++) {
        cl[i] = (struct client){.r = &r, .id = i};
        if (pthread_create(&th[i], NULL, writer_main, &cl[i]) != 0)
            return 1;
    }
    while (atomic_load(&r.running) > 0) {
        struct timespec tick = {.tv_nsec = 100 * 1000 * 1000};
        if (sigtimedwait(&usr1, NULL, &tick) == SIGUSR1)
            atomic_store(&r.stop, true);
    }
    for (unsigned i = 0; i < r.clients; i++)
        pthread_join(th[i], NULL);
    printf("%lu writes acknowledged, %u failed\n", atomic_load(&r.writes),
           atomic_load(&r.write_errors));
    /* The script's last kill is over before our time is: reads of an OSD
     * still restarting wait for it like any op. */
    int rc = check_all(&r);
    if (r.journal)
        fclose(r.journal);
    if (r.manifest && fclose(r.manifest) != 0)
        rc = 1;
    free(r.obj);
    return rc || atomic_load(&r.write_errors) ? 1 : 0;
}
