/* The cluster map: construction, lookups, mutation and protobuf encoding.
 * Decoding validates everything, because maps come from peers and disk. */
#include "protocol/map.h"
#include "common/assert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "map.pb-c.h"

struct proto_map *proto_map_create(void)
{
    return calloc(1, sizeof(struct proto_map));
}

void proto_map_destroy(struct proto_map *map)
{
    if (!map)
        return;
    free(map->mons);
    free(map->osds);
    free(map->pools);
    free(map);
}

static void *dup_array(const void *src, size_t n, size_t size, bool *oom)
{
    if (n == 0)
        return NULL;
    void *p = malloc(n * size);
    if (!p) {
        *oom = true;
        return NULL;
    }
    memcpy(p, src, n * size);
    return p;
}

struct proto_map *proto_map_clone(const struct proto_map *map)
{
    struct proto_map *c = proto_map_create();
    bool oom = false;
    if (!c)
        return NULL;
    *c = *map;
    c->mons = dup_array(map->mons, map->n_mons, sizeof(*map->mons), &oom);
    c->osds = dup_array(map->osds, map->n_osds, sizeof(*map->osds), &oom);
    c->pools = dup_array(map->pools, map->n_pools, sizeof(*map->pools), &oom);
    if (oom) {
        proto_map_destroy(c);
        return NULL;
    }
    return c;
}

bool proto_map_name_is_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len >= PROTO_MAP_NAME_MAX || name[0] == '.' || name[0] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool addr_is_valid(const char *addr)
{
    return strlen(addr) < PROTO_MAP_ADDR_MAX;
}

/* ---- lookups ---------------------------------------------------------- */

const struct proto_map_osd *proto_map_osd(const struct proto_map *map, int32_t id)
{
    if (id < 0 || (uint32_t)id >= map->n_osds || !map->osds[id].exists)
        return NULL;
    return &map->osds[id];
}

const struct proto_map_pool *proto_map_pool(const struct proto_map *map, int32_t id)
{
    for (uint32_t i = 0; i < map->n_pools; i++)
        if (map->pools[i].id == id)
            return &map->pools[i];
    return NULL;
}

const struct proto_map_pool *proto_map_pool_by_name(const struct proto_map *map,
                                                    const char *name)
{
    for (uint32_t i = 0; i < map->n_pools; i++)
        if (strcmp(map->pools[i].name, name) == 0)
            return &map->pools[i];
    return NULL;
}

const struct proto_map_mon *proto_map_mon(const struct proto_map *map, const char *name)
{
    for (uint32_t i = 0; i < map->n_mons; i++)
        if (strcmp(map->mons[i].name, name) == 0)
            return &map->mons[i];
    return NULL;
}

/* ---- mutators --------------------------------------------------------- */

static int grow(void **arr, uint32_t n, size_t size)
{
    void *p = realloc(*arr, (size_t)(n + 1) * size);
    if (!p)
        return -ENOMEM;
    *arr = p;
    return 0;
}

int proto_map_add_mon(struct proto_map *map, const char *name, const char *addr)
{
    if (!proto_map_name_is_valid(name) || !addr_is_valid(addr))
        return -EINVAL;
    if (proto_map_mon(map, name))
        return -EEXIST;
    if (map->n_mons >= PROTO_MAP_MAX_MONS)
        return -ENOSPC;
    if (grow((void **)&map->mons, map->n_mons, sizeof(*map->mons)) < 0)
        return -ENOMEM;
    struct proto_map_mon *m = &map->mons[map->n_mons++];
    memset(m, 0, sizeof(*m));
    strcpy(m->name, name);
    strcpy(m->addr, addr);
    return 0;
}

int proto_map_remove_mon(struct proto_map *map, const char *name)
{
    for (uint32_t i = 0; i < map->n_mons; i++) {
        if (strcmp(map->mons[i].name, name) == 0) {
            memmove(&map->mons[i], &map->mons[i + 1],
                    (map->n_mons - i - 1) * sizeof(*map->mons));
            map->n_mons--;
            return 0;
        }
    }
    return -ENOENT;
}

int proto_map_add_osd(struct proto_map *map, int32_t id, const char *host)
{
    if (id < 0 || !proto_map_name_is_valid(host))
        return -EINVAL;
    if ((uint32_t)id >= PROTO_MAP_MAX_OSDS)
        return -ENOSPC;
    if (proto_map_osd(map, id))
        return -EEXIST;
    if ((uint32_t)id >= map->n_osds) {
        struct proto_map_osd *p = realloc(map->osds, ((size_t)id + 1) * sizeof(*p));
        if (!p)
            return -ENOMEM;
        for (uint32_t i = map->n_osds; i <= (uint32_t)id; i++) {
            memset(&p[i], 0, sizeof(p[i]));
            p[i].id = (int32_t)i;
        }
        map->osds = p;
        map->n_osds = (uint32_t)id + 1;
    }
    struct proto_map_osd *o = &map->osds[id];
    memset(o, 0, sizeof(*o));
    o->id = id;
    o->exists = true;
    o->in = true;
    o->weight = PROTO_MAP_WEIGHT_ONE;
    strcpy(o->host, host);
    return 0;
}

int proto_map_remove_osd(struct proto_map *map, int32_t id)
{
    if (!proto_map_osd(map, id))
        return -ENOENT;
    struct proto_map_osd *o = &map->osds[id];
    memset(o, 0, sizeof(*o));
    o->id = id;
    return 0;
}

static int pool_is_valid(const struct proto_map_pool *p)
{
    if (p->id < 0 || !proto_map_name_is_valid(p->name))
        return -EINVAL;
    if (p->size == 0 || p->size > 16 || p->min_size == 0 || p->min_size > p->size)
        return -EINVAL;
    if (p->pg_num == 0 || p->pg_num > PROTO_MAP_MAX_PGS)
        return -EINVAL;
    if (p->failure_domain != PROTO_FD_OSD && p->failure_domain != PROTO_FD_HOST)
        return -EINVAL;
    return 0;
}

int proto_map_add_pool(struct proto_map *map, const struct proto_map_pool *pool)
{
    int r = pool_is_valid(pool);
    if (r < 0)
        return r;
    if (proto_map_pool(map, pool->id) || proto_map_pool_by_name(map, pool->name))
        return -EEXIST;
    if (map->n_pools >= PROTO_MAP_MAX_POOLS)
        return -ENOSPC;
    if (grow((void **)&map->pools, map->n_pools, sizeof(*map->pools)) < 0)
        return -ENOMEM;
    map->pools[map->n_pools++] = *pool;
    return 0;
}

int proto_map_remove_pool(struct proto_map *map, int32_t id)
{
    for (uint32_t i = 0; i < map->n_pools; i++) {
        if (map->pools[i].id == id) {
            memmove(&map->pools[i], &map->pools[i + 1],
                    (map->n_pools - i - 1) * sizeof(*map->pools));
            map->n_pools--;
            return 0;
        }
    }
    return -ENOENT;
}

/* ---- encoding --------------------------------------------------------- */

static void encode_osd(const struct proto_map_osd *o, MapOsd *m)
{
    map_osd__init(m);
    m->has_id = m->has_weight = m->has_up = m->has_in = m->has_exists = true;
    m->has_up_from = m->has_down_at = true;
    m->id = o->id;
    m->addr = (char *)o->addr;
    m->host = (char *)o->host;
    m->weight = o->weight;
    m->up = o->up;
    m->in = o->in;
    m->exists = o->exists;
    m->up_from = o->up_from;
    m->down_at = o->down_at;
}

static void encode_pool(const struct proto_map_pool *p, MapPool *m)
{
    map_pool__init(m);
    m->has_id = m->has_size = m->has_min_size = m->has_pg_num = m->has_failure_domain = true;
    m->id = p->id;
    m->name = (char *)p->name;
    m->size = p->size;
    m->min_size = p->min_size;
    m->pg_num = p->pg_num;
    m->failure_domain = (uint32_t)p->failure_domain;
}

int proto_map_encode(const struct proto_map *map, uint8_t **buf, size_t *len)
{
    ClusterMap cm = CLUSTER_MAP__INIT;
    size_t n = (size_t)map->n_mons + map->n_osds + map->n_pools;
    MapMon *mons = calloc(map->n_mons + 1, sizeof(*mons));
    MapOsd *osds = calloc(map->n_osds + 1, sizeof(*osds));
    MapPool *pools = calloc(map->n_pools + 1, sizeof(*pools));
    void **ptrs = calloc(n + 1, sizeof(void *));
    int r = -ENOMEM;
    if (!mons || !osds || !pools || !ptrs)
        goto out_free;
    cm.has_epoch = cm.has_fsid = cm.has_modified_ns = true;
    cm.epoch = map->epoch;
    cm.fsid.data = (uint8_t *)map->fsid;
    cm.fsid.len = sizeof(map->fsid);
    cm.modified_ns = map->modified_ns;
    cm.mons = (MapMon **)ptrs;
    cm.osds = (MapOsd **)(ptrs + map->n_mons);
    cm.pools = (MapPool **)(ptrs + map->n_mons + map->n_osds);
    for (uint32_t i = 0; i < map->n_mons; i++) {
        map_mon__init(&mons[i]);
        mons[i].name = (char *)map->mons[i].name;
        mons[i].addr = (char *)map->mons[i].addr;
        cm.mons[cm.n_mons++] = &mons[i];
    }
    for (uint32_t i = 0; i < map->n_osds; i++) {
        encode_osd(&map->osds[i], &osds[i]);
        cm.osds[cm.n_osds++] = &osds[i];
    }
    for (uint32_t i = 0; i < map->n_pools; i++) {
        encode_pool(&map->pools[i], &pools[i]);
        cm.pools[cm.n_pools++] = &pools[i];
    }
    *len = cluster_map__get_packed_size(&cm);
    *buf = malloc(*len ? *len : 1);
    if (!*buf)
        goto out_free;
    cluster_map__pack(&cm, *buf);
    r = 0;
out_free:
    free(mons);
    free(osds);
    free(pools);
    free(ptrs);
    return r;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
    if (!src)
        src = "";
    if (strlen(src) >= cap)
        return -EINVAL;
    strcpy(dst, src);
    return 0;
}

static int decode_osds(const ClusterMap *cm, struct proto_map *map)
{
    if (cm->n_osds > PROTO_MAP_MAX_OSDS)
        return -EINVAL;
    if (cm->n_osds == 0)
        return 0;
    map->osds = calloc(cm->n_osds, sizeof(*map->osds));
    if (!map->osds)
        return -ENOMEM;
    map->n_osds = (uint32_t)cm->n_osds;
    for (size_t i = 0; i < cm->n_osds; i++) {
        const MapOsd *m = cm->osds[i];
        struct proto_map_osd *o = &map->osds[i];
        /* OSDs travel densely, in id order: entry i is osd.i. */
        if (m->id != (int32_t)i)
            return -EINVAL;
        o->id = m->id;
        if (copy_str(o->addr, sizeof(o->addr), m->addr) < 0 ||
            copy_str(o->host, sizeof(o->host), m->host) < 0)
            return -EINVAL;
        o->weight = m->weight;
        o->up = m->up;
        o->in = m->in;
        o->exists = m->exists;
        o->up_from = m->up_from;
        o->down_at = m->down_at;
        if (o->exists && !proto_map_name_is_valid(o->host))
            return -EINVAL;
    }
    return 0;
}

static int decode_mons_pools(const ClusterMap *cm, struct proto_map *map)
{
    if (cm->n_mons > PROTO_MAP_MAX_MONS || cm->n_pools > PROTO_MAP_MAX_POOLS)
        return -EINVAL;
    for (size_t i = 0; i < cm->n_mons; i++) {
        const MapMon *m = cm->mons[i];
        int r = proto_map_add_mon(map, m->name ? m->name : "", m->addr ? m->addr : "");
        if (r < 0)
            return r == -ENOMEM ? r : -EINVAL;
    }
    for (size_t i = 0; i < cm->n_pools; i++) {
        const MapPool *m = cm->pools[i];
        struct proto_map_pool p = {
            .id = m->id, .size = m->size, .min_size = m->min_size, .pg_num = m->pg_num,
            .failure_domain = (enum proto_failure_domain)m->failure_domain,
        };
        if (m->failure_domain > PROTO_FD_HOST || copy_str(p.name, sizeof(p.name), m->name) < 0)
            return -EINVAL;
        int r = proto_map_add_pool(map, &p);
        if (r < 0)
            return r == -ENOMEM ? r : -EINVAL;
    }
    return 0;
}

int proto_map_decode(const uint8_t *buf, size_t len, struct proto_map **out)
{
    ClusterMap *cm = cluster_map__unpack(NULL, len, buf);
    if (!cm)
        return -EBADMSG;
    struct proto_map *map = proto_map_create();
    int r = map ? 0 : -ENOMEM;
    if (r == 0 && cm->has_fsid && cm->fsid.len != sizeof(map->fsid))
        r = -EINVAL;
    if (r == 0) {
        map->epoch = cm->epoch;
        map->modified_ns = cm->modified_ns;
        if (cm->has_fsid)
            memcpy(map->fsid, cm->fsid.data, sizeof(map->fsid));
        r = decode_osds(cm, map);
    }
    if (r == 0)
        r = decode_mons_pools(cm, map);
    cluster_map__free_unpacked(cm, NULL);
    if (r < 0) {
        proto_map_destroy(map);
        return r;
    }
    *out = map;
    return 0;
}
