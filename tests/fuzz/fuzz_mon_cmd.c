/* Fuzz target for the monitor command codec (protocol/mon.c). Each input is
 * decoded as a MonCommand, a MonReply, a MapRequest, a beacon with PG
 * stats and a PgStatsReply. Decoded PG stats must keep the decoder's
 * limits (count, acting set size and ids, pool >= 0) and survive a round
 * trip. A command that
 * decodes must satisfy the decoder's promises (valid op, id >= -1, strings
 * terminated within their buffers) and survive encode + decode unchanged.
 * Any crash, leak, sanitizer report or abort() is a bug. Built by
 * tests/fuzz/CMakeLists.txt as a libFuzzer binary or a replay executable. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static void check_cmd(const struct proto_mon_cmd *c)
{
    if (!proto_mon_op_is_valid(c->op) || c->id < -1)
        abort();
    if (!terminated(c->name, sizeof(c->name)) || !terminated(c->key, sizeof(c->key)) ||
        !terminated(c->value, sizeof(c->value)))
        abort();
}

/* Decoded commands re-encode to something that decodes to the same fields. */
static void round_trip(const struct proto_mon_cmd *c)
{
    struct proto_mon_cmd again;
    uint8_t *buf;
    size_t len;

    if (proto_mon_cmd_encode(c, &buf, &len) != 0)
        abort();
    proto_mon_cmd_init(&again, PROTO_MON_OP_NONE);
    if (proto_mon_cmd_decode(buf, len, &again) != 0)
        abort();
    free(buf);
    if (again.op != c->op || again.id != c->id || strcmp(again.name, c->name) != 0 ||
        strcmp(again.key, c->key) != 0 || strcmp(again.value, c->value) != 0 ||
        again.size != c->size || again.min_size != c->min_size || again.pg_num != c->pg_num ||
        again.failure_domain != c->failure_domain || again.weight != c->weight ||
        memcmp(again.uuid, c->uuid, sizeof(c->uuid)) != 0 || again.stamp_ns != c->stamp_ns)
        abort();
}

static void check_pg_stats(const struct proto_pg_stats *s)
{
    if (s->n > PROTO_MON_PG_STATS_MAX || (s->n == 0) != (s->pgs == NULL))
        abort();
    if (s->n_usage > PROTO_MAP_MAX_OSDS || (s->n_usage == 0) != (s->usage == NULL) ||
        (s->has_store && s->store.bytes_used > s->store.bytes_total))
        abort();
    for (uint32_t i = 0; i < s->n_usage; i++) {
        const struct proto_osd_usage *u = &s->usage[i];
        if (u->osd < 0 || (uint32_t)u->osd >= PROTO_MAP_MAX_OSDS ||
            u->bytes_used > u->bytes_total || (i && u->osd <= s->usage[i - 1].osd))
            abort();
    }
    for (uint32_t i = 0; i < s->n; i++) {
        const struct proto_pg_stat *st = &s->pgs[i];
        if (st->pool < 0 || st->n_acting > PROTO_PLACE_MAX_REPLICAS)
            abort();
        for (uint32_t k = 0; k < st->n_acting; k++)
            if (st->acting[k] < 0 || (uint32_t)st->acting[k] >= PROTO_MAP_MAX_OSDS)
                abort();
    }
}

static bool same_usage(const struct proto_osd_usage *a, const struct proto_osd_usage *b)
{
    return a->osd == b->osd && a->bytes_total == b->bytes_total && a->bytes_used == b->bytes_used;
}

static void same_pg_stats(const struct proto_pg_stats *a, const struct proto_pg_stats *b)
{
    if (a->n != b->n || a->n_usage != b->n_usage || a->has_store != b->has_store ||
        (a->has_store && !same_usage(&a->store, &b->store)))
        abort();
    for (uint32_t i = 0; i < a->n_usage; i++)
        if (!same_usage(&a->usage[i], &b->usage[i]))
            abort();
    for (uint32_t i = 0; i < a->n; i++) {
        const struct proto_pg_stat *x = &a->pgs[i], *y = &b->pgs[i];
        if (x->pool != y->pool || x->ps != y->ps || x->state != y->state ||
            x->epoch != y->epoch || x->last_update != y->last_update ||
            x->objects != y->objects || x->objects_missing != y->objects_missing ||
            x->objects_recovered != y->objects_recovered || x->last_scrub_ns != y->last_scrub_ns ||
            x->last_deep_scrub_ns != y->last_deep_scrub_ns || x->n_acting != y->n_acting ||
            memcmp(x->acting, y->acting, x->n_acting * sizeof(x->acting[0])) != 0)
            abort();
    }
}

/* Beacons and PG stats replies: limits kept, round trips exact. */
static void pg_stats_cases(const uint8_t *data, size_t size)
{
    struct proto_pg_stats s = {0}, again = {0};
    struct proto_mon_cmd cmd, cmd2;
    uint8_t *buf;
    size_t len;

    int r = proto_mon_beacon_decode(data, size, &cmd, &s);
    if (r == 0) {
        check_cmd(&cmd);
        check_pg_stats(&s);
        if (proto_mon_beacon_encode(&cmd, s.beacon_ms || s.has_store ? &s : NULL, &buf, &len) !=
                0 ||
            proto_mon_beacon_decode(buf, len, &cmd2, &again) != 0 || cmd2.id != cmd.id ||
            again.beacon_ms != s.beacon_ms)
            abort();
        same_pg_stats(&s, &again);
        free(buf);
        proto_pg_stats_fini(&again);
        proto_pg_stats_fini(&s);
    } else if (r != -EBADMSG && r != -EINVAL && r != -ENOMEM) {
        abort();
    }
    r = proto_mon_pg_stats_decode(data, size, &s);
    if (r == 0) {
        check_pg_stats(&s);
        if (!(s.objects_per_s >= 0) || proto_mon_pg_stats_encode(&s, &buf, &len) != 0 ||
            proto_mon_pg_stats_decode(buf, len, &again) != 0 ||
            again.objects_per_s != s.objects_per_s)
            abort();
        same_pg_stats(&s, &again);
        free(buf);
        proto_pg_stats_fini(&again);
        proto_pg_stats_fini(&s);
    } else if (r != -EBADMSG && r != -EINVAL && r != -ENOMEM) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_mon_cmd cmd;
    struct proto_mon_reply *reply = malloc(sizeof(*reply));
    uint64_t epoch;

    int r = proto_mon_cmd_decode(data, size, &cmd);
    if (r == 0) {
        check_cmd(&cmd);
        round_trip(&cmd);
    } else if (r != -EBADMSG && r != -EINVAL) {
        abort();
    }
    if (reply) {
        r = proto_mon_reply_decode(data, size, reply);
        if (r == 0 && (reply->result > 0 || !terminated(reply->text, sizeof(reply->text)) ||
                       reply->status.n_quorum > PROTO_MAP_MAX_MONS))
            abort();
        free(reply);
    }
    (void)proto_mon_map_request_decode(data, size, &epoch);
    pg_stats_cases(data, size);
    return 0;
}
