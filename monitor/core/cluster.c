/* The monitors' replicated state machine (cluster.h): checks and applies
 * committed commands to the cluster map, entity keys and config options.
 * Each op has a check function, which never mutates and is shared by
 * mon_cluster_check() and apply, and an apply function that runs only after
 * its check passed and fails, if at all, with -ENOMEM before changing
 * anything. Snapshots are in cluster_snapshot.c. Called by the monitor
 * daemon's apply loop (one thread) and by the simulator. */
#include "monitor/core/cluster.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "monitor/core/cluster_internal.h"

#define POOL_SIZE_DEFAULT 3u
#define POOL_SIZE_MAX 16u /* as protocol/map.c accepts */
#define POOL_PG_NUM_DEFAULT 32u

/* Writes a one-line reason into @msg and returns @err, so that a check
 * reads `return fail(msg, len, -EEXIST, "...", ...)`. */
__attribute__((format(printf, 4, 5))) static int fail(char *msg, size_t len, int err,
                                                      const char *fmt, ...)
{
    va_list ap;
    if (len == 0)
        return err;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return err;
}

/* ---- sorted tables ------------------------------------------------------ */

void mon__table_init(struct mon__table *t, size_t item_size)
{
    memset(t, 0, sizeof(*t));
    t->item_size = item_size;
}

void mon__table_fini(struct mon__table *t)
{
    free(t->items);
    mon__table_init(t, t->item_size);
}

void *mon__table_at(const struct mon__table *t, uint32_t i)
{
    CAIRN_ASSERT(i < t->n);
    return t->items + (size_t)i * t->item_size;
}

uint32_t mon__table_find(const struct mon__table *t, const char *name, bool *found)
{
    uint32_t lo = 0, hi = t->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(mon__table_at(t, mid), name);
        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

int mon__table_reserve(struct mon__table *t, uint32_t n)
{
    if (n <= t->cap)
        return 0;
    uint32_t cap = CAIRN_MAX(n, CAIRN_MAX(t->cap * 2, 16u));
    uint8_t *p = realloc(t->items, (size_t)cap * t->item_size);
    if (!p)
        return -ENOMEM;
    t->items = p;
    t->cap = cap;
    return 0;
}

void *mon__table_insert(struct mon__table *t, uint32_t i)
{
    CAIRN_ASSERT(t->n < t->cap);
    CAIRN_ASSERT(i <= t->n);
    uint8_t *p = t->items + (size_t)i * t->item_size;
    memmove(p + t->item_size, p, (size_t)(t->n - i) * t->item_size);
    memset(p, 0, t->item_size);
    t->n++;
    return p;
}

void mon__table_remove(struct mon__table *t, uint32_t i)
{
    uint8_t *p = mon__table_at(t, i);
    memmove(p, p + t->item_size, (size_t)(t->n - i - 1) * t->item_size);
    t->n--;
}

/* ---- validation helpers ------------------------------------------------- */

/* Config keys: 1..127 bytes of [A-Za-z0-9_.-], starting with a letter. */
bool mon__config_key_is_valid(const char *key)
{
    size_t len = strnlen(key, MON_CONFIG_KEY_MAX);
    if (len == 0 || len == MON_CONFIG_KEY_MAX)
        return false;
    if (!((key[0] >= 'a' && key[0] <= 'z') || (key[0] >= 'A' && key[0] <= 'Z')))
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = key[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* Config values: 1..255 bytes with no control characters, so that a value
 * always prints on one line. */
bool mon__config_value_is_valid(const char *value)
{
    size_t len = strnlen(value, MON_CONFIG_VALUE_MAX);
    if (len == 0 || len == MON_CONFIG_VALUE_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)value[i];
        if (ch < 0x20 || ch == 0x7f)
            return false;
    }
    return true;
}

bool mon__uuid_is_zero(const uint8_t uuid[16])
{
    for (int i = 0; i < 16; i++)
        if (uuid[i])
            return false;
    return true;
}

/* Decimal uint32 with digits only: "pg_num 0x10" or "12abc" are typos. */
static int parse_u32(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    if (!*s || strlen(s) > 10)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v > UINT32_MAX)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

static bool addr_is_valid(const char *addr)
{
    size_t len = strnlen(addr, PROTO_MAP_ADDR_MAX);
    return len > 0 && len < PROTO_MAP_ADDR_MAX;
}

static bool cmd_strings_are_terminated(const struct proto_mon_cmd *cmd)
{
    return memchr(cmd->name, '\0', sizeof(cmd->name)) && memchr(cmd->key, '\0', sizeof(cmd->key)) &&
           memchr(cmd->value, '\0', sizeof(cmd->value));
}

/* Every change of the map: one epoch, stamped with the leader's clock. */
static void map_changed(struct mon_cluster *c, const struct proto_mon_cmd *cmd)
{
    c->map->epoch++;
    c->map->modified_ns = cmd->stamp_ns;
}

/* ---- pools -------------------------------------------------------------- */

/* The pool POOL_CREATE would add (id not yet assigned), defaults filled in. */
static int pool_create_eval(const struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                            struct proto_map_pool *p, char *msg, size_t len)
{
    if (!proto_map_name_is_valid(cmd->name))
        return fail(msg, len, -EINVAL, "invalid pool name '%s'", cmd->name);
    if (cmd->failure_domain > PROTO_MON_FD_HOST)
        return fail(msg, len, -EINVAL, "unknown failure domain %u", cmd->failure_domain);
    memset(p, 0, sizeof(*p));
    strcpy(p->name, cmd->name);
    p->size = cmd->size ? cmd->size : POOL_SIZE_DEFAULT;
    p->min_size = cmd->min_size ? cmd->min_size : p->size > 1 ? p->size - p->size / 2 : 1;
    p->pg_num = cmd->pg_num ? cmd->pg_num : POOL_PG_NUM_DEFAULT;
    p->failure_domain = cmd->failure_domain == PROTO_MON_FD_DEFAULT
                            ? PROTO_FD_HOST
                            : (enum proto_failure_domain)(cmd->failure_domain - 1);
    if (p->size > POOL_SIZE_MAX)
        return fail(msg, len, -EINVAL, "size %u is out of range 1..%u", p->size, POOL_SIZE_MAX);
    if (p->min_size > p->size)
        return fail(msg, len, -EINVAL, "min_size %u exceeds size %u", p->min_size, p->size);
    if (p->pg_num > PROTO_MAP_MAX_PGS)
        return fail(msg, len, -EINVAL, "pg_num %u exceeds %u", p->pg_num, PROTO_MAP_MAX_PGS);
    if (proto_map_pool_by_name(c->map, cmd->name))
        return fail(msg, len, -EEXIST, "pool '%s' already exists", cmd->name);
    if (c->map->n_pools >= PROTO_MAP_MAX_POOLS || c->next_pool_id == INT32_MAX)
        return fail(msg, len, -ENOSPC, "too many pools");
    return 0;
}

static int check_pool_create(const struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                             char *msg, size_t len)
{
    struct proto_map_pool p;
    return pool_create_eval(c, cmd, &p, msg, len);
}

static int apply_pool_create(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                             struct proto_mon_reply *reply)
{
    struct proto_map_pool p;
    int r = pool_create_eval(c, cmd, &p, reply->message, sizeof(reply->message));
    CAIRN_ASSERT(r == 0);
    p.id = c->next_pool_id;
    r = proto_map_add_pool(c->map, &p);
    if (r < 0)
        return r;
    c->next_pool_id++;
    reply->id = p.id;
    map_changed(c, cmd);
    return 0;
}

static int check_pool_rm(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, char *msg,
                         size_t len)
{
    if (!proto_map_pool_by_name(c->map, cmd->name))
        return fail(msg, len, -ENOENT, "pool '%s' does not exist", cmd->name);
    return 0;
}

static int apply_pool_rm(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                         struct proto_mon_reply *reply)
{
    const struct proto_map_pool *p = proto_map_pool_by_name(c->map, cmd->name);
    CAIRN_ASSERT(p != NULL);
    int r = proto_map_remove_pool(c->map, p->id);
    CAIRN_ASSERT(r == 0);
    map_changed(c, cmd);
    return 0;
}

/* Applies "key = value" to a copy of the pool, in *@p. */
static int pool_set_value(struct proto_map_pool *p, const struct proto_mon_cmd *cmd, char *msg,
                          size_t len)
{
    uint32_t v = 0;
    if (strcmp(cmd->key, "failure_domain") == 0) {
        if (strcmp(cmd->value, "osd") == 0)
            p->failure_domain = PROTO_FD_OSD;
        else if (strcmp(cmd->value, "host") == 0)
            p->failure_domain = PROTO_FD_HOST;
        else
            return fail(msg, len, -EINVAL, "failure_domain must be 'osd' or 'host'");
        return 0;
    }
    if (parse_u32(cmd->value, &v) < 0)
        return fail(msg, len, -EINVAL, "%s needs a decimal number, not '%s'", cmd->key, cmd->value);
    if (strcmp(cmd->key, "size") == 0) {
        if (v == 0 || v > POOL_SIZE_MAX)
            return fail(msg, len, -EINVAL, "size %u is out of range 1..%u", v, POOL_SIZE_MAX);
        if (v < p->min_size)
            return fail(msg, len, -EINVAL, "size %u is below min_size %u; lower min_size first", v,
                        p->min_size);
        p->size = v;
    } else if (strcmp(cmd->key, "min_size") == 0) {
        if (v == 0 || v > p->size)
            return fail(msg, len, -EINVAL, "min_size %u is out of range 1..%u (size)", v, p->size);
        p->min_size = v;
    } else if (strcmp(cmd->key, "pg_num") == 0) {
        if (v < p->pg_num)
            return fail(msg, len, -EINVAL, "pg_num can only grow (it is %u)", p->pg_num);
        if (v > PROTO_MAP_MAX_PGS)
            return fail(msg, len, -EINVAL, "pg_num %u exceeds %u", v, PROTO_MAP_MAX_PGS);
        p->pg_num = v;
    } else {
        return fail(msg, len, -EINVAL,
                    "unknown pool property '%s' (size, min_size, pg_num, failure_domain)",
                    cmd->key);
    }
    return 0;
}

/* The pool as POOL_SET would leave it, in *@p. */
static int pool_set_eval(const struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                         struct proto_map_pool *p, char *msg, size_t len)
{
    const struct proto_map_pool *old = proto_map_pool_by_name(c->map, cmd->name);
    if (!old)
        return fail(msg, len, -ENOENT, "pool '%s' does not exist", cmd->name);
    *p = *old;
    return pool_set_value(p, cmd, msg, len);
}

static int check_pool_set(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, char *msg,
                          size_t len)
{
    struct proto_map_pool p;
    return pool_set_eval(c, cmd, &p, msg, len);
}

static int apply_pool_set(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                          struct proto_mon_reply *reply)
{
    struct proto_map_pool p;
    int r = pool_set_eval(c, cmd, &p, reply->message, sizeof(reply->message));
    CAIRN_ASSERT(r == 0);
    struct proto_map_pool *old = NULL;
    for (uint32_t i = 0; i < c->map->n_pools && !old; i++)
        if (c->map->pools[i].id == p.id)
            old = &c->map->pools[i];
    CAIRN_ASSERT(old != NULL);
    if (old->size == p.size && old->min_size == p.min_size && old->pg_num == p.pg_num &&
        old->failure_domain == p.failure_domain) {
        fail(reply->message, sizeof(reply->message), 0, "pool '%s' already has %s %s", cmd->name,
             cmd->key, cmd->value);
        return 0;
    }
    *old = p;
    map_changed(c, cmd);
    return 0;
}

/* ---- OSDs --------------------------------------------------------------- */

static int osd_lookup(const struct mon_cluster *c, int32_t id, char *msg, size_t len)
{
    if (id < 0)
        return fail(msg, len, -EINVAL, "an osd id is required");
    if (!proto_map_osd(c->map, id))
        return fail(msg, len, -ENOENT, "osd.%d does not exist", id);
    return 0;
}

static struct proto_map_osd *osd_mut(struct mon_cluster *c, int32_t id)
{
    CAIRN_ASSERT(proto_map_osd(c->map, id) != NULL);
    return &c->map->osds[id];
}

/* The existing OSD with @uuid, or -1. */
static int32_t osd_by_uuid(const struct mon_cluster *c, const uint8_t uuid[16])
{
    for (uint32_t i = 0; i < c->map->n_osds; i++)
        if (c->map->osds[i].exists && memcmp(c->uuids[i], uuid, 16) == 0)
            return (int32_t)i;
    return -1;
}

static int32_t lowest_free_id(const struct mon_cluster *c)
{
    for (uint32_t i = 0; i < c->map->n_osds; i++)
        if (!c->map->osds[i].exists)
            return (int32_t)i;
    return c->map->n_osds < PROTO_MAP_MAX_OSDS ? (int32_t)c->map->n_osds : -1;
}

/* Which id OSD_BOOT gives the store: see cluster.h for the rules. */
static int boot_resolve(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, int32_t *id,
                        char *msg, size_t len)
{
    if (mon__uuid_is_zero(cmd->uuid))
        return fail(msg, len, -EINVAL, "osd boot needs the store's uuid");
    if (!proto_map_name_is_valid(cmd->name))
        return fail(msg, len, -EINVAL, "invalid host name '%s'", cmd->name);
    if (!addr_is_valid(cmd->value))
        return fail(msg, len, -EINVAL, "invalid osd address '%s'", cmd->value);
    if (cmd->id < -1 || cmd->id >= (int32_t)PROTO_MAP_MAX_OSDS)
        return fail(msg, len, -EINVAL, "osd id %d is out of range", cmd->id);
    int32_t owner = osd_by_uuid(c, cmd->uuid);
    if (cmd->id == -1) {
        *id = owner >= 0 ? owner : lowest_free_id(c);
        if (*id < 0)
            return fail(msg, len, -ENOSPC, "no free osd id");
        return 0;
    }
    if (proto_map_osd(c->map, cmd->id) && owner != cmd->id)
        return fail(msg, len, -EEXIST, "osd.%d belongs to another store", cmd->id);
    if (owner >= 0 && owner != cmd->id)
        return fail(msg, len, -EEXIST, "this store is osd.%d, not osd.%d", owner, cmd->id);
    *id = cmd->id;
    return 0;
}

static int check_osd_boot(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, char *msg,
                          size_t len)
{
    int32_t id;
    return boot_resolve(c, cmd, &id, msg, len);
}

static int apply_osd_boot(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                          struct proto_mon_reply *reply)
{
    int32_t id = -1;
    int r = boot_resolve(c, cmd, &id, reply->message, sizeof(reply->message));
    CAIRN_ASSERT(r == 0);
    if (!proto_map_osd(c->map, id)) {
        r = proto_map_add_osd(c->map, id, cmd->name);
        if (r < 0)
            return r;
        memcpy(c->uuids[id], cmd->uuid, 16);
        if (cmd->weight)
            osd_mut(c, id)->weight = cmd->weight;
    }
    struct proto_map_osd *o = osd_mut(c, id);
    strcpy(o->addr, cmd->value);
    strcpy(o->host, cmd->name);
    o->up = true;
    o->up_from = c->map->epoch + 1;
    map_changed(c, cmd);
    reply->id = id;
    return 0;
}

static int check_osd_exists(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, char *msg,
                            size_t len)
{
    return osd_lookup(c, cmd->id, msg, len);
}

static int check_osd_rm(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, char *msg,
                        size_t len)
{
    int r = osd_lookup(c, cmd->id, msg, len);
    if (r < 0)
        return r;
    if (proto_map_osd(c->map, cmd->id)->up)
        return fail(msg, len, -EBUSY, "osd.%d is up; stop it or mark it down first", cmd->id);
    return 0;
}

/* A flag already as asked is a success that changes nothing (no epoch). */
static int set_osd_flag(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                        struct proto_mon_reply *reply, bool *flag, bool value, const char *what)
{
    if (*flag == value) {
        fail(reply->message, sizeof(reply->message), 0, "osd.%d is already %s", cmd->id, what);
        return 0;
    }
    *flag = value;
    map_changed(c, cmd);
    return 0;
}

static int apply_osd_in(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                        struct proto_mon_reply *reply)
{
    return set_osd_flag(c, cmd, reply, &osd_mut(c, cmd->id)->in, true, "in");
}

static int apply_osd_out(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                         struct proto_mon_reply *reply)
{
    return set_osd_flag(c, cmd, reply, &osd_mut(c, cmd->id)->in, false, "out");
}

static int apply_osd_down(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                          struct proto_mon_reply *reply)
{
    struct proto_map_osd *o = osd_mut(c, cmd->id);
    if (o->up)
        o->down_at = c->map->epoch + 1;
    return set_osd_flag(c, cmd, reply, &o->up, false, "down");
}

static int apply_osd_reweight(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                              struct proto_mon_reply *reply)
{
    struct proto_map_osd *o = osd_mut(c, cmd->id);
    if (o->weight == cmd->weight) {
        fail(reply->message, sizeof(reply->message), 0, "osd.%d already has that weight", cmd->id);
        return 0;
    }
    o->weight = cmd->weight;
    map_changed(c, cmd);
    return 0;
}

static int apply_osd_rm(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                        struct proto_mon_reply *reply)
{
    int r = proto_map_remove_osd(c->map, cmd->id);
    CAIRN_ASSERT(r == 0);
    memset(c->uuids[cmd->id], 0, 16);
    map_changed(c, cmd);
    return 0;
}

/* ---- monitors ----------------------------------------------------------- */

static int check_mon_add(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, char *msg,
                         size_t len)
{
    if (!proto_map_name_is_valid(cmd->name))
        return fail(msg, len, -EINVAL, "invalid monitor name '%s'", cmd->name);
    if (!addr_is_valid(cmd->value))
        return fail(msg, len, -EINVAL, "invalid monitor address '%s'", cmd->value);
    if (proto_map_mon(c->map, cmd->name))
        return fail(msg, len, -EEXIST, "mon.%s already exists", cmd->name);
    for (uint32_t i = 0; i < c->map->n_mons; i++)
        if (strcmp(c->map->mons[i].addr, cmd->value) == 0)
            return fail(msg, len, -EEXIST, "mon.%s already uses %s", c->map->mons[i].name,
                        cmd->value);
    if (c->map->n_mons >= PROTO_MAP_MAX_MONS)
        return fail(msg, len, -ENOSPC, "at most %u monitors", PROTO_MAP_MAX_MONS);
    return 0;
}

static int apply_mon_add(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                         struct proto_mon_reply *reply)
{
    int r = proto_map_add_mon(c->map, cmd->name, cmd->value);
    if (r < 0)
        return r;
    map_changed(c, cmd);
    return 0;
}

static int check_mon_rm(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, char *msg,
                        size_t len)
{
    if (!proto_map_mon(c->map, cmd->name))
        return fail(msg, len, -ENOENT, "mon.%s does not exist", cmd->name);
    if (c->map->n_mons == 1)
        return fail(msg, len, -EBUSY, "mon.%s is the last monitor", cmd->name);
    return 0;
}

static int apply_mon_rm(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                        struct proto_mon_reply *reply)
{
    int r = proto_map_remove_mon(c->map, cmd->name);
    CAIRN_ASSERT(r == 0);
    map_changed(c, cmd);
    return 0;
}

/* ---- keys (not part of the map: no epoch) -------------------------------- */

static int check_key_create(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, char *msg,
                            size_t len)
{
    uint8_t key[PROTO_KEY_LEN];
    bool found;
    if (!proto_entity_is_valid(cmd->name))
        return fail(msg, len, -EINVAL, "invalid entity name '%s'", cmd->name);
    mon__table_find(&c->keys, cmd->name, &found);
    if (found)
        return 0; /* apply returns the existing key */
    if (proto_key_from_base64(cmd->value, key) < 0)
        return fail(msg, len, -EINVAL, "key create needs the new key in base64 (from the leader)");
    if (c->keys.n >= MON_CLUSTER_MAX_KEYS)
        return fail(msg, len, -ENOSPC, "at most %u keys", MON_CLUSTER_MAX_KEYS);
    return 0;
}

static int apply_key_create(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                            struct proto_mon_reply *reply)
{
    bool found;
    uint32_t i = mon__table_find(&c->keys, cmd->name, &found);
    struct mon__key_entry *e;
    if (found) {
        e = mon__table_at(&c->keys, i);
        fail(reply->message, sizeof(reply->message), 0, "%s already has a key", cmd->name);
    } else {
        if (mon__table_reserve(&c->keys, c->keys.n + 1) < 0)
            return -ENOMEM;
        e = mon__table_insert(&c->keys, i);
        strcpy(e->entity, cmd->name);
        int r = proto_key_from_base64(cmd->value, e->key);
        CAIRN_ASSERT(r == 0);
    }
    reply->has_key = true;
    memcpy(reply->key, e->key, PROTO_KEY_LEN);
    return 0;
}

static int check_key_rm(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, char *msg,
                        size_t len)
{
    bool found;
    if (!proto_entity_is_valid(cmd->name))
        return fail(msg, len, -EINVAL, "invalid entity name '%s'", cmd->name);
    mon__table_find(&c->keys, cmd->name, &found);
    if (!found)
        return fail(msg, len, -ENOENT, "%s has no key", cmd->name);
    return 0;
}

static int apply_key_rm(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                        struct proto_mon_reply *reply)
{
    bool found;
    uint32_t i = mon__table_find(&c->keys, cmd->name, &found);
    CAIRN_ASSERT(found);
    mon__table_remove(&c->keys, i);
    return 0;
}

/* ---- config (not part of the map: no epoch) ------------------------------ */

static int check_config_set(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, char *msg,
                            size_t len)
{
    bool found;
    if (!mon__config_key_is_valid(cmd->key))
        return fail(msg, len, -EINVAL, "invalid config option name '%s'", cmd->key);
    if (!mon__config_value_is_valid(cmd->value))
        return fail(msg, len, -EINVAL, "invalid value for %s (empty or control characters)",
                    cmd->key);
    mon__table_find(&c->config, cmd->key, &found);
    if (!found && c->config.n >= MON_CLUSTER_MAX_CONFIG)
        return fail(msg, len, -ENOSPC, "at most %u config options", MON_CLUSTER_MAX_CONFIG);
    return 0;
}

static int apply_config_set(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                            struct proto_mon_reply *reply)
{
    bool found;
    uint32_t i = mon__table_find(&c->config, cmd->key, &found);
    struct mon__config_entry *e;
    if (found) {
        e = mon__table_at(&c->config, i);
    } else {
        if (mon__table_reserve(&c->config, c->config.n + 1) < 0)
            return -ENOMEM;
        e = mon__table_insert(&c->config, i);
        strcpy(e->key, cmd->key);
    }
    strcpy(e->value, cmd->value);
    return 0;
}

static int check_config_rm(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, char *msg,
                           size_t len)
{
    bool found;
    if (!mon__config_key_is_valid(cmd->key))
        return fail(msg, len, -EINVAL, "invalid config option name '%s'", cmd->key);
    mon__table_find(&c->config, cmd->key, &found);
    if (!found)
        return fail(msg, len, -ENOENT, "config option %s is not set", cmd->key);
    return 0;
}

static int apply_config_rm(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                           struct proto_mon_reply *reply)
{
    bool found;
    uint32_t i = mon__table_find(&c->config, cmd->key, &found);
    CAIRN_ASSERT(found);
    mon__table_remove(&c->config, i);
    return 0;
}

/* ---- dispatch ----------------------------------------------------------- */

struct op_handler {
    uint32_t op;
    int (*check)(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, char *msg,
                 size_t len);
    int (*apply)(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                 struct proto_mon_reply *reply);
};

static const struct op_handler handlers[] = {
    {PROTO_MON_POOL_CREATE, check_pool_create, apply_pool_create},
    {PROTO_MON_POOL_RM, check_pool_rm, apply_pool_rm},
    {PROTO_MON_POOL_SET, check_pool_set, apply_pool_set},
    {PROTO_MON_OSD_BOOT, check_osd_boot, apply_osd_boot},
    {PROTO_MON_OSD_IN, check_osd_exists, apply_osd_in},
    {PROTO_MON_OSD_OUT, check_osd_exists, apply_osd_out},
    {PROTO_MON_OSD_RM, check_osd_rm, apply_osd_rm},
    {PROTO_MON_OSD_REWEIGHT, check_osd_exists, apply_osd_reweight},
    {PROTO_MON_OSD_DOWN, check_osd_exists, apply_osd_down},
    {PROTO_MON_MON_ADD, check_mon_add, apply_mon_add},
    {PROTO_MON_MON_RM, check_mon_rm, apply_mon_rm},
    {PROTO_MON_KEY_CREATE, check_key_create, apply_key_create},
    {PROTO_MON_KEY_RM, check_key_rm, apply_key_rm},
    {PROTO_MON_CONFIG_SET, check_config_set, apply_config_set},
    {PROTO_MON_CONFIG_RM, check_config_rm, apply_config_rm},
};

static const struct op_handler *handler_of(uint32_t op)
{
    for (size_t i = 0; i < CAIRN_ARRAY_SIZE(handlers); i++)
        if (handlers[i].op == op)
            return &handlers[i];
    return NULL;
}

/* The check every command passes first: a known state-changing op with
 * terminated strings. Read-only ops, failure reports and beacons are not
 * Raft entries. */
static int check_cmd(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, char *msg,
                     size_t len, const struct op_handler **h)
{
    if (!cmd_strings_are_terminated(cmd))
        return fail(msg, len, -EINVAL, "malformed command");
    *h = handler_of(cmd->op);
    if (!*h)
        return fail(msg, len, -EINVAL, "'%s' (op %u) does not change the cluster state",
                    proto_mon_op_name(cmd->op), cmd->op);
    return (*h)->check(c, cmd, msg, len);
}

int mon_cluster_check(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, char *msg,
                      size_t msg_len)
{
    const struct op_handler *h;
    if (msg_len)
        msg[0] = '\0';
    return check_cmd(c, cmd, msg, msg_len, &h);
}

void mon_cluster_apply(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                       struct proto_mon_reply *reply)
{
    const struct op_handler *h = NULL;
    proto_mon_reply_init(reply);
    int r = check_cmd(c, cmd, reply->message, sizeof(reply->message), &h);
    if (r == 0) {
        r = h->apply(c, cmd, reply);
        if (r < 0)
            fail(reply->message, sizeof(reply->message), r, "%s: out of memory",
                 proto_mon_op_name(cmd->op));
    }
    reply->result = r;
    reply->epoch = c->map->epoch;
    mon__cluster_verify(c);
}

/* ---- queries ------------------------------------------------------------ */

static int query_key_get(const struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                         struct proto_mon_reply *reply)
{
    if (!proto_entity_is_valid(cmd->name))
        return fail(reply->message, sizeof(reply->message), -EINVAL, "invalid entity name '%s'",
                    cmd->name);
    if (mon_cluster_key(c, cmd->name, reply->key) < 0)
        return fail(reply->message, sizeof(reply->message), -ENOENT, "%s has no key", cmd->name);
    reply->has_key = true;
    return 0;
}

/* Entities after cmd->name, one per line, as many as fit in reply->text. */
static int query_key_ls(const struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                        struct proto_mon_reply *reply)
{
    bool found;
    uint32_t i = mon__table_find(&c->keys, cmd->name, &found);
    size_t off = 0;
    if (found)
        i++;
    for (; i < c->keys.n; i++) {
        const struct mon__key_entry *e = mon__table_at(&c->keys, i);
        size_t n = strlen(e->entity);
        if (off + n + 2 > sizeof(reply->text))
            break;
        memcpy(reply->text + off, e->entity, n);
        reply->text[off + n] = '\n';
        off += n + 1;
    }
    reply->text[off] = '\0';
    if (i < c->keys.n)
        fail(reply->message, sizeof(reply->message), 0,
             "list cut: %u more entities; ask again after the last one", c->keys.n - i);
    return 0;
}

static int query_config_get(const struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                            struct proto_mon_reply *reply)
{
    if (!mon__config_key_is_valid(cmd->key))
        return fail(reply->message, sizeof(reply->message), -EINVAL,
                    "invalid config option name '%s'", cmd->key);
    const char *v = mon_cluster_config(c, cmd->key);
    if (!v)
        return fail(reply->message, sizeof(reply->message), -ENOENT, "config option %s is not set",
                    cmd->key);
    CAIRN_STATIC_ASSERT(MON_CONFIG_VALUE_MAX <= sizeof(reply->text), "config value fits text");
    strcpy(reply->text, v);
    return 0;
}

void mon_cluster_query(const struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                       struct proto_mon_reply *reply)
{
    int r;
    proto_mon_reply_init(reply);
    if (!cmd_strings_are_terminated(cmd))
        r = fail(reply->message, sizeof(reply->message), -EINVAL, "malformed command");
    else if (cmd->op == PROTO_MON_KEY_GET)
        r = query_key_get(c, cmd, reply);
    else if (cmd->op == PROTO_MON_KEY_LS)
        r = query_key_ls(c, cmd, reply);
    else if (cmd->op == PROTO_MON_CONFIG_GET)
        r = query_config_get(c, cmd, reply);
    else
        r = fail(reply->message, sizeof(reply->message), -EINVAL, "'%s' (op %u) is not a query",
                 proto_mon_op_name(cmd->op), cmd->op);
    reply->result = r;
    reply->epoch = c->map->epoch;
}

/* ---- lifecycle and accessors ------------------------------------------- */

static int init_is_valid(const struct mon_cluster_init *init)
{
    if (init->n_mons == 0 || init->n_mons > PROTO_MAP_MAX_MONS)
        return -EINVAL;
    for (uint32_t i = 0; i < init->n_mons; i++) {
        const struct proto_map_mon *m = &init->mons[i];
        if (!memchr(m->name, '\0', sizeof(m->name)) || !proto_map_name_is_valid(m->name) ||
            !addr_is_valid(m->addr))
            return -EINVAL;
    }
    return 0;
}

int mon_cluster_create(const struct mon_cluster_init *init, struct mon_cluster **out)
{
    int r = init_is_valid(init);
    if (r < 0)
        return r;
    struct mon_cluster *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    mon__table_init(&c->keys, sizeof(struct mon__key_entry));
    mon__table_init(&c->config, sizeof(struct mon__config_entry));
    c->map = proto_map_create();
    c->uuids = calloc(PROTO_MAP_MAX_OSDS, sizeof(*c->uuids));
    r = c->map && c->uuids ? 0 : -ENOMEM;
    for (uint32_t i = 0; r == 0 && i < init->n_mons; i++) {
        r = proto_map_add_mon(c->map, init->mons[i].name, init->mons[i].addr);
        if (r == -EEXIST)
            r = -EINVAL; /* the same monitor twice */
    }
    if (r < 0) {
        mon_cluster_destroy(c);
        return r;
    }
    c->map->epoch = 1;
    memcpy(c->map->fsid, init->fsid, sizeof(c->map->fsid));
    c->next_pool_id = 1;
    mon__cluster_verify(c);
    *out = c;
    return 0;
}

void mon_cluster_destroy(struct mon_cluster *c)
{
    if (!c)
        return;
    proto_map_destroy(c->map);
    free(c->uuids);
    mon__table_fini(&c->keys);
    mon__table_fini(&c->config);
    free(c);
}

const struct proto_map *mon_cluster_map(const struct mon_cluster *c)
{
    return c->map;
}

int mon_cluster_key(const struct mon_cluster *c, const char *entity, uint8_t key[PROTO_KEY_LEN])
{
    bool found;
    uint32_t i = mon__table_find(&c->keys, entity, &found);
    if (!found)
        return -ENOENT;
    memcpy(key, ((const struct mon__key_entry *)mon__table_at(&c->keys, i))->key, PROTO_KEY_LEN);
    return 0;
}

const char *mon_cluster_config(const struct mon_cluster *c, const char *key)
{
    bool found;
    uint32_t i = mon__table_find(&c->config, key, &found);
    if (!found)
        return NULL;
    return ((const struct mon__config_entry *)mon__table_at(&c->config, i))->value;
}
