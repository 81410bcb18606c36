/* A raw OSD client for the cairn-osd integration tests: one messenger
 * connection as client.admin to one OSD, requests built by hand (some with
 * hand-made protobuf bytes the encoder would refuse to write), and checks
 * of the exact error each gets. It speaks PROTO_MSG_OSD_* directly (not
 * libcairn), so the tests see what the OSD answers to malformed input.
 *
 *   osd_test_client -k KEYRING ADDR POOL PG_NUM EPOCH bad-ops
 *     runs every malformed request below against the OSD at ADDR (the
 *     primary of every PG of POOL: a one-OSD cluster), then a good write
 *     and read, which must still work.
 *
 * Exit status: 0 all checks passed, 1 a check failed (the line says which),
 * 64 usage. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "protocol/msg_types.h"
#include "protocol/msgr.h"
#include "protocol/osd_op.h"
#include "protocol/placement.h"

#define CALL_TIMEOUT_MS 5000u

struct tc {
    struct event_base *base;
    struct event *tick;
    struct proto_msgr *m;
    struct proto_keyring *kr;
    struct proto_conn *conn;
    struct proto_map_pool pool;
    uint64_t epoch;
    uint64_t tid;
    int failures;
};

struct call {
    bool done;
    int result;
    struct proto_frame reply;
};

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

static void on_message(struct proto_conn *conn, struct proto_frame *f, void *arg)
{
    proto_frame_free(f);
}

static const struct proto_msgr_handlers handlers = {.on_message = on_message};

static void call_cb(int result, struct proto_frame *reply, void *arg)
{
    struct call *k = arg;

    k->done = true;
    k->result = result;
    if (reply)
        k->reply = *reply;
}

/* One request; 0 and the reply in *@k (free with proto_frame_free). */
static int call(struct tc *t, uint16_t type, const void *meta, size_t ml, const void *data,
                size_t dl, struct call *k)
{
    memset(k, 0, sizeof(*k));
    int r = proto_conn_request(t->conn, type, meta, ml, data, dl, CALL_TIMEOUT_MS, call_cb, k);
    if (r < 0)
        return r;
    while (!k->done)
        event_base_loop(t->base, EVLOOP_ONCE);
    return k->result;
}

/* Sends an OSD_OP with raw metadata and data; the reply's result (or the
 * transport error) and its message in @msg. */
static int raw_op(struct tc *t, const void *meta, size_t ml, const void *data, size_t dl,
                  char *msg, size_t msg_len, struct proto_osd_reply *out)
{
    struct proto_osd_reply rep;
    struct call k;
    int r = call(t, PROTO_MSG_OSD_OP, meta, ml, data, dl, &k);

    msg[0] = '\0';
    if (r < 0)
        return r;
    r = proto_osd_reply_decode(k.reply.meta, k.reply.hdr.meta_len, k.reply.hdr.data_len, &rep);
    if (r == 0) {
        snprintf(msg, msg_len, "%s", rep.message);
        r = rep.result;
        if (out && rep.result == 0 && rep.n_results && k.reply.hdr.data_len)
            out->version = (uint64_t)k.reply.hdr.data_len; /* the read length, for checks */
        proto_osd_reply_release(&rep);
    } else {
        r = 1000; /* undecodable reply */
    }
    proto_frame_free(&k.reply);
    return r;
}

static int op_call(struct tc *t, struct proto_osd_op *op, const void *data, size_t dl, char *msg,
                   size_t msg_len, struct proto_osd_reply *out)
{
    uint8_t *meta;
    size_t ml;

    if (proto_osd_op_encode(op, &meta, &ml) < 0)
        return 2000;
    int r = raw_op(t, meta, ml, data, dl, msg, msg_len, out);
    free(meta);
    return r;
}

static void expect(struct tc *t, const char *what, int got, int want, const char *msg)
{
    if (got == want) {
        printf("ok   %-40s %d (%s)\n", what, got, msg);
        return;
    }
    printf("FAIL %-40s got %d, want %d (%s)\n", what, got, want, msg);
    t->failures++;
}

/* ---- hand-made protobuf --------------------------------------------------- */

struct pb {
    uint8_t buf[8192];
    size_t len;
};

static void pb_varint(struct pb *b, uint64_t v)
{
    do {
        b->buf[b->len++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
}

static void pb_bytes(struct pb *b, unsigned field, const void *p, size_t n)
{
    pb_varint(b, field << 3 | 2);
    pb_varint(b, n);
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static void pb_uint(struct pb *b, unsigned field, uint64_t v)
{
    pb_varint(b, field << 3);
    pb_varint(b, v);
}

/* An OsdOp for @oid (@oid_len bytes) with one step (already encoded). */
static void pb_op(struct tc *t, struct pb *b, const void *oid, size_t oid_len,
                  const struct pb *step)
{
    b->len = 0;
    pb_uint(b, 1, t->epoch);
    pb_uint(b, 2, (uint64_t)t->pool.id << 1); /* sint32: zigzag */
    pb_uint(b, 3, proto_place_pg(&t->pool, oid, oid_len));
    pb_bytes(b, 4, oid, oid_len);
    pb_uint(b, 5, 42);
    pb_uint(b, 6, ++t->tid);
    if (step)
        pb_bytes(b, 7, step->buf, step->len);
}

/* ---- the checks --------------------------------------------------------------- */

static void op_init(struct tc *t, struct proto_osd_op *op, const char *oid)
{
    proto_osd_op_init(op);
    op->epoch = t->epoch;
    op->pool = t->pool.id;
    snprintf(op->oid, sizeof(op->oid), "%s", oid);
    op->pg = proto_place_pg(&t->pool, oid, strlen(oid));
    op->client_id = 42;
    op->tid = ++t->tid;
}

static struct proto_osd_step *add_step(struct proto_osd_op *op, uint32_t type)
{
    struct proto_osd_step *s = &op->steps[op->n_steps++];

    memset(s, 0, sizeof(*s));
    s->type = type;
    return s;
}

static void check_garbage(struct tc *t)
{
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99, 0x00, 0x7a};
    char msg[256];

    expect(t, "garbage metadata", raw_op(t, junk, sizeof(junk), NULL, 0, msg, sizeof(msg), NULL),
           -EINVAL, msg);
    expect(t, "empty metadata, no steps", raw_op(t, NULL, 0, NULL, 0, msg, sizeof(msg), NULL),
           -EINVAL, msg);
}

static void check_lengths(struct tc *t)
{
    struct proto_osd_op op;
    char msg[256], data[16] = "0123456789abcdef";

    op_init(t, &op, "len");
    struct proto_osd_step *s = add_step(&op, PROTO_OSD_WRITE);
    s->len = 10;
    s->crc = cairn_crc32c(0, data, 10);
    expect(t, "write payload shorter than its step", op_call(t, &op, data, 5, msg, sizeof(msg), NULL),
           -EINVAL, msg);
    expect(t, "write payload longer than its step",
           op_call(t, &op, data, 16, msg, sizeof(msg), NULL), -EINVAL, msg);
    s->crc ^= 0x5a;
    expect(t, "write payload with a bad crc32c", op_call(t, &op, data, 10, msg, sizeof(msg), NULL),
           -EBADMSG, msg);
    add_step(&op, PROTO_OSD_READ)->len = 4;
    s->crc ^= 0x5a;
    expect(t, "write op that reads data", op_call(t, &op, data, 10, msg, sizeof(msg), NULL),
           -EINVAL, msg);
}

static void check_names(struct tc *t)
{
    static char big[PROTO_OSD_OID_MAX + 2];
    struct pb op, step;
    char msg[256];

    memset(big, 'x', sizeof(big));
    pb_op(t, &op, big, PROTO_OSD_OID_MAX + 1, NULL);
    step.len = 0;
    pb_uint(&step, 1, PROTO_OSD_STAT);
    pb_bytes(&op, 7, step.buf, step.len);
    expect(t, "object name of 1025 bytes", raw_op(t, op.buf, op.len, NULL, 0, msg, sizeof(msg), NULL),
           -EINVAL, msg);
    pb_op(t, &op, "a\0b", 3, &step);
    expect(t, "object name with a NUL", raw_op(t, op.buf, op.len, NULL, 0, msg, sizeof(msg), NULL),
           -EINVAL, msg);
    step.len = 0;
    pb_uint(&step, 1, PROTO_OSD_SETXATTR);
    pb_bytes(&step, 5, big, PROTO_OSD_XATTR_NAME_MAX + 1);
    pb_op(t, &op, "x", 1, &step);
    expect(t, "xattr name of 251 bytes", raw_op(t, op.buf, op.len, NULL, 0, msg, sizeof(msg), NULL),
           -EINVAL, msg);
    step.len = 0;
    pb_uint(&step, 1, 99);
    pb_op(t, &op, "x", 1, &step);
    expect(t, "unknown step type 99", raw_op(t, op.buf, op.len, NULL, 0, msg, sizeof(msg), NULL),
           -EINVAL, msg);
    step.len = 0;
    pb_uint(&step, 1, PROTO_OSD_STAT);
    pb_op(t, &op, "x", 1, NULL);
    for (unsigned i = 0; i <= PROTO_OSD_STEPS_MAX; i++)
        pb_bytes(&op, 7, step.buf, step.len);
    expect(t, "65 steps", raw_op(t, op.buf, op.len, NULL, 0, msg, sizeof(msg), NULL), -EINVAL,
           msg);
}

static void check_misdirected(struct tc *t)
{
    struct proto_osd_op op;
    char msg[256];

    op_init(t, &op, "where");
    add_step(&op, PROTO_OSD_STAT);
    op.pg = (op.pg + 1) % t->pool.pg_num;
    if (t->pool.pg_num > 1)
        expect(t, "op for the wrong pg", op_call(t, &op, NULL, 0, msg, sizeof(msg), NULL),
               -ESTALE, msg);
    op_init(t, &op, "where");
    add_step(&op, PROTO_OSD_STAT);
    op.pool = 999;
    expect(t, "op for a pool that does not exist",
           op_call(t, &op, NULL, 0, msg, sizeof(msg), NULL), -ENOENT, msg);
}

static void check_list(struct tc *t)
{
    static const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff};
    struct proto_osd_list_reply rep;
    struct call k;
    int r = call(t, PROTO_MSG_OSD_LIST, junk, sizeof(junk), NULL, 0, &k);

    if (r == 0) {
        r = proto_osd_list_reply_decode(k.reply.meta, k.reply.hdr.meta_len, &rep);
        if (r == 0) {
            r = rep.result;
            proto_osd_list_reply_release(&rep);
        } else {
            r = 1000;
        }
        proto_frame_free(&k.reply);
    }
    expect(t, "garbage listing request", r, -EINVAL, "");
}

/* After all that, a good write and read still work. */
static void check_alive(struct tc *t)
{
    struct proto_osd_reply out = {0};
    struct proto_osd_op op;
    char msg[256];
    const char text[] = "still here";

    op_init(t, &op, "alive");
    struct proto_osd_step *s = add_step(&op, PROTO_OSD_WRITE_FULL);
    s->len = sizeof(text) - 1;
    s->crc = cairn_crc32c(0, text, s->len);
    expect(t, "a good write afterwards", op_call(t, &op, text, s->len, msg, sizeof(msg), NULL), 0,
           msg);
    op_init(t, &op, "alive");
    add_step(&op, PROTO_OSD_READ)->len = 100;
    int r = op_call(t, &op, NULL, 0, msg, sizeof(msg), &out);
    expect(t, "a good read afterwards", r, 0, msg);
    expect(t, "the read's length", (int)out.version, (int)sizeof(text) - 1, "");
}

int main(int argc, char **argv)
{
    struct tc t = {0};
    struct timeval tv = {0, 10000};

    if (argc != 8 || strcmp(argv[1], "-k") != 0 || strcmp(argv[7], "bad-ops") != 0) {
        fprintf(stderr, "usage: osd_test_client -k KEYRING ADDR POOL PG_NUM EPOCH bad-ops\n");
        return 64;
    }
    t.pool.id = atoi(argv[4]);
    t.pool.pg_num = (uint32_t)atoi(argv[5]);
    t.pool.size = 1;
    t.epoch = strtoull(argv[6], NULL, 10);
    if (proto_keyring_load(argv[2], &t.kr) < 0) {
        fprintf(stderr, "cannot load keyring %s\n", argv[2]);
        return 1;
    }
    struct proto_msgr_opts o = {.entity = "client.admin", .keyring = t.kr};
    t.base = event_base_new();
    t.tick = event_new(t.base, -1, EV_PERSIST, tick_cb, NULL);
    event_add(t.tick, &tv);
    if (proto_msgr_create(t.base, &o, &handlers, &t, &t.m) < 0 ||
        proto_msgr_connect(t.m, argv[3], NULL, &t.conn) < 0) {
        fprintf(stderr, "cannot connect to %s\n", argv[3]);
        return 1;
    }
    check_garbage(&t);
    check_lengths(&t);
    check_names(&t);
    check_misdirected(&t);
    check_list(&t);
    check_alive(&t);
    proto_msgr_destroy(t.m);
    event_free(t.tick);
    event_base_free(t.base);
    proto_keyring_destroy(t.kr);
    printf("%s\n", t.failures ? "FAILED" : "all checks passed");
    return t.failures ? 1 : 0;
}
