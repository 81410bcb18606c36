/* The monitor service messages (protocol/mon.h): protobuf encoding of
 * commands, replies, status and map requests. Encoders write only fields
 * that differ from their defaults, so Raft entries stay small; decoders
 * validate every field, since commands arrive from the network and from the
 * Raft log on disk. Called by the monitor daemon, the client library and
 * the fuzz target tests/fuzz/fuzz_mon_cmd.c. */
#include "protocol/mon.h"
#include "protocol/internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mon.pb-c.h"

#define MON_RESULT_MIN (-4095) /* -errno values fit in Linux's range */

void proto_mon_cmd_init(struct proto_mon_cmd *cmd, enum proto_mon_op op)
{
    memset(cmd, 0, sizeof(*cmd));
    cmd->op = (uint32_t)op;
    cmd->id = -1;
}

void proto_mon_reply_init(struct proto_mon_reply *reply)
{
    memset(reply, 0, sizeof(*reply));
    reply->id = -1;
}

static const char *const op_names[PROTO_MON_OP_MAX + 1] = {
    [PROTO_MON_POOL_CREATE] = "pool create", [PROTO_MON_POOL_RM] = "pool rm",
    [PROTO_MON_POOL_SET] = "pool set",       [PROTO_MON_OSD_BOOT] = "osd boot",
    [PROTO_MON_OSD_IN] = "osd in",           [PROTO_MON_OSD_OUT] = "osd out",
    [PROTO_MON_OSD_RM] = "osd rm",           [PROTO_MON_OSD_REWEIGHT] = "osd reweight",
    [PROTO_MON_OSD_DOWN] = "osd down",       [PROTO_MON_OSD_FAILURE] = "osd failure",
    [PROTO_MON_OSD_BEACON] = "osd beacon",   [PROTO_MON_MON_ADD] = "mon add",
    [PROTO_MON_MON_RM] = "mon rm",           [PROTO_MON_KEY_CREATE] = "key create",
    [PROTO_MON_KEY_RM] = "key rm",           [PROTO_MON_KEY_GET] = "key get",
    [PROTO_MON_KEY_LS] = "key ls",           [PROTO_MON_CONFIG_SET] = "config set",
    [PROTO_MON_CONFIG_RM] = "config rm",     [PROTO_MON_CONFIG_GET] = "config get",
};

bool proto_mon_op_is_valid(uint32_t op)
{
    return op <= PROTO_MON_OP_MAX && op_names[op] != NULL;
}

const char *proto_mon_op_name(uint32_t op)
{
    if (op == PROTO_MON_OP_NONE)
        return "none";
    return proto_mon_op_is_valid(op) ? op_names[op] : "unknown";
}

/* ---- helpers ------------------------------------------------------------ */

/* A string field for encoding: NULL (absent) when empty. */
static char *opt_str(const char *s)
{
    return s[0] ? (char *)s : NULL;
}

/* Copies a decoded string into a fixed buffer; absent means "". -EINVAL when
 * it does not fit with its NUL. */
static int copy_str(char *dst, size_t cap, const char *src)
{
    size_t len = src ? strlen(src) : 0;
    if (len >= cap)
        return -EINVAL;
    memcpy(dst, src ? src : "", len);
    dst[len] = '\0';
    return 0;
}

/* Every string of a struct we encode must be NUL-terminated within its
 * buffer: a caller bug, not input, so it is a plain check rather than
 * trusting strlen to stop. */
static bool str_fits(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static bool is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* ---- commands ----------------------------------------------------------- */

/* Fills @m from @cmd; its strings point into @cmd. */
static int cmd_to_pb(const struct proto_mon_cmd *cmd, Cairn__MonCommand *m)
{
    if (!str_fits(cmd->name, sizeof(cmd->name)) || !str_fits(cmd->key, sizeof(cmd->key)) ||
        !str_fits(cmd->value, sizeof(cmd->value)))
        return -EINVAL;
    m->has_op = true;
    m->op = cmd->op;
    m->has_id = cmd->id != -1;
    m->id = cmd->id;
    m->name = opt_str(cmd->name);
    m->key = opt_str(cmd->key);
    m->value = opt_str(cmd->value);
    m->has_size = cmd->size != 0;
    m->size = cmd->size;
    m->has_min_size = cmd->min_size != 0;
    m->min_size = cmd->min_size;
    m->has_pg_num = cmd->pg_num != 0;
    m->pg_num = cmd->pg_num;
    m->has_failure_domain = cmd->failure_domain != 0;
    m->failure_domain = cmd->failure_domain;
    m->has_weight = cmd->weight != 0;
    m->weight = cmd->weight;
    m->has_uuid = !is_zero(cmd->uuid, sizeof(cmd->uuid));
    m->uuid.data = (uint8_t *)cmd->uuid;
    m->uuid.len = sizeof(cmd->uuid);
    m->has_stamp_ns = cmd->stamp_ns != 0;
    m->stamp_ns = cmd->stamp_ns;
    return 0;
}

int proto_mon_cmd_encode(const struct proto_mon_cmd *cmd, uint8_t **buf, size_t *len)
{
    Cairn__MonCommand m = CAIRN__MON_COMMAND__INIT;
    int r = cmd_to_pb(cmd, &m);

    return r < 0 ? r : proto__pb_pack(&m.base, buf, len);
}

static int cmd_from_pb(const Cairn__MonCommand *m, struct proto_mon_cmd *cmd)
{
    if (!proto_mon_op_is_valid(m->op))
        return -EINVAL;
    if (m->has_id && m->id < -1)
        return -EINVAL;
    if (m->has_uuid && m->uuid.len != sizeof(cmd->uuid))
        return -EINVAL;
    if (copy_str(cmd->name, sizeof(cmd->name), m->name) < 0 ||
        copy_str(cmd->key, sizeof(cmd->key), m->key) < 0 ||
        copy_str(cmd->value, sizeof(cmd->value), m->value) < 0)
        return -EINVAL;
    cmd->op = m->op;
    cmd->id = m->has_id ? m->id : -1;
    cmd->size = m->size;
    cmd->min_size = m->min_size;
    cmd->pg_num = m->pg_num;
    cmd->failure_domain = m->failure_domain;
    cmd->weight = m->weight;
    if (m->has_uuid)
        memcpy(cmd->uuid, m->uuid.data, sizeof(cmd->uuid));
    cmd->stamp_ns = m->stamp_ns;
    return 0;
}

int proto_mon_cmd_decode(const uint8_t *buf, size_t len, struct proto_mon_cmd *cmd)
{
    Cairn__MonCommand *m = cairn__mon_command__unpack(NULL, len, buf);
    struct proto_mon_cmd tmp;

    if (!m)
        return -EBADMSG;
    proto_mon_cmd_init(&tmp, PROTO_MON_OP_NONE);
    int r = cmd_from_pb(m, &tmp);
    cairn__mon_command__free_unpacked(m, NULL);
    if (r == 0)
        *cmd = tmp;
    return r;
}

/* ---- replies ------------------------------------------------------------ */

/* Fills @m from @st; @names must have room for PROTO_MAP_MAX_MONS pointers. */
static int status_to_pb(const struct proto_mon_status *st, Cairn__MonStatus *m, char **names)
{
    if (st->n_quorum > PROTO_MAP_MAX_MONS || !str_fits(st->leader, sizeof(st->leader)))
        return -EINVAL;
    for (uint32_t i = 0; i < st->n_quorum; i++) {
        if (!str_fits(st->quorum[i], sizeof(st->quorum[i])))
            return -EINVAL;
        names[i] = (char *)st->quorum[i];
    }
    m->leader = opt_str(st->leader);
    m->n_quorum = st->n_quorum;
    m->quorum = names;
    m->has_term = m->has_commit_index = m->has_applied_index = m->has_epoch = true;
    m->term = st->term;
    m->commit_index = st->commit_index;
    m->applied_index = st->applied_index;
    m->epoch = st->epoch;
    return 0;
}

int proto_mon_reply_encode(const struct proto_mon_reply *reply, uint8_t **buf, size_t *len)
{
    Cairn__MonReply m = CAIRN__MON_REPLY__INIT;
    Cairn__MonStatus st = CAIRN__MON_STATUS__INIT;
    char *names[PROTO_MAP_MAX_MONS];

    if (!str_fits(reply->message, sizeof(reply->message)) ||
        !str_fits(reply->text, sizeof(reply->text)) ||
        !str_fits(reply->leader_addr, sizeof(reply->leader_addr)))
        return -EINVAL;
    m.has_result = reply->result != 0;
    m.result = reply->result;
    m.message = opt_str(reply->message);
    m.has_id = reply->id != -1;
    m.id = reply->id;
    m.has_epoch = reply->epoch != 0;
    m.epoch = reply->epoch;
    m.has_key = reply->has_key;
    m.key.data = (uint8_t *)reply->key;
    m.key.len = sizeof(reply->key);
    m.text = opt_str(reply->text);
    m.leader_addr = opt_str(reply->leader_addr);
    if (reply->has_status) {
        if (status_to_pb(&reply->status, &st, names) < 0)
            return -EINVAL;
        m.status = &st;
    }
    return proto__pb_pack(&m.base, buf, len);
}

static int status_from_pb(const Cairn__MonStatus *m, struct proto_mon_status *st)
{
    if (m->n_quorum > PROTO_MAP_MAX_MONS || copy_str(st->leader, sizeof(st->leader), m->leader))
        return -EINVAL;
    for (size_t i = 0; i < m->n_quorum; i++)
        if (copy_str(st->quorum[i], sizeof(st->quorum[i]), m->quorum[i]) < 0)
            return -EINVAL;
    st->n_quorum = (uint32_t)m->n_quorum;
    st->term = m->term;
    st->commit_index = m->commit_index;
    st->applied_index = m->applied_index;
    st->epoch = m->epoch;
    return 0;
}

static int reply_from_pb(const Cairn__MonReply *m, struct proto_mon_reply *reply)
{
    if (m->result > 0 || m->result < MON_RESULT_MIN || (m->has_id && m->id < -1))
        return -EINVAL;
    if (m->has_key && m->key.len != sizeof(reply->key))
        return -EINVAL;
    if (copy_str(reply->message, sizeof(reply->message), m->message) < 0 ||
        copy_str(reply->text, sizeof(reply->text), m->text) < 0 ||
        copy_str(reply->leader_addr, sizeof(reply->leader_addr), m->leader_addr) < 0)
        return -EINVAL;
    reply->result = m->result;
    reply->id = m->has_id ? m->id : -1;
    reply->epoch = m->epoch;
    reply->has_key = m->has_key;
    if (m->has_key)
        memcpy(reply->key, m->key.data, sizeof(reply->key));
    reply->has_status = m->status != NULL;
    if (m->status)
        return status_from_pb(m->status, &reply->status);
    return 0;
}

int proto_mon_reply_decode(const uint8_t *buf, size_t len, struct proto_mon_reply *reply)
{
    Cairn__MonReply *m = cairn__mon_reply__unpack(NULL, len, buf);
    struct proto_mon_reply *tmp;

    if (!m)
        return -EBADMSG;
    /* Over 5 KiB: keep it off the stack of a callback. */
    tmp = malloc(sizeof(*tmp));
    if (!tmp) {
        cairn__mon_reply__free_unpacked(m, NULL);
        return -ENOMEM;
    }
    proto_mon_reply_init(tmp);
    int r = reply_from_pb(m, tmp);
    cairn__mon_reply__free_unpacked(m, NULL);
    if (r == 0)
        *reply = *tmp;
    free(tmp);
    return r;
}

/* ---- PG stats ------------------------------------------------------------ */

/* Protobuf views of a struct proto_pg_stats, pointing into it. */
struct pg_pb {
    Cairn__PgStat *msgs;
    Cairn__PgStat **ptrs;
};

static void pg_pb_free(struct pg_pb *p)
{
    free(p->msgs);
    free(p->ptrs);
}

static void pg_stat_to_pb(const struct proto_pg_stat *st, Cairn__PgStat *m)
{
    cairn__pg_stat__init(m);
    m->has_pool = m->has_ps = m->has_state = m->has_epoch = true;
    m->pool = st->pool;
    m->ps = st->ps;
    m->state = st->state;
    m->epoch = st->epoch;
    m->has_last_update = st->last_update != 0;
    m->last_update = st->last_update;
    m->has_objects = st->objects != 0;
    m->objects = st->objects;
    m->has_objects_missing = st->objects_missing != 0;
    m->objects_missing = st->objects_missing;
    m->has_objects_recovered = st->objects_recovered != 0;
    m->objects_recovered = st->objects_recovered;
    m->has_last_scrub_ns = st->last_scrub_ns != 0;
    m->last_scrub_ns = st->last_scrub_ns;
    m->has_last_deep_scrub_ns = st->last_deep_scrub_ns != 0;
    m->last_deep_scrub_ns = st->last_deep_scrub_ns;
    m->n_acting = st->n_acting;
    m->acting = (int32_t *)st->acting;
}

/* Builds the protobuf views of @s. 0, -EINVAL (too many PGs or acting
 * OSDs: a caller bug), -ENOMEM. */
static int pg_pb_build(const struct proto_pg_stats *s, struct pg_pb *p)
{
    memset(p, 0, sizeof(*p));
    if (s->n > PROTO_MON_PG_STATS_MAX || (s->n && !s->pgs))
        return -EINVAL;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->pgs[i].n_acting > PROTO_PLACE_MAX_REPLICAS)
            return -EINVAL;
    if (s->n == 0)
        return 0;
    p->msgs = malloc(sizeof(*p->msgs) * s->n);
    p->ptrs = malloc(sizeof(*p->ptrs) * s->n);
    if (!p->msgs || !p->ptrs) {
        pg_pb_free(p);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < s->n; i++) {
        pg_stat_to_pb(&s->pgs[i], &p->msgs[i]);
        p->ptrs[i] = &p->msgs[i];
    }
    return 0;
}

static int pg_stat_from_pb(const Cairn__PgStat *m, struct proto_pg_stat *st)
{
    if (m->pool < 0 || m->n_acting > PROTO_PLACE_MAX_REPLICAS)
        return -EINVAL;
    memset(st, 0, sizeof(*st));
    for (size_t i = 0; i < m->n_acting; i++) {
        if (m->acting[i] < 0 || (uint32_t)m->acting[i] >= PROTO_MAP_MAX_OSDS)
            return -EINVAL;
        st->acting[i] = m->acting[i];
    }
    st->n_acting = (uint32_t)m->n_acting;
    st->pool = m->pool;
    st->ps = m->ps;
    st->state = m->state;
    st->epoch = m->epoch;
    st->last_update = m->last_update;
    st->objects = m->objects;
    st->objects_missing = m->objects_missing;
    st->objects_recovered = m->objects_recovered;
    st->last_scrub_ns = m->last_scrub_ns;
    st->last_deep_scrub_ns = m->last_deep_scrub_ns;
    return 0;
}

/* Converts @n decoded PgStats into a new array in @s->pgs. */
static int pgs_from_pb(Cairn__PgStat *const *msgs, size_t n, struct proto_pg_stats *s)
{
    if (n > PROTO_MON_PG_STATS_MAX)
        return -EINVAL;
    s->n = 0;
    s->pgs = NULL;
    if (n == 0)
        return 0;
    if (!(s->pgs = malloc(sizeof(*s->pgs) * n)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int r = pg_stat_from_pb(msgs[i], &s->pgs[i]);
        if (r < 0) {
            free(s->pgs);
            s->pgs = NULL;
            return r;
        }
    }
    s->n = (uint32_t)n;
    return 0;
}

/* ---- OSD store usage ----------------------------------------------------- */

/* A usage entry that may travel after one for OSD @prev (-1: the first):
 * ids strictly increase, so no OSD counts twice. */
static bool usage_is_valid(int32_t osd, uint64_t total, uint64_t used, int32_t prev)
{
    return osd > prev && (uint32_t)osd < PROTO_MAP_MAX_OSDS && used <= total;
}

/* Protobuf views of a reply's usage array, pointing into it. */
struct usage_pb {
    Cairn__OsdUsage *msgs;
    Cairn__OsdUsage **ptrs;
};

static void usage_pb_free(struct usage_pb *p)
{
    free(p->msgs);
    free(p->ptrs);
}

/* 0, -EINVAL (an entry out of order or range: a caller bug), -ENOMEM. */
static int usage_pb_build(const struct proto_pg_stats *s, struct usage_pb *p)
{
    memset(p, 0, sizeof(*p));
    if (s->n_usage > PROTO_MAP_MAX_OSDS || (s->n_usage && !s->usage))
        return -EINVAL;
    for (uint32_t i = 0; i < s->n_usage; i++) {
        const struct proto_osd_usage *u = &s->usage[i];
        if (!usage_is_valid(u->osd, u->bytes_total, u->bytes_used, i ? s->usage[i - 1].osd : -1))
            return -EINVAL;
    }
    if (s->n_usage == 0)
        return 0;
    p->msgs = calloc(s->n_usage, sizeof(*p->msgs));
    p->ptrs = calloc(s->n_usage, sizeof(*p->ptrs));
    if (!p->msgs || !p->ptrs) {
        usage_pb_free(p);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < s->n_usage; i++) {
        Cairn__OsdUsage *m = &p->msgs[i];
        cairn__osd_usage__init(m);
        m->has_osd = m->has_bytes_total = m->has_bytes_used = true;
        m->osd = s->usage[i].osd;
        m->bytes_total = s->usage[i].bytes_total;
        m->bytes_used = s->usage[i].bytes_used;
        p->ptrs[i] = m;
    }
    return 0;
}

/* Converts @n decoded OsdUsages into a new array in @s->usage. 0, -EINVAL,
 * -ENOMEM; @s->usage stays NULL on failure. */
static int usage_from_pb(Cairn__OsdUsage *const *msgs, size_t n, struct proto_pg_stats *s)
{
    struct proto_osd_usage *u;

    if (n > PROTO_MAP_MAX_OSDS)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!usage_is_valid(msgs[i]->osd, msgs[i]->bytes_total, msgs[i]->bytes_used,
                            i ? msgs[i - 1]->osd : -1))
            return -EINVAL;
    if (n == 0)
        return 0;
    if (!(u = malloc(sizeof(*u) * n)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        u[i] = (struct proto_osd_usage){.osd = msgs[i]->osd,
                                        .bytes_total = msgs[i]->bytes_total,
                                        .bytes_used = msgs[i]->bytes_used};
    s->usage = u;
    s->n_usage = (uint32_t)n;
    return 0;
}

/* A beacon's stats as proto_mon_beacon_encode() takes them. */
static bool beacon_stats_are_valid(const struct proto_pg_stats *s)
{
    if (s->has_store && s->store.bytes_used > s->store.bytes_total)
        return false;
    return s->beacon_ms > 0 || (s->n == 0 && s->has_store);
}

/* The beacon's store fields (15, 16) into @s for OSD @id: both or neither,
 * used <= total. 0 or -EINVAL. */
static int store_from_pb(const Cairn__MonCommand *m, int32_t id, struct proto_pg_stats *s)
{
    if (m->has_store_bytes != m->has_store_used_bytes)
        return -EINVAL;
    if (!m->has_store_bytes)
        return 0;
    if (m->store_used_bytes > m->store_bytes)
        return -EINVAL;
    s->has_store = true;
    s->store = (struct proto_osd_usage){
        .osd = id, .bytes_total = m->store_bytes, .bytes_used = m->store_used_bytes};
    return 0;
}

/* ---- beacons and PG_STATS replies ---------------------------------------- */

int proto_mon_beacon_encode(const struct proto_mon_cmd *cmd, const struct proto_pg_stats *stats,
                            uint8_t **buf, size_t *len)
{
    Cairn__MonCommand m = CAIRN__MON_COMMAND__INIT;
    struct pg_pb p = {0};
    int r;

    if (cmd->op != PROTO_MON_OSD_BEACON || (stats && !beacon_stats_are_valid(stats)))
        return -EINVAL;
    if ((r = cmd_to_pb(cmd, &m)) < 0)
        return r;
    if (stats && stats->beacon_ms) {
        if ((r = pg_pb_build(stats, &p)) < 0)
            return r;
        m.n_pg_stats = stats->n;
        m.pg_stats = p.ptrs;
        m.has_beacon_ms = true;
        m.beacon_ms = stats->beacon_ms;
    }
    if (stats && stats->has_store) {
        m.has_store_bytes = m.has_store_used_bytes = true;
        m.store_bytes = stats->store.bytes_total;
        m.store_used_bytes = stats->store.bytes_used;
    }
    r = proto__pb_pack(&m.base, buf, len);
    pg_pb_free(&p);
    return r;
}

int proto_mon_beacon_decode(const uint8_t *buf, size_t len, struct proto_mon_cmd *cmd,
                            struct proto_pg_stats *stats)
{
    Cairn__MonCommand *m = cairn__mon_command__unpack(NULL, len, buf);
    struct proto_pg_stats tmp_stats = {0};
    struct proto_mon_cmd tmp;
    int r;

    if (!m)
        return -EBADMSG;
    proto_mon_cmd_init(&tmp, PROTO_MON_OP_NONE);
    r = cmd_from_pb(m, &tmp);
    if (r == 0 && (tmp.op != PROTO_MON_OSD_BEACON || (m->n_pg_stats && !m->has_beacon_ms) ||
                   (m->has_beacon_ms && m->beacon_ms == 0)))
        r = -EINVAL;
    if (r == 0)
        r = store_from_pb(m, tmp.id, &tmp_stats);
    if (r == 0 && (r = pgs_from_pb(m->pg_stats, m->n_pg_stats, &tmp_stats)) == 0)
        tmp_stats.beacon_ms = m->beacon_ms;
    cairn__mon_command__free_unpacked(m, NULL);
    if (r == 0) {
        *cmd = tmp;
        *stats = tmp_stats;
    }
    return r;
}

int proto_mon_pg_stats_encode(const struct proto_pg_stats *stats, uint8_t **buf, size_t *len)
{
    Cairn__PgStatsReply m = CAIRN__PG_STATS_REPLY__INIT;
    struct usage_pb u;
    struct pg_pb p;
    int r = usage_pb_build(stats, &u);

    if (r < 0)
        return r;
    if ((r = pg_pb_build(stats, &p)) < 0) {
        usage_pb_free(&u);
        return r;
    }
    m.n_pgs = stats->n;
    m.pgs = p.ptrs;
    m.has_objects_per_s = stats->objects_per_s != 0;
    m.objects_per_s = stats->objects_per_s;
    m.n_osd_usage = stats->n_usage;
    m.osd_usage = u.ptrs;
    r = proto__pb_pack(&m.base, buf, len);
    pg_pb_free(&p);
    usage_pb_free(&u);
    return r;
}

int proto_mon_pg_stats_decode(const uint8_t *buf, size_t len, struct proto_pg_stats *stats)
{
    Cairn__PgStatsReply *m = cairn__pg_stats_reply__unpack(NULL, len, buf);
    struct proto_pg_stats tmp = {0};
    int r = -EINVAL;

    if (!m)
        return -EBADMSG;
    /* "!(x >= 0)" also refuses NaN. */
    if (!(m->objects_per_s >= 0) || isinf(m->objects_per_s))
        goto out;
    if ((r = usage_from_pb(m->osd_usage, m->n_osd_usage, &tmp)) < 0)
        goto out;
    if ((r = pgs_from_pb(m->pgs, m->n_pgs, &tmp)) < 0) {
        proto_pg_stats_fini(&tmp);
        goto out;
    }
    tmp.objects_per_s = m->objects_per_s;
    *stats = tmp;
out:
    cairn__pg_stats_reply__free_unpacked(m, NULL);
    return r;
}

/* ---- map requests ------------------------------------------------------- */

int proto_mon_map_request_encode(uint64_t have_epoch, uint8_t **buf, size_t *len)
{
    Cairn__MapRequest m = CAIRN__MAP_REQUEST__INIT;

    m.has_have_epoch = have_epoch != 0;
    m.have_epoch = have_epoch;
    return proto__pb_pack(&m.base, buf, len);
}

int proto_mon_map_request_decode(const uint8_t *buf, size_t len, uint64_t *have_epoch)
{
    Cairn__MapRequest *m = cairn__map_request__unpack(NULL, len, buf);

    if (!m)
        return -EBADMSG;
    *have_epoch = m->have_epoch;
    cairn__map_request__free_unpacked(m, NULL);
    return 0;
}
