/* Fuzz target for the OSD client-operation codec (protocol/osd_op.c). An
 * input is
 *   u64 data_len (little-endian; absent in inputs under 8 bytes: 0) | metadata
 * and the metadata is decoded as an op and a reply (against data_len), a
 * listing, a listing reply, a PG command, a PG command reply and a ping.
 * Whatever decodes must satisfy the documented rules and survive encode +
 * decode with identical fields; a failed decode leaves nothing to release. Any crash, leak, sanitizer report
 * or abort() is a bug. Built by tests/fuzz/CMakeLists.txt; seeds in
 * corpus/osd_op/ (written by gen_corpus_osd_op.c). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/osd_op.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void check_errno(int r)
{
    if (r != 0 && r != -EBADMSG && r != -EINVAL && r != -ENOMEM)
        abort();
}

/* ---- ops ---------------------------------------------------------------- */

static void check_op(const struct proto_osd_op *op, uint64_t data_len)
{
    uint64_t off = 0;
    size_t oid_len = strnlen(op->oid, sizeof(op->oid));

    if (op->pool < 0 || oid_len == 0 || oid_len > PROTO_OSD_OID_MAX)
        abort();
    if (op->n_steps == 0 || op->n_steps > PROTO_OSD_STEPS_MAX)
        abort();
    for (uint32_t i = 0; i < op->n_steps; i++) {
        const struct proto_osd_step *s = &op->steps[i];
        if (!proto_osd_step_is_valid(s->type) || s->value_len > PROTO_OSD_VALUE_MAX ||
            s->value2_len > PROTO_OSD_VALUE_MAX || s->name_len > PROTO_OSD_OMAP_KEY_MAX)
            abort();
        if (s->data_off != off)
            abort();
        if (s->type == PROTO_OSD_WRITE || s->type == PROTO_OSD_WRITE_FULL)
            off += s->len;
    }
    if (off != data_len)
        abort();
}

static bool same_step(const struct proto_osd_step *a, const struct proto_osd_step *b)
{
    return a->type == b->type && a->flags == b->flags && a->off == b->off &&
           a->len == b->len && same_bytes(a->name, a->name_len, b->name, b->name_len) &&
           same_bytes(a->value, a->value_len, b->value, b->value_len) &&
           same_bytes(a->value2, a->value2_len, b->value2, b->value2_len) && a->crc == b->crc &&
           a->delta == b->delta && a->version == b->version && a->max == b->max &&
           a->data_off == b->data_off;
}

static void round_trip_op(const struct proto_osd_op *op, uint64_t data_len)
{
    struct proto_osd_op *again = malloc(sizeof(*again));
    uint8_t *buf;
    size_t len;

    if (!again)
        return;
    if (proto_osd_op_encode(op, &buf, &len) != 0)
        abort(); /* decode accepted it, so encode must too */
    proto_osd_op_init(again);
    if (proto_osd_op_decode(buf, len, data_len, again, NULL, 0) != 0)
        abort();
    free(buf);
    if (again->epoch != op->epoch || again->pool != op->pool || again->pg != op->pg ||
        strcmp(again->oid, op->oid) != 0 || again->client_id != op->client_id ||
        again->tid != op->tid || again->n_steps != op->n_steps)
        abort();
    for (uint32_t i = 0; i < op->n_steps; i++)
        if (!same_step(&again->steps[i], &op->steps[i]))
            abort();
    proto_osd_op_release(again);
    free(again);
}

static void fuzz_op(const uint8_t *meta, size_t meta_len, uint64_t data_len)
{
    struct proto_osd_op *op = malloc(sizeof(*op));
    char err[128];

    if (!op)
        return;
    proto_osd_op_init(op);
    int r = proto_osd_op_decode(meta, meta_len, data_len, op, err, sizeof(err));
    check_errno(r);
    if (r == 0) {
        check_op(op, data_len);
        round_trip_op(op, data_len);
    } else if (op->priv || op->n_steps || !memchr(err, '\0', sizeof(err))) {
        abort(); /* untouched, and a terminated reason */
    }
    proto_osd_op_release(op);
    free(op);
}

/* ---- replies ------------------------------------------------------------ */

static void check_reply(const struct proto_osd_reply *reply, uint64_t data_len)
{
    uint64_t off = 0;

    if (reply->result > 0 || reply->result < PROTO_OSD_RESULT_MIN || reply->failed_step < -1 ||
        reply->n_results > PROTO_OSD_STEPS_MAX ||
        !memchr(reply->message, '\0', sizeof(reply->message)))
        abort();
    for (uint32_t i = 0; i < reply->n_results; i++) {
        const struct proto_osd_step_result *res = &reply->results[i];
        if (res->data_off != off || res->value_len > PROTO_OSD_VALUE_MAX)
            abort();
        off += res->len;
    }
    if (off != data_len)
        abort();
}

static bool same_result(const struct proto_osd_step_result *a,
                        const struct proto_osd_step_result *b)
{
    if (a->rval != b->rval || a->len != b->len || a->crc != b->crc ||
        a->data_off != b->data_off || a->has_value != b->has_value ||
        !same_bytes(a->value, a->value_len, b->value, b->value_len) || a->size != b->size ||
        a->mtime_ns != b->mtime_ns || a->num != b->num || a->n_entries != b->n_entries ||
        a->more != b->more)
        return false;
    for (uint32_t i = 0; i < a->n_entries; i++) {
        const struct proto_osd_kv *x = &a->entries[i], *y = &b->entries[i];
        if (!same_bytes(x->key, x->key_len, y->key, y->key_len) ||
            !same_bytes(x->value, x->value_len, y->value, y->value_len))
            return false;
    }
    return true;
}

static void round_trip_reply(const struct proto_osd_reply *reply, uint64_t data_len)
{
    struct proto_osd_reply again;
    uint8_t *buf;
    size_t len;

    if (proto_osd_reply_encode(reply, &buf, &len) != 0)
        abort();
    if (proto_osd_reply_decode(buf, len, data_len, &again) != 0)
        abort();
    free(buf);
    if (again.result != reply->result || again.epoch != reply->epoch ||
        again.version != reply->version || again.failed_step != reply->failed_step ||
        strcmp(again.message, reply->message) != 0 || again.n_results != reply->n_results)
        abort();
    for (uint32_t i = 0; i < reply->n_results; i++)
        if (!same_result(&again.results[i], &reply->results[i]))
            abort();
    proto_osd_reply_release(&again);
}

static void fuzz_reply(const uint8_t *meta, size_t meta_len, uint64_t data_len)
{
    struct proto_osd_reply reply;

    proto_osd_reply_init(&reply);
    int r = proto_osd_reply_decode(meta, meta_len, data_len, &reply);
    check_errno(r);
    if (r == 0) {
        check_reply(&reply, data_len);
        round_trip_reply(&reply, data_len);
    } else if (reply.priv || reply.results) {
        abort();
    }
    proto_osd_reply_release(&reply);
}

/* ---- listing ------------------------------------------------------------ */

static void fuzz_list(const uint8_t *meta, size_t meta_len)
{
    struct proto_osd_list list, again;
    uint8_t *buf;
    size_t len;

    proto_osd_list_init(&list);
    int r = proto_osd_list_decode(meta, meta_len, &list);
    check_errno(r);
    if (r != 0)
        return;
    if (list.pool < 0 || list.max > PROTO_OSD_LIST_MAX ||
        !memchr(list.after, '\0', sizeof(list.after)))
        abort();
    if (proto_osd_list_encode(&list, &buf, &len) != 0)
        abort();
    if (proto_osd_list_decode(buf, len, &again) != 0)
        abort();
    free(buf);
    if (again.epoch != list.epoch || again.pool != list.pool || again.pg != list.pg ||
        strcmp(again.after, list.after) != 0 || again.max != list.max)
        abort();
}

static void fuzz_list_reply(const uint8_t *meta, size_t meta_len)
{
    struct proto_osd_list_reply reply = {0}, again;
    uint8_t *buf;
    size_t len;

    int r = proto_osd_list_reply_decode(meta, meta_len, &reply);
    check_errno(r);
    if (r != 0) {
        if (reply.names)
            abort();
        return;
    }
    if (reply.result > 0 || reply.n_names > PROTO_OSD_LIST_MAX)
        abort();
    for (uint32_t i = 0; i < reply.n_names; i++) {
        size_t n = strlen(reply.names[i]);
        if (n == 0 || n > PROTO_OSD_OID_MAX)
            abort();
    }
    if (proto_osd_list_reply_encode(&reply, &buf, &len) != 0)
        abort();
    if (proto_osd_list_reply_decode(buf, len, &again) != 0)
        abort();
    free(buf);
    if (again.result != reply.result || again.epoch != reply.epoch ||
        again.more != reply.more || again.n_names != reply.n_names)
        abort();
    for (uint32_t i = 0; i < reply.n_names; i++)
        if (strcmp(again.names[i], reply.names[i]) != 0)
            abort();
    proto_osd_list_reply_release(&again);
    proto_osd_list_reply_release(&reply);
}

/* ---- PG commands -------------------------------------------------------- */

static void fuzz_pg_cmd(const uint8_t *meta, size_t meta_len)
{
    struct proto_osd_pg_cmd cmd, again;
    uint8_t *buf;
    size_t len;

    proto_osd_pg_cmd_init(&cmd);
    int r = proto_osd_pg_cmd_decode(meta, meta_len, &cmd);
    check_errno(r);
    if (r != 0)
        return;
    if (cmd.pool < 0 || cmd.op == 0 || cmd.op > PROTO_OSD_PG_CMD_OP_MAX)
        abort();
    if (proto_osd_pg_cmd_encode(&cmd, &buf, &len) != 0)
        abort();
    if (proto_osd_pg_cmd_decode(buf, len, &again) != 0)
        abort();
    free(buf);
    if (again.epoch != cmd.epoch || again.pool != cmd.pool || again.pg != cmd.pg ||
        again.op != cmd.op)
        abort();
}

static void fuzz_pg_cmd_reply(const uint8_t *meta, size_t meta_len)
{
    struct proto_osd_pg_cmd_reply reply = {0}, again;
    uint8_t *buf;
    size_t len;

    int r = proto_osd_pg_cmd_reply_decode(meta, meta_len, &reply);
    check_errno(r);
    if (r != 0)
        return;
    if (reply.result > 0 || reply.result < PROTO_OSD_RESULT_MIN ||
        reply.repaired > reply.inconsistent || !memchr(reply.message, '\0', sizeof(reply.message)))
        abort();
    if (proto_osd_pg_cmd_reply_encode(&reply, &buf, &len) != 0)
        abort();
    if (proto_osd_pg_cmd_reply_decode(buf, len, &again) != 0)
        abort();
    free(buf);
    if (again.result != reply.result || again.epoch != reply.epoch ||
        strcmp(again.message, reply.message) != 0 || again.objects != reply.objects ||
        again.inconsistent != reply.inconsistent || again.repaired != reply.repaired ||
        again.duration_ms != reply.duration_ms)
        abort();
}

/* ---- ping --------------------------------------------------------------- */

static void fuzz_ping(const uint8_t *meta, size_t meta_len)
{
    struct proto_osd_ping ping, again;
    uint8_t *buf;
    size_t len;

    int r = proto_osd_ping_decode(meta, meta_len, &ping);
    if (r != 0 && r != -EBADMSG)
        abort();
    if (r != 0)
        return;
    if (proto_osd_ping_encode(&ping, &buf, &len) != 0 ||
        proto_osd_ping_decode(buf, len, &again) != 0)
        abort();
    free(buf);
    if (again.epoch != ping.epoch || again.stamp_ns != ping.stamp_ns)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t data_len = 0;

    if (size >= 8) {
        for (int i = 7; i >= 0; i--)
            data_len = data_len << 8 | data[i];
        data += 8;
        size -= 8;
    }
    fuzz_op(data, size, data_len);
    fuzz_reply(data, size, data_len);
    fuzz_list(data, size);
    fuzz_list_reply(data, size);
    fuzz_pg_cmd(data, size);
    fuzz_pg_cmd_reply(data, size);
    fuzz_ping(data, size);
    return 0;
}
