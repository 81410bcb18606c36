/* The store crash test's child: opens the store, queues random
 * transactions (many in flight, at most one per object) and reports each to
 * the parent through a pipe, until it is killed (store_crash.h). */
#define _GNU_SOURCE
#include "store_crash.h"

/* ---- Generating random transactions (child) -------------------------- */

static void gen_add(struct txn_desc *d, struct obj_state *o, struct op op)
{
    CAIRN_ASSERT(d->nops < TXN_OPS_MAX);
    crash_obj_apply_op(o, &op, d->seq, d->nops);
    d->ops[d->nops++] = op;
}

/* A write, a zero or a truncate: whole aligned blocks take the copy-on-write
 * path, small unaligned writes the deferred one. */
static struct op gen_data_op(struct rng *r, const struct obj_state *o, unsigned obj)
{
    struct op op = {.code = OP_WRITE, .obj = (uint8_t)obj};
    unsigned pick = crash_rng_below(r, 100);
    uint32_t nblk;

    if (pick < 30) {
        nblk = crash_rng_below(r, 8) == 0 ? 17 + crash_rng_below(r, 48) : 1 + crash_rng_below(r, 4);
        op.len = nblk * OSD_STORE_BLOCK;
        uint32_t first = crash_rng_below(r, OBJ_SIZE_MAX / OSD_STORE_BLOCK - nblk + 1);
        op.off = (uint64_t)first * OSD_STORE_BLOCK;
    } else if (pick < 65) {
        op.len = 1 + crash_rng_below(r, 3000);
        op.off = crash_rng_below(r, OBJ_SIZE_MAX - op.len + 1);
    } else if (pick < 75) {
        op.len = OSD_STORE_BLOCK + 1 + crash_rng_below(r, 40000);
        op.off = crash_rng_below(r, OBJ_SIZE_MAX - op.len + 1);
    } else if (pick < 85 && o->size > 0) {
        op.code = OP_ZERO;
        op.off = crash_rng_below(r, (uint32_t)o->size);
        op.len = 1 + crash_rng_below(r, (uint32_t)CAIRN_MIN(o->size - op.off, 65536u));
        uint64_t a = CAIRN_ALIGN_UP(op.off, OSD_STORE_BLOCK);

        if (crash_rng_below(r, 2) && a + OSD_STORE_BLOCK <= o->size) {
            uint64_t room = (o->size - a) / OSD_STORE_BLOCK;

            op.off = a;
            op.len = OSD_STORE_BLOCK * (1 + crash_rng_below(r, (uint32_t)CAIRN_MIN(room, 16u)));
        }
    } else {
        op.code = OP_TRUNCATE;
        op.off = crash_rng_below(r, OBJ_SIZE_MAX + 1);
        if (crash_rng_below(r, 2))
            op.off = CAIRN_ALIGN_DOWN(op.off, OSD_STORE_BLOCK);
    }
    return op;
}

static struct op gen_meta_op(struct rng *r, const struct obj_state *o, unsigned obj)
{
    struct op op = {.obj = (uint8_t)obj};
    unsigned pick = crash_rng_below(r, 100);

    if (pick < 30) {
        op.code = OP_SETXATTR;
        op.slot = (uint8_t)crash_rng_below(r, N_XATTR);
        op.len = crash_rng_below(r, KV_VAL_MAX + 1);
    } else if (pick < 40) {
        op.slot = (uint8_t)crash_rng_below(r, N_XATTR);
        op.code = o->xattr[op.slot].present ? OP_RMXATTR : OP_TOUCH;
    } else if (pick < 75) {
        op.code = OP_OMAP_SET;
        op.slot = (uint8_t)crash_rng_below(r, N_OMAP);
        op.len = crash_rng_below(r, KV_VAL_MAX + 1);
    } else if (pick < 88) {
        op.slot = (uint8_t)crash_rng_below(r, N_OMAP);
        op.code = o->omap[op.slot].present ? OP_OMAP_RM : OP_TOUCH;
    } else if (pick < 91) {
        op.code = OP_OMAP_CLEAR;
    } else {
        op.code = OP_REMOVE;
    }
    return op;
}

/* Appends 1-3 operations on object @obj to @d, valid against the child's
 * model @o (which they update): the store must accept all of them. */
static void gen_object_ops(struct rng *r, struct txn_desc *d, struct obj_state *o, unsigned obj)
{
    unsigned n = 1 + crash_rng_below(r, 3);

    for (unsigned k = 0; k < n && d->nops + 2u <= TXN_OPS_MAX; k++) {
        if (!o->exists) {
            struct op create = {.code = crash_rng_below(r, 2) ? OP_TOUCH : OP_CREATE_EXCL,
                                .obj = (uint8_t)obj};
            gen_add(d, o, create);
        }
        struct op op =
            crash_rng_below(r, 100) < 60 ? gen_data_op(r, o, obj) : gen_meta_op(r, o, obj);
        gen_add(d, o, op);
    }
}

/* ---- The child: queues transactions until killed --------------------- */

struct child_slot {
    struct child *c;
    bool used;
    struct txn_desc d;
};

struct child {
    struct osd_store *store;
    int fd; /* the pipe to the parent */
    struct rng rng;
    struct obj_state *model; /* state after every submitted transaction (main thread) */
    struct obj_state found;  /* scratch for read checks (main thread) */
    uint8_t *scratch;        /* payload buffer (main thread) */
    uint64_t next_seq;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool busy[N_OBJ];                     /* a transaction on the object is in flight (lock) */
    unsigned in_flight;                   /* (lock) */
    struct child_slot slots[CHILD_DEPTH]; /* (lock) */
};

static void rec_send(int fd, const struct rec *rec)
{
    ssize_t n = write(fd, rec, sizeof(*rec));

    /* A short or failed write means the parent is gone or broken. */
    if (n != (ssize_t)sizeof(*rec))
        _exit(3);
}

/* Runs on the store's commit thread: one pipe write, then bookkeeping. */
static void child_txn_done(int result, void *arg)
{
    struct child_slot *s = arg;
    struct child *c = s->c;
    struct rec rec = {.magic = REC_MAGIC, .type = REC_ACK, .result = result};

    rec.txn.seq = s->d.seq;
    rec_send(c->fd, &rec);
    pthread_mutex_lock(&c->lock);
    for (unsigned i = 0; i < s->d.nops; i++)
        c->busy[s->d.ops[i].obj] = false;
    s->used = false;
    c->in_flight--;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* Picks 1-3 idle objects of one collection (under c->lock). Returns how many. */
static unsigned child_pick_objects(struct child *c, unsigned objs[3])
{
    unsigned start = crash_rng_below(&c->rng, N_OBJ), want = 1 + crash_rng_below(&c->rng, 100) / 60;
    unsigned n = 0, coll = N_COLL;

    want += crash_rng_below(&c->rng, 100) < 15;
    for (unsigned k = 0; k < N_OBJ && n < want; k++) {
        unsigned obj = (start + k) % N_OBJ;

        if (c->busy[obj] || (coll != N_COLL && obj % N_COLL != coll))
            continue;
        coll = obj % N_COLL;
        objs[n++] = obj;
    }
    return n;
}

/* Waits for room and idle objects, then fills a slot with a new transaction. */
static struct child_slot *child_next_txn(struct child *c)
{
    struct child_slot *s = NULL;
    unsigned objs[3], n;

    pthread_mutex_lock(&c->lock);
    while (c->in_flight >= CHILD_DEPTH || (n = child_pick_objects(c, objs)) == 0)
        pthread_cond_wait(&c->cond, &c->lock);
    for (unsigned i = 0; i < CHILD_DEPTH && !s; i++)
        if (!c->slots[i].used)
            s = &c->slots[i];
    CAIRN_ASSERT(s != NULL);
    s->used = true;
    c->in_flight++;
    for (unsigned i = 0; i < n; i++)
        c->busy[objs[i]] = true;
    pthread_mutex_unlock(&c->lock);

    memset(&s->d, 0, sizeof(s->d));
    s->d.seq = c->next_seq++;
    s->d.coll = (uint8_t)(objs[0] % N_COLL);
    for (unsigned i = 0; i < n; i++)
        gen_object_ops(&c->rng, &s->d, &c->model[objs[i]], objs[i]);
    return s;
}

static void child_submit(struct child *c, struct child_slot *s)
{
    struct rec rec = {.magic = REC_MAGIC, .type = REC_SUBMIT, .txn = s->d};
    struct osd_txn *t;
    int rc;

    rc = crash_txn_build(&s->d, c->scratch, &t);
    if (rc < 0) {
        fprintf(stderr, "child: building txn %" PRIu64 ": %s\n", s->d.seq, strerror(-rc));
        _exit(4);
    }
    rec_send(c->fd, &rec);
    while ((rc = osd_store_queue(c->store, t, child_txn_done, s)) == -EAGAIN)
        usleep(1000);
    if (rc < 0) {
        fprintf(stderr, "child: osd_store_queue txn %" PRIu64 ": %s\n", s->d.seq, strerror(-rc));
        _exit(4);
    }
}

/* Reads an idle object back: reads must see every acknowledged transaction. */
static void child_read_check(struct child *c)
{
    unsigned obj = crash_rng_below(&c->rng, N_OBJ);
    char msg[256];
    int rc;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        unsigned k = 0;

        while (k < N_OBJ && c->busy[(obj + k) % N_OBJ])
            k++;
        if (k < N_OBJ) {
            obj = (obj + k) % N_OBJ;
            break;
        }
        pthread_cond_wait(&c->cond, &c->lock);
    }
    c->busy[obj] = true;
    pthread_mutex_unlock(&c->lock);

    rc = crash_obj_load(c->store, obj, &c->found, msg, sizeof(msg));
    if (rc == 0 && !crash_obj_equal(&c->model[obj], &c->found, msg, sizeof(msg)))
        rc = -EBADMSG;
    if (rc < 0) {
        fprintf(stderr, "FAIL child read check: obj %u: %s\n", obj, msg);
        _exit(6);
    }
    pthread_mutex_lock(&c->lock);
    c->busy[obj] = false;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* The child's whole life: open, report READY, queue transactions. */
noreturn void crash_child_main(int fd, struct obj_state *model, const struct round_cfg *cfg)
{
    static struct child c;
    struct rec ready = {.magic = REC_MAGIC, .type = REC_READY};
    int rc;

    c.fd = fd;
    c.model = model;
    c.rng.s = cfg->rng_seed;
    c.next_seq = cfg->first_seq;
    crash_obj_init(&c.found);
    c.scratch = malloc(OBJ_SIZE_MAX);
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.cond, NULL);
    for (unsigned i = 0; i < CHILD_DEPTH; i++)
        c.slots[i].c = &c;
    rc = osd_store_open(cfg->dir, &cfg->opts, &c.store);
    if (rc < 0) {
        fprintf(stderr, "child: osd_store_open %s: %s\n", cfg->dir, strerror(-rc));
        _exit(4);
    }
    rec_send(fd, &ready);
    for (unsigned n = 1; !cfg->clean || n <= CLEAN_ROUND_TXNS; n++) {
        child_submit(&c, child_next_txn(&c));
        if (n % READ_CHECK_EVERY == 0)
            child_read_check(&c);
    }
    osd_store_close(c.store);
    _exit(0);
}
