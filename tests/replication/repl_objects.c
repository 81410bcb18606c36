/* repl_objects: writes objects of known content through libcairn and keeps a
 * journal of every acknowledged write; verifies a pool against a journal.
 * The replication tests (tests/replication/repl_*.sh) write before and during a
 * fault, then verify after it that every object reads back as its newest
 * acknowledged write: nothing lost, nothing stale, nothing torn.
 *
 *   repl_objects CONF POOL write JOURNAL --prefix P [--from A] --count N
 *                [--gen G] [--max-size BYTES]
 *   repl_objects CONF POOL verify JOURNAL
 *
 * write stores objects P.A .. P.(A+N-1) as generation G (default 1), one
 * write_full each, and appends one line per acknowledged write to JOURNAL:
 *   NAME GEN SIZE CRC32C VERSION
 * (VERSION: what the OSD returned). An object's size (64 B to BYTES, default
 * 256 KiB) and content are a pure function of (NAME, GEN); the content starts
 * with a header naming both, so a mismatch can say which generation it saw.
 * verify reads every object of JOURNAL (the last line of a name wins; GEN 0
 * means the object must not exist) and compares size and crc32c. The manifest
 * of tests/fault/osd_kill_writer (--manifest) has the same format.
 * Exit 0 when every write was acknowledged / every object verified, 1
 * otherwise (each failure named, up to a limit), 2 on usage errors. */
#include "client/cairn.h"
#include "common/crc32c.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 128
#define HEADER_BYTES 32u
#define MAX_REPORTED 20u
#define MAX_OBJECTS 1000000u

struct entry {
    char name[NAME_MAX_LEN];
    uint64_t gen;
    uint64_t size;
    uint32_t crc;
    size_t line; /* in the journal: later lines win */
};

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t name_hash(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *name; name++)
        h = (h ^ (uint8_t)*name) * 0x100000001b3ull;
    return h;
}

static size_t gen_size(const char *name, uint64_t gen, size_t max_size)
{
    return HEADER_BYTES + mix(name_hash(name) ^ gen) % (max_size - HEADER_BYTES + 1);
}

/* Generation @gen of @name: "cairnrpl", the name's hash, the generation, the
 * size, then a pattern seeded by all of them. */
static void fill(uint8_t *p, const char *name, uint64_t gen, size_t size)
{
    uint64_t hdr[4] = {0x6c70726e72696163ull, name_hash(name), gen, size};
    memcpy(p, hdr, sizeof(hdr));
    uint64_t s = mix(hdr[1] ^ mix(gen));
    for (size_t off = HEADER_BYTES; off < size; off += 8) {
        uint64_t v = mix(s + off);
        memcpy(p + off, &v, size - off < 8 ? size - off : 8);
    }
}

static int do_write(struct cairn *c, int32_t pool, FILE *journal, const char *prefix, unsigned from,
                    unsigned count, uint64_t gen, size_t max_size)
{
    uint8_t *buf = malloc(max_size);
    unsigned failed = 0;
    if (!buf)
        return 1;
    for (unsigned j = from; j < from + count; j++) {
        char name[NAME_MAX_LEN];
        snprintf(name, sizeof(name), "%s.%u", prefix, j);
        size_t size = gen_size(name, gen, max_size);
        fill(buf, name, gen, size);
        struct cairn_op *op = cairn_op_create();
        int e = op ? cairn_op_write_full(op, buf, size) : -ENOMEM;
        if (e == 0)
            e = cairn_op_exec(c, pool, name, op);
        if (e < 0) {
            char why[256];
            cairn_error_string(c, e, why, sizeof(why));
            if (failed++ < MAX_REPORTED)
                fprintf(stderr, "repl_objects: write %s gen %" PRIu64 ": %s\n", name, gen, why);
        } else {
            fprintf(journal, "%s %" PRIu64 " %zu %08x %" PRIu64 "\n", name, gen, size,
                    cairn_crc32c(0, buf, size), cairn_op_version(op));
            fflush(journal);
        }
        cairn_op_destroy(op);
    }
    free(buf);
    printf("wrote %u objects %s.%u..%u as generation %" PRIu64 ": %u failed\n", count - failed,
           prefix, from, from + count - 1, gen, failed);
    return failed ? 1 : 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Reads @path into *@out (sorted by name, the last line of a name kept). */
static int load_journal(const char *path, struct entry **out, size_t *n_out)
{
    FILE *f = fopen(path, "r");
    struct entry *v = NULL;
    size_t n = 0, cap = 0, line = 0;
    char buf[512];
    if (!f) {
        fprintf(stderr, "repl_objects: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(buf, sizeof(buf), f)) {
        struct entry e;
        line++;
        if (sscanf(buf, "%127s %" SCNu64 " %" SCNu64 " %" SCNx32, e.name, &e.gen, &e.size,
                   &e.crc) != 4 ||
            n >= MAX_OBJECTS) {
            fprintf(stderr, "repl_objects: %s: line %zu is malformed\n", path, line);
            fclose(f);
            free(v);
            return -1;
        }
        e.line = line;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            struct entry *nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                fclose(f);
                free(v);
                return -1;
            }
            v = nv;
        }
        v[n++] = e;
    }
    fclose(f);
    /* The last line of a name wins: sort by (name, line), keep run ends. */
    qsort(v, n, sizeof(*v), cmp_entry);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (i + 1 == n || strcmp(v[i].name, v[i + 1].name) != 0)
            v[kept++] = v[i];
    *out = v;
    *n_out = kept;
    return 0;
}

/* 0 when @e reads back as journaled; else says why on stderr (if @report). */
static int verify_one(struct cairn *c, int32_t pool, const struct entry *e, uint8_t *buf,
                      size_t cap, bool report)
{
    size_t n = 0;
    int r = cairn_read(c, pool, e->name, 0, cap, buf, &n);
    char why[256] = "";
    if (r == -ENOENT && e->gen == 0)
        return 0;
    if (r < 0) {
        cairn_error_string(c, r, why, sizeof(why));
        if (report)
            fprintf(stderr, "repl_objects: %s (generation %" PRIu64 "): read failed: %s\n", e->name,
                    e->gen, why);
        return -1;
    }
    if (e->gen == 0) {
        if (report)
            fprintf(stderr, "repl_objects: %s exists (%zu bytes), but must not\n", e->name, n);
        return -1;
    }
    if (n == e->size && cairn_crc32c(0, buf, n) == e->crc)
        return 0;
    if (report) {
        uint64_t hdr[4] = {0};
        if (n >= HEADER_BYTES)
            memcpy(hdr, buf, sizeof(hdr));
        fprintf(stderr,
                "repl_objects: %s: %zu bytes (header: generation %" PRIu64 ", %s), want "
                "generation %" PRIu64 " of %" PRIu64 " bytes, crc32c %08x\n",
                e->name, n, hdr[2], hdr[1] == name_hash(e->name) ? "this object" : "no header",
                e->gen, e->size, e->crc);
    }
    return -1;
}

static int do_verify(struct cairn *c, int32_t pool, const char *path)
{
    struct entry *v;
    size_t n, max = 0;
    unsigned bad = 0;
    if (load_journal(path, &v, &n) < 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        max = v[i].size > max ? v[i].size : max;
    uint8_t *buf = malloc(max + 1);
    if (!buf) {
        free(v);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        bad += verify_one(c, pool, &v[i], buf, max + 1, bad < MAX_REPORTED) < 0;
    printf("verified %zu objects of %s: %u bad\n", n, path, bad);
    free(buf);
    free(v);
    return bad ? 1 : 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: repl_objects CONF POOL write JOURNAL --prefix P [--from A] --count N "
                    "[--gen G] [--max-size BYTES]\n"
                    "       repl_objects CONF POOL verify JOURNAL\n");
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"prefix", required_argument, NULL, 'p'},   {"from", required_argument, NULL, 'f'},
        {"count", required_argument, NULL, 'n'},    {"gen", required_argument, NULL, 'g'},
        {"max-size", required_argument, NULL, 'm'}, {NULL, 0, NULL, 0},
    };
    const char *prefix = NULL;
    unsigned from = 0, count = 0;
    uint64_t gen = 1;
    size_t max_size = 256u << 10;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'p')
            prefix = optarg;
        else if (o == 'f')
            from = (unsigned)strtoul(optarg, NULL, 10);
        else if (o == 'n')
            count = (unsigned)strtoul(optarg, NULL, 10);
        else if (o == 'g')
            gen = strtoull(optarg, NULL, 10);
        else if (o == 'm')
            max_size = strtoull(optarg, NULL, 10);
        else
            return usage();
    }
    if (argc - optind != 4)
        return usage();
    const char *conf = argv[optind], *pool_name = argv[optind + 1], *cmd = argv[optind + 2];
    const char *journal = argv[optind + 3];
    bool write = strcmp(cmd, "write") == 0;
    if (!write && strcmp(cmd, "verify") != 0)
        return usage();
    if (write && (!prefix || strlen(prefix) > 64 || count == 0 || count > MAX_OBJECTS || gen == 0 ||
                  max_size < HEADER_BYTES || max_size > CAIRN_OP_DATA_MAX))
        return usage();

    struct cairn *c;
    int32_t pool;
    int e = cairn_connect(conf, NULL, &c);
    if (e == 0 && (e = cairn_pool_lookup(c, pool_name, &pool)) < 0)
        cairn_shutdown(c);
    if (e < 0) {
        fprintf(stderr, "repl_objects: pool %s: %s\n", pool_name, strerror(-e));
        return 1;
    }
    int rc;
    if (write) {
        FILE *f = fopen(journal, "a");
        if (!f) {
            fprintf(stderr, "repl_objects: %s: %s\n", journal, strerror(errno));
            rc = 1;
        } else {
            rc = do_write(c, pool, f, prefix, from, count, gen, max_size);
            rc |= fclose(f) != 0;
        }
    } else {
        rc = do_verify(c, pool, journal);
    }
    cairn_shutdown(c);
    return rc;
}
