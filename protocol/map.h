/* The cluster map (DESIGN.md §2): epoch, fsid, monitors, OSDs and pools.
 * The monitors own it (every committed change that alters it bumps the
 * epoch); daemons and clients receive copies and compute placement from them.
 *
 * A struct proto_map is a plain value: arrays owned by the map, freed by
 * proto_map_destroy(). Encoding is protobuf (map.proto); decode validates
 * every field, since maps arrive from the network and from disk. */
#ifndef CAIRN_PROTOCOL_MAP_H
#define CAIRN_PROTOCOL_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_MAP_NAME_MAX 64u   /* monitor, host and pool names incl. NUL */
#define PROTO_MAP_ADDR_MAX 128u  /* "HOST:PORT" or "unix:/path" incl. NUL */
#define PROTO_MAP_MAX_OSDS 4096u
#define PROTO_MAP_MAX_MONS 7u
#define PROTO_MAP_MAX_POOLS 1024u
#define PROTO_MAP_MAX_PGS (1u << 16) /* per pool */
#define PROTO_MAP_WEIGHT_ONE 0x10000u /* weights are 16.16 fixed point */

enum proto_failure_domain {
    PROTO_FD_OSD = 0,
    PROTO_FD_HOST = 1,
};

struct proto_map_mon {
    char name[PROTO_MAP_NAME_MAX]; /* "a", "b", ... (entity mon.NAME) */
    char addr[PROTO_MAP_ADDR_MAX];
};

struct proto_map_osd {
    int32_t id;                    /* osd.ID; ids are dense from 0 but may have gaps */
    char addr[PROTO_MAP_ADDR_MAX]; /* where it listens; "" until first boot */
    char host[PROTO_MAP_NAME_MAX]; /* failure domain "host" */
    uint32_t weight;               /* 16.16 fixed point; usually capacity in TiB */
    bool up;                       /* running and reachable */
    bool in;                       /* holds data (placement considers only in OSDs) */
    bool exists;                   /* false for a removed id (a gap) */
    uint64_t up_from;              /* epoch it last came up */
    uint64_t down_at;              /* epoch it last went down, 0 if never */
};

struct proto_map_pool {
    int32_t id;
    char name[PROTO_MAP_NAME_MAX];
    uint32_t size;                 /* replicas */
    uint32_t min_size;             /* replicas needed to accept writes */
    uint32_t pg_num;
    enum proto_failure_domain failure_domain;
};

struct proto_map {
    uint64_t epoch;
    uint8_t fsid[16];
    uint64_t modified_ns;          /* wall clock of the last change */
    struct proto_map_mon *mons;
    uint32_t n_mons;
    struct proto_map_osd *osds;    /* indexed by id: osds[i].id == i */
    uint32_t n_osds;
    struct proto_map_pool *pools;
    uint32_t n_pools;
};

struct proto_map *proto_map_create(void);
void proto_map_destroy(struct proto_map *map);
/* A deep copy, or NULL when out of memory. */
struct proto_map *proto_map_clone(const struct proto_map *map);

/* Encodes @map into a malloc'd buffer (*@buf, *@len; caller frees). 0 or -ENOMEM. */
int proto_map_encode(const struct proto_map *map, uint8_t **buf, size_t *len);
/* Decodes and validates. 0, -EBADMSG (does not parse), -EINVAL (a field out
 * of range: name too long, duplicate id, size 0, min_size > size, ...), -ENOMEM. */
int proto_map_decode(const uint8_t *buf, size_t len, struct proto_map **out);

/* Lookups: NULL when absent. Pointers stay valid until the map changes. */
const struct proto_map_osd *proto_map_osd(const struct proto_map *map, int32_t id);
const struct proto_map_pool *proto_map_pool(const struct proto_map *map, int32_t id);
const struct proto_map_pool *proto_map_pool_by_name(const struct proto_map *map,
                                                    const char *name);
const struct proto_map_mon *proto_map_mon(const struct proto_map *map, const char *name);

/* Mutators used by the monitor's state machine and by tests. Return 0,
 * -EEXIST, -ENOENT, -EINVAL (bad value), -ENOSPC (a limit above), -ENOMEM.
 * They do not bump the epoch: the caller does, once per committed change. */
int proto_map_add_mon(struct proto_map *map, const char *name, const char *addr);
int proto_map_remove_mon(struct proto_map *map, const char *name);
/* Adds osd.@id (exists, down, in, weight 1.0). */
int proto_map_add_osd(struct proto_map *map, int32_t id, const char *host);
int proto_map_remove_osd(struct proto_map *map, int32_t id);
int proto_map_add_pool(struct proto_map *map, const struct proto_map_pool *pool);
int proto_map_remove_pool(struct proto_map *map, int32_t id);

/* True when @name is a valid pool, host or monitor name: 1..63 bytes of
 * [A-Za-z0-9_.-], not starting with '.' or '-'. */
bool proto_map_name_is_valid(const char *name);

#endif
