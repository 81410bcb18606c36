/* Serialization of the monitors' replicated state for Raft snapshots
 * (cluster.h: mon_cluster_snapshot/restore), and the state's invariants.
 * The format is explicit little-endian binary, so that no protobuf type
 * leaves protocol/; the map inside it is the map's own protobuf encoding
 * (protocol/map.h), which validates on decode. A restore validates
 * everything else too: snapshots arrive from peers and from disk.
 *
 *   u8[4] magic "CMST"   u8 version (1)
 *   u32 map_len          u8[map_len] proto_map_encode()
 *   i32 next_pool_id
 *   u32 n_uuids          n_uuids x { u32 osd id, u8[16] uuid }  ascending ids
 *   u32 n_keys           n_keys x { u8 len, u8[len] entity, u8[32] key }  ascending
 *   u32 n_config         n_config x { u8 len, u8[len] key, u16 vlen, u8[vlen] value }
 *
 * Names are without NUL. Lists are in strictly ascending order (strcmp
 * order for names), so one state has exactly one encoding. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "monitor/core/cluster_internal.h"

#define SNAP_MAGIC "CMST"
#define SNAP_VERSION 1u

/* ---- invariants --------------------------------------------------------- */

static int cmp_uuid(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

int mon__uuids_check_unique(const struct mon_cluster *c)
{
    const struct proto_map *map = c->map;
    uint8_t(*copy)[16] = malloc(((size_t)map->n_osds + 1) * sizeof(*copy));
    uint32_t n = 0;
    int r = 0;
    if (!copy)
        return -ENOMEM;
    for (uint32_t i = 0; i < map->n_osds; i++)
        if (map->osds[i].exists)
            memcpy(copy[n++], c->uuids[i], 16);
    qsort(copy, n, sizeof(*copy), cmp_uuid);
    for (uint32_t i = 1; i < n && r == 0; i++)
        if (memcmp(copy[i - 1], copy[i], 16) == 0)
            r = -EINVAL;
    free(copy);
    return r;
}

static int table_is_sorted(const struct mon__table *t)
{
    for (uint32_t i = 1; i < t->n; i++)
        if (strcmp(mon__table_at(t, i - 1), mon__table_at(t, i)) >= 0)
            return -EINVAL;
    return 0;
}

/* Every invariant of struct mon_cluster: 0, -EINVAL, or -ENOMEM. @names
 * also validates every key and config entry's strings, which apply already
 * guarantees one at a time (and which would make a debug build's check at
 * every apply quadratic in the table sizes). */
static int state_validate(const struct mon_cluster *c, bool names)
{
    const struct proto_map *map = c->map;
    if (map->epoch == 0 || map->n_mons == 0 || map->n_osds > PROTO_MAP_MAX_OSDS)
        return -EINVAL;
    for (uint32_t i = 0; i < PROTO_MAP_MAX_OSDS; i++) {
        bool exists = i < map->n_osds && map->osds[i].exists;
        if (exists == mon__uuid_is_zero(c->uuids[i]))
            return -EINVAL;
    }
    for (uint32_t i = 0; i < map->n_pools; i++)
        if (map->pools[i].id >= c->next_pool_id)
            return -EINVAL;
    if (c->next_pool_id < 1 || c->keys.n > MON_CLUSTER_MAX_KEYS ||
        c->config.n > MON_CLUSTER_MAX_CONFIG)
        return -EINVAL;
    for (uint32_t i = 0; names && i < c->keys.n; i++)
        if (!proto_entity_is_valid(mon__table_at(&c->keys, i)))
            return -EINVAL;
    for (uint32_t i = 0; names && i < c->config.n; i++) {
        const struct mon__config_entry *e = mon__table_at(&c->config, i);
        if (!mon__config_key_is_valid(e->key) || !mon__config_value_is_valid(e->value))
            return -EINVAL;
    }
    if (table_is_sorted(&c->keys) < 0 || table_is_sorted(&c->config) < 0)
        return -EINVAL;
    return mon__uuids_check_unique(c);
}

void mon__cluster_verify(const struct mon_cluster *c)
{
#ifdef CAIRN_DEBUG
    int r = state_validate(c, false);
    CAIRN_ASSERT(r == 0 || r == -ENOMEM);
#else
    (void)c;
#endif
}

/* ---- encoding ----------------------------------------------------------- */

struct writer {
    uint8_t *p;
    size_t len, cap;
};

static void put(struct writer *w, const void *src, size_t n)
{
    CAIRN_ASSERT(n <= w->cap - w->len);
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void put_le(struct writer *w, uint64_t v, size_t n)
{
    uint8_t b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, n);
}

static size_t snapshot_size(const struct mon_cluster *c, size_t map_len, uint32_t n_uuids)
{
    size_t n = 4 + 1 + 4 + map_len + 4 + 4 + (size_t)n_uuids * 20 + 4 + 4;
    for (uint32_t i = 0; i < c->keys.n; i++)
        n += 1 + strlen(mon__table_at(&c->keys, i)) + PROTO_KEY_LEN;
    for (uint32_t i = 0; i < c->config.n; i++) {
        const struct mon__config_entry *e = mon__table_at(&c->config, i);
        n += 1 + strlen(e->key) + 2 + strlen(e->value);
    }
    return n;
}

static void write_tables(struct writer *w, const struct mon_cluster *c)
{
    put_le(w, c->keys.n, 4);
    for (uint32_t i = 0; i < c->keys.n; i++) {
        const struct mon__key_entry *e = mon__table_at(&c->keys, i);
        size_t n = strlen(e->entity);
        put_le(w, n, 1);
        put(w, e->entity, n);
        put(w, e->key, PROTO_KEY_LEN);
    }
    put_le(w, c->config.n, 4);
    for (uint32_t i = 0; i < c->config.n; i++) {
        const struct mon__config_entry *e = mon__table_at(&c->config, i);
        size_t kn = strlen(e->key), vn = strlen(e->value);
        put_le(w, kn, 1);
        put(w, e->key, kn);
        put_le(w, vn, 2);
        put(w, e->value, vn);
    }
}

int mon_cluster_snapshot(const struct mon_cluster *c, uint8_t **buf, size_t *len)
{
    CAIRN_STATIC_ASSERT(PROTO_ENTITY_MAX <= 256 && MON_CONFIG_KEY_MAX <= 256,
                        "names fit a u8 length");
    CAIRN_STATIC_ASSERT(MON_CONFIG_VALUE_MAX <= 65536, "values fit a u16 length");
    uint8_t *map_buf = NULL;
    size_t map_len = 0;
    uint32_t n_uuids = 0;
    struct writer w = {0};

    if (proto_map_encode(c->map, &map_buf, &map_len) < 0)
        return -ENOMEM;
    for (uint32_t i = 0; i < c->map->n_osds; i++)
        n_uuids += c->map->osds[i].exists;
    w.cap = snapshot_size(c, map_len, n_uuids);
    w.p = malloc(w.cap);
    if (!w.p) {
        free(map_buf);
        return -ENOMEM;
    }
    put(&w, SNAP_MAGIC, 4);
    put_le(&w, SNAP_VERSION, 1);
    put_le(&w, map_len, 4);
    put(&w, map_buf, map_len);
    free(map_buf);
    put_le(&w, (uint32_t)c->next_pool_id, 4);
    put_le(&w, n_uuids, 4);
    for (uint32_t i = 0; i < c->map->n_osds; i++) {
        if (!c->map->osds[i].exists)
            continue;
        put_le(&w, i, 4);
        put(&w, c->uuids[i], 16);
    }
    write_tables(&w, c);
    CAIRN_ASSERT(w.len == w.cap);
    *buf = w.p;
    *len = w.len;
    return 0;
}

/* ---- decoding ----------------------------------------------------------- */

/* Reads from untrusted bytes: a short read sets @bad and yields zeros, so a
 * parse runs to its end and checks @bad once per section. */
struct reader {
    const uint8_t *p;
    size_t len, off;
    bool bad;
};

static const uint8_t *take(struct reader *r, size_t n)
{
    static const uint8_t zeros[256];
    if (r->bad || n > r->len - r->off) {
        r->bad = true;
        CAIRN_ASSERT(n <= sizeof(zeros));
        return zeros;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static uint64_t get_le(struct reader *r, size_t n)
{
    const uint8_t *p = take(r, n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* A name of @len bytes into @dst (cap bytes incl. NUL): -EBADMSG when short,
 * -EINVAL when too long or holding a NUL. */
static int get_name(struct reader *r, char *dst, size_t cap, size_t len)
{
    if (len >= cap)
        return -EINVAL;
    if (len > r->len - r->off || r->bad) {
        r->bad = true;
        return -EBADMSG;
    }
    memcpy(dst, r->p + r->off, len);
    dst[len] = '\0';
    r->off += len;
    return strlen(dst) == len ? 0 : -EINVAL;
}

static int read_map(struct reader *r, struct mon_cluster *c)
{
    if (memcmp(take(r, 4), SNAP_MAGIC, 4) != 0 || r->bad)
        return -EBADMSG;
    if (get_le(r, 1) != SNAP_VERSION)
        return r->bad ? -EBADMSG : -EINVAL;
    size_t map_len = (size_t)get_le(r, 4);
    if (r->bad || map_len > r->len - r->off)
        return -EBADMSG;
    int err = proto_map_decode(r->p + r->off, map_len, &c->map);
    if (err < 0)
        return err;
    r->off += map_len;
    c->next_pool_id = (int32_t)(uint32_t)get_le(r, 4);
    return r->bad ? -EBADMSG : 0;
}

static int read_uuids(struct reader *r, struct mon_cluster *c)
{
    uint32_t n = (uint32_t)get_le(r, 4);
    int64_t prev = -1;
    if (n > PROTO_MAP_MAX_OSDS)
        return r->bad ? -EBADMSG : -EINVAL;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t id = (uint32_t)get_le(r, 4);
        const uint8_t *uuid = take(r, 16);
        if (r->bad)
            return -EBADMSG;
        if ((int64_t)id <= prev || id >= PROTO_MAP_MAX_OSDS)
            return -EINVAL;
        memcpy(c->uuids[id], uuid, 16);
        prev = id;
    }
    return 0; /* state_validate() matches them against the map */
}

static int read_keys(struct reader *r, struct mon_cluster *c)
{
    uint32_t n = (uint32_t)get_le(r, 4);
    if (r->bad)
        return -EBADMSG;
    if (n > MON_CLUSTER_MAX_KEYS)
        return -EINVAL;
    if (mon__table_reserve(&c->keys, n) < 0)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        struct mon__key_entry *e = mon__table_insert(&c->keys, i);
        int err = get_name(r, e->entity, sizeof(e->entity), (size_t)get_le(r, 1));
        if (err < 0)
            return err;
        memcpy(e->key, take(r, PROTO_KEY_LEN), PROTO_KEY_LEN);
        if (r->bad)
            return -EBADMSG;
    }
    return 0;
}

static int read_config(struct reader *r, struct mon_cluster *c)
{
    uint32_t n = (uint32_t)get_le(r, 4);
    if (r->bad)
        return -EBADMSG;
    if (n > MON_CLUSTER_MAX_CONFIG)
        return -EINVAL;
    if (mon__table_reserve(&c->config, n) < 0)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        struct mon__config_entry *e = mon__table_insert(&c->config, i);
        int err = get_name(r, e->key, sizeof(e->key), (size_t)get_le(r, 1));
        if (err == 0)
            err = get_name(r, e->value, sizeof(e->value), (size_t)get_le(r, 2));
        if (err < 0)
            return err;
    }
    return 0;
}

/* Swaps the contents of two states (for restore's all-or-nothing). */
static void state_swap(struct mon_cluster *a, struct mon_cluster *b)
{
    struct mon_cluster tmp = *a;
    *a = *b;
    *b = tmp;
}

int mon_cluster_restore(struct mon_cluster *c, const uint8_t *buf, size_t len)
{
    struct reader r = {.p = buf, .len = len};
    struct mon_cluster *n = calloc(1, sizeof(*n));
    int err = -ENOMEM;

    if (!n)
        return -ENOMEM;
    mon__table_init(&n->keys, sizeof(struct mon__key_entry));
    mon__table_init(&n->config, sizeof(struct mon__config_entry));
    n->uuids = calloc(PROTO_MAP_MAX_OSDS, sizeof(*n->uuids));
    if (n->uuids)
        err = read_map(&r, n);
    if (err == 0)
        err = read_uuids(&r, n);
    if (err == 0)
        err = read_keys(&r, n);
    if (err == 0)
        err = read_config(&r, n);
    if (err == 0 && r.off != r.len)
        err = -EBADMSG; /* trailing bytes */
    if (err == 0)
        err = state_validate(n, true);
    if (err == 0)
        state_swap(c, n);
    mon_cluster_destroy(n);
    return err;
}
