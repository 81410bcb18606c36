/* The object store's crash test (store_crash.c): the shared model of
 * objects, the transactions it applies, and the child that runs them.
 * crash_model.c: deterministic payloads, the model and its comparison with
 * a store, building store transactions. crash_child.c: the forked child
 * that queues random transactions until it is killed. */
#ifndef CAIRN_TESTS_FAULT_STORE_CRASH_H
#define CAIRN_TESTS_FAULT_STORE_CRASH_H

#include "common/assert.h"
#include "common/log.h"
#include "osd/store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_OBJ 40u                 /* objects, spread over the collections */
#define N_COLL 2u                 /* collections; object i lives in i % N_COLL */
#define OBJ_SIZE_MAX (512u << 10) /* no write or truncate goes beyond, bytes */
#define N_XATTR 4u                /* xattr names per object */
#define N_OMAP 12u                /* omap keys per object */
#define KV_VAL_MAX 200u           /* xattr and omap value length, bytes */
#define TXN_OPS_MAX 10u           /* operations per transaction */
#define CHILD_DEPTH 20u           /* transactions in flight in the child */
#define DATA_SIZE_BYTES (128ull << 20)
#define CLEAN_ROUND_EVERY 10u /* every Nth round ends with a clean close */
#define CLEAN_ROUND_TXNS 300u /* transactions a clean round runs */
#define READ_CHECK_EVERY 50u  /* the child re-reads an idle object this often */
#define KILL_DELAY_MS_MIN 5u
#define KILL_DELAY_MS_MAX 300u
#define KILL_OPEN_ROUND_EVERY 7u /* every Nth round kills the child while it opens */
#define KILL_OPEN_DELAY_MS_MAX 30u
#define CHILD_TIMEOUT_MS 60000 /* longest wait for any record from the child */
#define REC_MAGIC 0x43524153u
#define STAMP_MAGIC 0x53544d50u

enum op_code {
    OP_TOUCH = 1,
    OP_CREATE_EXCL,
    OP_WRITE,
    OP_ZERO,     /* only inside the object: zero past the end is not specified */
    OP_TRUNCATE, /* off is the new size */
    OP_REMOVE,
    OP_SETXATTR,
    OP_RMXATTR, /* only of a present xattr */
    OP_OMAP_SET,
    OP_OMAP_RM, /* only of a present key */
    OP_OMAP_CLEAR,
};

/* One operation; with the transaction's sequence number it determines every
 * byte the operation writes, so the parent can replay it into its model. */
struct op {
    uint8_t code; /* enum op_code */
    uint8_t obj;  /* object index */
    uint8_t slot; /* xattr name or omap key index */
    uint8_t pad;
    uint32_t len; /* bytes written or zeroed, or value length */
    uint64_t off; /* offset, or the new size for OP_TRUNCATE */
};

struct txn_desc {
    uint64_t seq; /* unique over the whole run */
    uint8_t coll; /* collection index */
    uint8_t nops;
    struct op ops[TXN_OPS_MAX];
};

enum rec_type { REC_READY = 1, REC_SUBMIT, REC_ACK };

/* What the child writes to the pipe; one write(2) each, atomic (PIPE_BUF). */
struct rec {
    uint32_t magic;
    uint32_t type;  /* enum rec_type */
    int32_t result; /* REC_ACK: the callback's result */
    uint32_t pad;
    struct txn_desc txn; /* REC_SUBMIT: the transaction; REC_ACK: seq only */
};
CAIRN_STATIC_ASSERT(sizeof(struct rec) <= PIPE_BUF, "a record must be one atomic pipe write");

/* Written at the start of every payload of 16 bytes or more, so a mismatch
 * report can say which transaction the found bytes came from. */
struct stamp {
    uint32_t magic;
    uint16_t obj;
    uint16_t opi;
    uint64_t seq;
};

struct kv_slot {
    bool present;
    uint16_t len;
    uint8_t val[KV_VAL_MAX];
};

/* An object as the model (or a read of the store) sees it. Invariant: data
 * past size is zero, so holes and extending truncates read as zeros. */
struct obj_state {
    bool exists;
    uint64_t size; /* bytes */
    uint8_t *data; /* OBJ_SIZE_MAX bytes */
    struct kv_slot xattr[N_XATTR];
    struct kv_slot omap[N_OMAP];
};

struct rng {
    uint64_t s;
};

/* What the parent tells a round's child. */
struct round_cfg {
    const char *dir;
    struct osd_store_opts opts;
    uint64_t first_seq;
    uint64_t rng_seed;
    bool clean; /* stop after CLEAN_ROUND_TXNS and close the store */
};

/* crash_model.c */
uint64_t crash_mix64(uint64_t x);
uint32_t crash_rng_below(struct rng *r, uint32_t n);
void crash_coll_name(unsigned coll, char *buf, size_t cap);
void crash_oid_name(unsigned obj, char *buf, size_t cap);
noreturn void crash_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t crash_now_ms(void);
void crash_obj_init(struct obj_state *o);
void crash_obj_copy(struct obj_state *dst, const struct obj_state *src);
void crash_obj_apply_op(struct obj_state *o, const struct op *op, uint64_t seq, unsigned opi);
void crash_obj_apply_txn(struct obj_state *o, unsigned obj, const struct txn_desc *d);
bool crash_txn_touches(const struct txn_desc *d, unsigned obj);
void crash_txn_print(const struct txn_desc *d);
bool crash_obj_equal(const struct obj_state *e, const struct obj_state *f, char *msg, size_t cap);
int crash_obj_load(struct osd_store *st, unsigned obj, struct obj_state *f, char *msg, size_t cap);
int crash_txn_build(const struct txn_desc *d, uint8_t *scratch, struct osd_txn **out);
/* crash_child.c: the child's whole life (open, report READY, queue
 * transactions); never returns. */
noreturn void crash_child_main(int fd, struct obj_state *model, const struct round_cfg *cfg);

#endif
