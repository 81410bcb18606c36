/* RocksDB-backed persistent Raft state of one monitor (log_store.h): record
 * encoding with crc32c, the synced write batches of the driver contract, and
 * loading with validation. Called by the monitor driver (daemon.c) and
 * tests/unit/monitor/test_log_store.c. */
#include "monitor/log_store.h"
#include "common/assert.h"
#include "common/crc32c.h"
#include "common/log.h"

#include <errno.h>
#include <rocksdb/c.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define IDENT_VERSION 1u
#define KEY_IDENT "i"
#define KEY_HARD "h"
#define KEY_SNAP "s"
#define KEY_SNAP_DATA "S"
#define ENTRY_PREFIX 'e'
#define ENTRY_KEY_LEN 9u
#define HARD_LEN (3 * 8 + 4)
#define ENTRY_HDR_LEN (8 + 4) /* term, type; data follows, crc last */
#define IDENT_LEN (4 + 8 + MON_LOG_NAME_MAX + 16 + 4 + 4)
#define SNAP_META_MAX (8 + 8 + 4 + 8 * MON_RAFT_MAX_VOTERS + 8 + 4 + 4)

struct mon_log_store {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_readoptions_t *ro;
    rocksdb_writeoptions_t *wo; /* sync = 1: every batch reaches the disk */
    bool failed;                /* a write failed: refuse more (sticky) */
    uint64_t snap_index;        /* of the stored snapshot, 0 if none */
    uint64_t last_index;        /* last stored entry, or snap_index */
};

/* ---- little helpers ------------------------------------------------------ */

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void entry_key(uint64_t index, uint8_t key[ENTRY_KEY_LEN])
{
    key[0] = ENTRY_PREFIX;
    for (int i = 0; i < 8; i++)
        key[1 + i] = (uint8_t)(index >> (56 - 8 * i));
}

/* The crc of a record covers its key, so a record copied under another key
 * (or an entry under another index) is caught too. */
static uint32_t record_crc(const void *key, size_t klen, const void *body, size_t blen)
{
    return cairn_crc32c(cairn_crc32c(0, key, klen), body, blen);
}

static int db_error(char *err, const char *what)
{
    cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_MON, "mon store: rocksdb %s: %s", what, err);
    rocksdb_free(err);
    return -EIO;
}

static int corrupt(const char *what)
{
    cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_MON, "mon store: corrupted record: %s", what);
    return -EBADMSG;
}

/* ---- open / close -------------------------------------------------------- */

void mon_log_store_close(struct mon_log_store *s)
{
    if (!s)
        return;
    if (s->db)
        rocksdb_close(s->db);
    if (s->opts)
        rocksdb_options_destroy(s->opts);
    if (s->ro)
        rocksdb_readoptions_destroy(s->ro);
    if (s->wo)
        rocksdb_writeoptions_destroy(s->wo);
    free(s);
}

int mon_log_store_open(const char *dir, bool create, struct mon_log_store **out)
{
    struct stat st;
    char *err = NULL;

    /* RocksDB's own messages for these cases are long; give callers errnos. */
    if (!create && stat(dir, &st) < 0)
        return -ENOENT;
    struct mon_log_store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(s->opts, create);
    rocksdb_options_set_error_if_exists(s->opts, create);
    rocksdb_options_set_compression(s->opts, rocksdb_no_compression);
    rocksdb_options_set_max_background_jobs(s->opts, 1);
    rocksdb_options_set_keep_log_file_num(s->opts, 2);
    s->db = rocksdb_open(s->opts, dir, &err);
    if (err) {
        int r = strstr(err, "does not exist") ? -ENOENT
                : strstr(err, "exists")       ? -EEXIST
                : strstr(err, "lock")         ? -EBUSY
                                              : 0;
        if (r)
            rocksdb_free(err);
        else
            r = db_error(err, "open");
        mon_log_store_close(s);
        return r;
    }
    s->ro = rocksdb_readoptions_create();
    s->wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->wo, 1);
    *out = s;
    return 0;
}

void mon_log_store_bounds(const struct mon_log_store *s, uint64_t *snap_index, uint64_t *last_index)
{
    *snap_index = s->snap_index;
    *last_index = s->last_index;
}

/* ---- record encoding ----------------------------------------------------- */

static void put_record(rocksdb_writebatch_t *b, const char *key, uint8_t *body, size_t blen_crc)
{
    size_t blen = blen_crc - 4;
    put_le32(body + blen, record_crc(key, strlen(key), body, blen));
    rocksdb_writebatch_put(b, key, strlen(key), (const char *)body, blen_crc);
}

static void put_hard_state(rocksdb_writebatch_t *b, const struct mon_raft_hard_state *hs)
{
    uint8_t rec[HARD_LEN];
    put_le64(rec, hs->term);
    put_le64(rec + 8, hs->vote);
    put_le64(rec + 16, hs->commit);
    put_record(b, KEY_HARD, rec, sizeof(rec));
}

static void put_ident(rocksdb_writebatch_t *b, const struct mon_log_ident *id)
{
    uint8_t rec[IDENT_LEN] = {0};
    put_le32(rec, IDENT_VERSION);
    put_le64(rec + 4, id->id);
    memcpy(rec + 12, id->name, strnlen(id->name, MON_LOG_NAME_MAX - 1));
    memcpy(rec + 12 + MON_LOG_NAME_MAX, id->fsid, 16);
    put_le32(rec + 28 + MON_LOG_NAME_MAX, id->joined ? 1u : 0u);
    put_record(b, KEY_IDENT, rec, sizeof(rec));
}

static void put_snapshot(rocksdb_writebatch_t *b, const struct mon_raft_snapshot *snap)
{
    uint8_t rec[SNAP_META_MAX];
    const struct mon_raft_membership *m = &snap->membership;
    size_t off = 0;

    CAIRN_ASSERT(m->n_voters <= MON_RAFT_MAX_VOTERS);
    put_le64(rec, snap->index);
    put_le64(rec + 8, snap->term);
    put_le32(rec + 16, m->n_voters);
    off = 20;
    for (uint32_t i = 0; i < m->n_voters; i++, off += 8)
        put_le64(rec + off, m->voters[i]);
    put_le64(rec + off, snap->len);
    put_le32(rec + off + 8, cairn_crc32c(0, snap->data, (size_t)snap->len));
    put_record(b, KEY_SNAP, rec, off + 16);
    rocksdb_writebatch_put(b, KEY_SNAP_DATA, 1, snap->data ? snap->data : "", (size_t)snap->len);
}

static int put_entry(rocksdb_writebatch_t *b, const struct mon_raft_entry *e)
{
    uint8_t key[ENTRY_KEY_LEN];
    size_t len = ENTRY_HDR_LEN + e->len + 4;
    uint8_t *rec = malloc(len);

    if (!rec)
        return -ENOMEM;
    entry_key(e->index, key);
    put_le64(rec, e->term);
    put_le32(rec + 8, e->type);
    if (e->len)
        memcpy(rec + ENTRY_HDR_LEN, e->data, e->len);
    put_le32(rec + len - 4, record_crc(key, sizeof(key), rec, len - 4));
    rocksdb_writebatch_put(b, (const char *)key, sizeof(key), (const char *)rec, len);
    free(rec);
    return 0;
}

/* Deletes the entries with index in [from, to). */
static void delete_entries(rocksdb_writebatch_t *b, uint64_t from, uint64_t to)
{
    uint8_t lo[ENTRY_KEY_LEN], hi[ENTRY_KEY_LEN];
    static const char end_of_entries[1] = {ENTRY_PREFIX + 1};

    entry_key(from, lo);
    entry_key(to, hi);
    if (to == UINT64_MAX)
        rocksdb_writebatch_delete_range(b, (const char *)lo, sizeof(lo), end_of_entries, 1);
    else
        rocksdb_writebatch_delete_range(b, (const char *)lo, sizeof(lo), (const char *)hi,
                                        sizeof(hi));
}

static int commit_batch(struct mon_log_store *s, rocksdb_writebatch_t *b)
{
    char *err = NULL;

    rocksdb_write(s->db, s->wo, b, &err);
    rocksdb_writebatch_destroy(b);
    if (err) {
        s->failed = true;
        return db_error(err, "synced write");
    }
    return 0;
}

/* ---- writes -------------------------------------------------------------- */

int mon_log_store_init(struct mon_log_store *s, const struct mon_log_ident *ident,
                       const struct mon_raft_snapshot *snap)
{
    if (s->failed)
        return -EIO;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    put_ident(b, ident);
    if (snap)
        put_snapshot(b, snap);
    int r = commit_batch(s, b);
    if (r == 0 && snap)
        s->snap_index = s->last_index = snap->index;
    return r;
}

int mon_log_store_save_ready(struct mon_log_store *s, const struct mon_raft_ready *rd)
{
    uint64_t snap_index = s->snap_index, last = s->last_index;
    int r = 0;

    if (s->failed)
        return -EIO;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    if (rd->snapshot) {
        delete_entries(b, 0, UINT64_MAX);
        put_snapshot(b, rd->snapshot);
        snap_index = last = rd->snapshot->index;
    }
    if (rd->n_entries) {
        uint64_t first = rd->entries[0].index;
        if (first <= snap_index || first > last + 1) {
            rocksdb_writebatch_destroy(b);
            return -EINVAL;
        }
        delete_entries(b, first, UINT64_MAX);
        for (size_t i = 0; i < rd->n_entries && r == 0; i++)
            r = put_entry(b, &rd->entries[i]);
        last = rd->entries[rd->n_entries - 1].index;
    }
    if (rd->has_hard_state)
        put_hard_state(b, &rd->hard_state);
    if (r < 0) {
        rocksdb_writebatch_destroy(b);
        return r;
    }
    r = commit_batch(s, b);
    if (r == 0) {
        s->snap_index = snap_index;
        s->last_index = last;
    }
    return r;
}

int mon_log_store_save_snapshot(struct mon_log_store *s, const struct mon_raft_snapshot *snap)
{
    if (s->failed)
        return -EIO;
    if (snap->index <= s->snap_index)
        return -EINVAL;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    delete_entries(b, 0, snap->index + 1);
    put_snapshot(b, snap);
    int r = commit_batch(s, b);
    if (r == 0) {
        s->snap_index = snap->index;
        s->last_index = CAIRN_MAX(s->last_index, snap->index);
    }
    return r;
}

/* ---- loading ------------------------------------------------------------- */

/* Reads @key: 0 and a malloc'd value, -ENOENT, or -EIO. */
static int get_value(struct mon_log_store *s, const char *key, char **val, size_t *len)
{
    char *err = NULL;

    *val = rocksdb_get(s->db, s->ro, key, strlen(key), len, &err);
    if (err)
        return db_error(err, "get");
    return *val ? 0 : -ENOENT;
}

static bool record_ok(const char *key, const uint8_t *rec, size_t len, size_t want)
{
    return len == want && get_le32(rec + len - 4) == record_crc(key, strlen(key), rec, len - 4);
}

static int load_ident(struct mon_log_store *s, struct mon_log_ident *id)
{
    char *v;
    size_t len;
    int r = get_value(s, KEY_IDENT, &v, &len);

    if (r == -ENOENT)
        return corrupt("identity record missing (not a monitor store?)");
    if (r < 0)
        return r;
    const uint8_t *p = (const uint8_t *)v;
    if (!record_ok(KEY_IDENT, p, len, IDENT_LEN) || get_le32(p) != IDENT_VERSION ||
        p[12 + MON_LOG_NAME_MAX - 1] != '\0') {
        rocksdb_free(v);
        return corrupt("identity");
    }
    id->id = get_le64(p + 4);
    memcpy(id->name, p + 12, MON_LOG_NAME_MAX);
    memcpy(id->fsid, p + 12 + MON_LOG_NAME_MAX, 16);
    id->joined = get_le32(p + 28 + MON_LOG_NAME_MAX) & 1u;
    rocksdb_free(v);
    return 0;
}

static int load_hard_state(struct mon_log_store *s, struct mon_raft_hard_state *hs)
{
    char *v;
    size_t len;
    int r = get_value(s, KEY_HARD, &v, &len);

    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    const uint8_t *p = (const uint8_t *)v;
    if (record_ok(KEY_HARD, p, len, HARD_LEN)) {
        hs->term = get_le64(p);
        hs->vote = get_le64(p + 8);
        hs->commit = get_le64(p + 16);
    } else {
        r = corrupt("hard state");
    }
    rocksdb_free(v);
    return r;
}

static int parse_snap_meta(const uint8_t *p, size_t len, struct mon_raft_snapshot *snap,
                           uint32_t *data_crc)
{
    if (len < 20 + 16)
        return -EBADMSG;
    uint32_t n = get_le32(p + 16);
    if (n > MON_RAFT_MAX_VOTERS || !record_ok(KEY_SNAP, p, len, 20 + 8 * (size_t)n + 16))
        return -EBADMSG;
    snap->index = get_le64(p);
    snap->term = get_le64(p + 8);
    snap->membership.n_voters = n;
    for (uint32_t i = 0; i < n; i++)
        snap->membership.voters[i] = get_le64(p + 20 + 8 * i);
    snap->len = get_le64(p + 20 + 8 * n);
    *data_crc = get_le32(p + 28 + 8 * n);
    return 0;
}

static int load_snapshot(struct mon_log_store *s, struct mon_log_state *st)
{
    char *meta, *data = NULL;
    size_t mlen, dlen = 0;
    uint32_t crc = 0;
    int r = get_value(s, KEY_SNAP, &meta, &mlen);

    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    r = parse_snap_meta((const uint8_t *)meta, mlen, &st->snap, &crc);
    rocksdb_free(meta);
    if (r < 0)
        return corrupt("snapshot metadata");
    r = get_value(s, KEY_SNAP_DATA, &data, &dlen);
    if (r < 0)
        return r == -ENOENT ? corrupt("snapshot data missing") : r;
    if (dlen != st->snap.len || cairn_crc32c(0, data, dlen) != crc) {
        rocksdb_free(data);
        return corrupt("snapshot data");
    }
    void *copy = dlen ? malloc(dlen) : NULL;
    if (dlen && copy)
        memcpy(copy, data, dlen);
    rocksdb_free(data);
    if (dlen && !copy)
        return -ENOMEM;
    st->snap.data = copy;
    st->has_snapshot = true;
    return 0;
}

/* Decodes one entry record found under @key, expected at @want_index. */
static int parse_entry(const uint8_t *key, size_t klen, const uint8_t *v, size_t len,
                       uint64_t want_index, struct mon_raft_entry *e)
{
    uint8_t want_key[ENTRY_KEY_LEN];

    entry_key(want_index, want_key);
    if (klen != ENTRY_KEY_LEN || memcmp(key, want_key, klen) != 0)
        return corrupt("log entries not contiguous after the snapshot");
    if (len < ENTRY_HDR_LEN + 4 || get_le32(v + len - 4) != record_crc(key, klen, v, len - 4))
        return corrupt("log entry");
    e->index = want_index;
    e->term = get_le64(v);
    e->type = get_le32(v + 8);
    e->len = (uint32_t)(len - ENTRY_HDR_LEN - 4);
    e->data = NULL;
    if (e->len) {
        void *d = malloc(e->len);
        if (!d)
            return -ENOMEM;
        memcpy(d, v + ENTRY_HDR_LEN, e->len);
        e->data = d;
    }
    return 0;
}

static int push_entry(struct mon_log_state *st, size_t *cap, const uint8_t *key, size_t klen,
                      const uint8_t *v, size_t vlen)
{
    if (st->n_entries == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct mon_raft_entry *p = realloc(st->entries, ncap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        st->entries = p;
        *cap = ncap;
    }
    uint64_t want = st->snap.index + st->n_entries + 1;
    int r = parse_entry(key, klen, v, vlen, want, &st->entries[st->n_entries]);
    if (r == 0)
        st->n_entries++;
    return r;
}

static int load_entries(struct mon_log_store *s, struct mon_log_state *st)
{
    static const char prefix[1] = {ENTRY_PREFIX};
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ro);
    size_t cap = 0;
    char *err = NULL;
    int r = 0;

    for (rocksdb_iter_seek(it, prefix, 1); r == 0 && rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        if (klen == 0 || k[0] != ENTRY_PREFIX)
            break;
        r = push_entry(st, &cap, (const uint8_t *)k, klen, (const uint8_t *)v, vlen);
    }
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    if (err && r == 0)
        r = db_error(err, "iterate");
    else if (err)
        rocksdb_free(err);
    return r;
}

int mon_log_store_load(struct mon_log_store *s, struct mon_log_state *st)
{
    memset(st, 0, sizeof(*st));
    int r = load_ident(s, &st->ident);
    if (r == 0)
        r = load_hard_state(s, &st->hs);
    if (r == 0)
        r = load_snapshot(s, st);
    if (r == 0)
        r = load_entries(s, st);
    if (r < 0) {
        mon_log_state_fini(st);
        return r;
    }
    s->snap_index = st->snap.index;
    s->last_index = st->snap.index + st->n_entries;
    return 0;
}

void mon_log_state_fini(struct mon_log_state *st)
{
    for (size_t i = 0; i < st->n_entries; i++)
        free((void *)st->entries[i].data);
    free(st->entries);
    free((void *)st->snap.data);
    memset(st, 0, sizeof(*st));
}
