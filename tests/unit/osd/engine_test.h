/* Helpers for the op engine tests: a real store in a temp dir, an engine
 * on a libevent base with a reply hook that captures every answer, and
 * builders for ops (filled in directly, as the decoder would). */
#ifndef CAIRN_TEST_OSD_ENGINE_H
#define CAIRN_TEST_OSD_ENGINE_H

#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "common/crc32c.h"
#include "osd/internal.h"
#include "tests/unit/support/evloop.h"

#define T_MAX_REPLIES 4096u
#define T_DATA_MAX (8u << 20)

struct t_reply {
    uint64_t txid;
    uint8_t *meta;
    size_t meta_len;
    uint8_t *data;
    size_t data_len;
};

struct t_env {
    char dir[64];
    struct osd_store *store;
    struct event_base *base;
    struct osd_engine *e;
    struct osd_pg *pg;
    struct t_reply replies[T_MAX_REPLIES];
    unsigned n_replies;
    uint64_t next_txid;
    uint64_t client_id;
};

/* An op being built: its payload accumulates in data. */
struct t_op {
    struct osd_op *op;
    uint8_t *data;
    size_t data_len;
};

static int t_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void t_hook_reply(void *arg, void *sess, uint64_t txid, const uint8_t *meta,
                         size_t meta_len, const void *data, size_t data_len)
{
    struct t_env *t = arg;
    struct t_reply *r;

    (void)sess;
    assert_true(t->n_replies < T_MAX_REPLIES);
    r = &t->replies[t->n_replies++];
    r->txid = txid;
    r->meta = malloc(meta_len + 1);
    memcpy(r->meta, meta, meta_len);
    r->meta_len = meta_len;
    r->data = malloc(data_len + 1);
    if (data_len)
        memcpy(r->data, data, data_len);
    r->data_len = data_len;
}

static const struct osd_engine_hooks t_hooks = {.reply = t_hook_reply};

static inline struct t_env *t_env_new(void)
{
    struct t_env *t = calloc(1, sizeof(*t));
    struct osd_store_opts so;

    assert_non_null(t);
    strcpy(t->dir, "/tmp/cairn-osd-engine-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    osd_store_opts_default(&so);
    so.data_size_bytes = 64ull << 20;
    so.meta_reserve_bytes = 0;
    so.sync = false;
    assert_int_equal(osd_store_mkfs(t->dir, &so), 0);
    assert_int_equal(osd_store_open(t->dir, &so, &t->store), 0);
    t->base = event_base_new();
    assert_non_null(t->base);
    struct osd_engine_opts eo = {.base = t->base, .store = t->store, .hooks = &t_hooks,
                                 .hooks_arg = t, .entity = "osd.0", .dup_max = 64};
    assert_int_equal(osd__engine_create(&eo, &t->e), 0);
    osd__engine_set_epoch(t->e, 5);
    t->pg = osd__pg_get(t->e, 1, 0);
    assert_non_null(t->pg);
    t->pg->primary = true;
    t->next_txid = 1;
    t->client_id = 0x1234;
    return t;
}

static inline void t_replies_free(struct t_env *t)
{
    for (unsigned i = 0; i < t->n_replies; i++) {
        free(t->replies[i].meta);
        free(t->replies[i].data);
    }
    t->n_replies = 0;
}

static inline void t_env_free(struct t_env *t)
{
    assert_int_equal(osd__engine_ops_in_use(t->e), 0);
    osd__engine_destroy(t->e);
    event_base_free(t->base);
    osd_store_close(t->store);
    t_replies_free(t);
    nftw(t->dir, t_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
}

/* ---- building ops ---- */

static inline struct t_op t_op_new(struct t_env *t, const char *oid)
{
    struct t_op o = {.op = osd__op_get(t->e)};

    assert_non_null(o.op);
    o.data = malloc(T_DATA_MAX);
    snprintf(o.op->req.oid, sizeof(o.op->req.oid), "%s", oid);
    o.op->req.pool = 1;
    o.op->req.epoch = 5;
    o.op->req.client_id = t->client_id;
    o.op->req.tid = t->next_txid;
    return o;
}

static inline struct proto_osd_step *t_step(struct t_op *o, uint32_t type)
{
    struct proto_osd_op *r = &o->op->req;

    assert_true(r->n_steps < PROTO_OSD_STEPS_MAX);
    struct proto_osd_step *s = &r->steps[r->n_steps++];
    memset(s, 0, sizeof(*s));
    s->type = type;
    return s;
}

static inline struct proto_osd_step *t_named(struct t_op *o, uint32_t type, const char *name)
{
    struct proto_osd_step *s = t_step(o, type);

    s->name = name;
    s->name_len = strlen(name);
    return s;
}

static inline struct proto_osd_step *t_valued(struct t_op *o, uint32_t type, const char *name,
                                              const char *value)
{
    struct proto_osd_step *s = t_named(o, type, name);

    s->value = value;
    s->value_len = value ? strlen(value) : 0;
    return s;
}

static inline struct proto_osd_step *t_write(struct t_op *o, uint32_t type, uint64_t off,
                                             const void *buf, size_t len)
{
    struct proto_osd_step *s = t_step(o, type);

    assert_true(o->data_len + len <= T_DATA_MAX);
    memcpy(o->data + o->data_len, buf, len);
    s->off = off;
    s->len = len;
    s->data_off = o->data_len;
    s->crc = cairn_crc32c(0, buf, len);
    o->data_len += len;
    return s;
}

static inline struct proto_osd_step *t_read(struct t_op *o, uint64_t off, uint64_t len)
{
    struct proto_osd_step *s = t_step(o, PROTO_OSD_READ);

    s->off = off;
    s->len = len;
    return s;
}

/* Submits without running the loop; returns the txid the reply will carry. */
static inline uint64_t t_submit(struct t_env *t, struct t_op *o)
{
    uint64_t txid = t->next_txid++;

    osd__op_set_origin(o->op, NULL, txid, o->data, o->data_len);
    osd__op_submit(t->pg, o->op);
    o->op = NULL;
    return txid;
}

struct t_wait {
    struct t_env *t;
    uint64_t txid;
    unsigned count;
};

static bool t_have_reply(void *arg)
{
    struct t_wait *w = arg;
    unsigned n = 0;

    for (unsigned i = 0; i < w->t->n_replies; i++)
        n += w->t->replies[i].txid == w->txid;
    return n >= w->count;
}

/* Waits for the @k-th (1-based) reply of @txid and decodes it. */
static inline struct t_reply *t_wait_nth(struct t_env *t, uint64_t txid, unsigned k,
                                         struct proto_osd_reply *out)
{
    struct t_wait w = {.t = t, .txid = txid, .count = k};

    assert_true(t_loop_until(t->base, t_have_reply, &w, 10000));
    for (unsigned i = 0, n = 0; i < t->n_replies; i++) {
        struct t_reply *r = &t->replies[i];
        if (r->txid != txid || ++n < k)
            continue;
        assert_int_equal(proto_osd_reply_decode(r->meta, r->meta_len, r->data_len, out), 0);
        return r;
    }
    fail();
    return NULL;
}

static inline struct t_reply *t_wait(struct t_env *t, uint64_t txid, struct proto_osd_reply *out)
{
    return t_wait_nth(t, txid, 1, out);
}

/* Submits, waits, returns the result (the reply stays in *@out: release it). */
static inline int t_exec(struct t_env *t, struct t_op *o, struct proto_osd_reply *out)
{
    uint64_t txid = t_submit(t, o);

    t_wait(t, txid, out);
    return out->result;
}

/* Runs and releases; returns the result. */
static inline int t_run(struct t_env *t, struct t_op *o)
{
    struct proto_osd_reply rep;
    int r = t_exec(t, o, &rep);

    proto_osd_reply_release(&rep);
    return r;
}

#endif
