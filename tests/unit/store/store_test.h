/* Shared helpers for the object store tests: a temporary store directory per
 * test (64 MiB data file), one-line wrappers that build, apply and check a
 * transaction, and a deterministic pattern generator. Header-only so each
 * test file stays self-contained. */
#ifndef CAIRN_TEST_STORE_H
#define CAIRN_TEST_STORE_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <semaphore.h>
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

#include "osd/store/internal.h"
#include "osd/store/store.h"

#define T_DATA_SIZE (64ull << 20)
#define T_COLL "pg1"

struct tstore {
    char dir[64];
    struct osd_store_opts opts;
    struct osd_store *s;
};

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void t_rmrf(const char *dir)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void t_opts(struct osd_store_opts *o)
{
    osd_store_opts_default(o);
    o->data_size_bytes = T_DATA_SIZE;
    o->meta_reserve_bytes = 0;
}

/* A fresh store with collection T_COLL, open. */
static inline struct tstore *t_new_with(const struct osd_store_opts *opts)
{
    struct tstore *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    strcpy(t->dir, "/tmp/cairn-store-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    if (opts != NULL)
        t->opts = *opts;
    else
        t_opts(&t->opts);
    assert_int_equal(osd_store_mkfs(t->dir, &t->opts), 0);
    assert_int_equal(osd_store_open(t->dir, &t->opts, &t->s), 0);
    struct osd_txn *x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_create_collection(x), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    return t;
}

static inline struct tstore *t_new(void)
{
    return t_new_with(NULL);
}

static inline void t_reopen(struct tstore *t)
{
    osd_store_close(t->s);
    t->s = NULL;
    assert_int_equal(osd_store_open(t->dir, &t->opts, &t->s), 0);
}

static inline void t_free(struct tstore *t)
{
    if (t->s != NULL)
        osd_store_close(t->s);
    t_rmrf(t->dir);
    free(t);
}

static inline int t_write(struct tstore *t, const char *oid, uint64_t off, const void *buf,
                          size_t len)
{
    struct osd_txn *x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_write(x, oid, off, buf, len), 0);
    return osd_store_apply(t->s, x);
}

static inline int t_op1(struct tstore *t, int (*fn)(struct osd_txn *, const char *),
                        const char *oid)
{
    struct osd_txn *x = osd_txn_create(T_COLL);
    assert_int_equal(fn(x, oid), 0);
    return osd_store_apply(t->s, x);
}

static inline int t_zero(struct tstore *t, const char *oid, uint64_t off, uint64_t len)
{
    struct osd_txn *x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_zero(x, oid, off, len), 0);
    return osd_store_apply(t->s, x);
}

static inline int t_truncate(struct tstore *t, const char *oid, uint64_t size)
{
    struct osd_txn *x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_truncate(x, oid, size), 0);
    return osd_store_apply(t->s, x);
}

/* Reads @len bytes at @off and checks them against @expect (@n bytes). */
static inline void t_check(struct tstore *t, const char *oid, uint64_t off, size_t len,
                           const void *expect, size_t n)
{
    uint8_t *buf = malloc(len + 1);
    size_t got = SIZE_MAX;
    assert_non_null(buf);
    assert_int_equal(osd_store_read(t->s, T_COLL, oid, off, len, buf, &got), 0);
    assert_int_equal(got, n);
    if (n > 0)
        assert_memory_equal(buf, expect, n);
    free(buf);
}

static inline void t_fill(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

static inline void t_fsck_clean(struct tstore *t, bool deep)
{
    struct osd_fsck_report r;
    assert_int_equal(osd_store_fsck(t->s, deep, &r), 0);
    if (r.errors != 0)
        fprintf(stderr, "fsck: %llu errors, first: %s\n", (unsigned long long)r.errors,
                r.first_error);
    assert_int_equal(r.errors, 0);
}

static inline uint64_t t_used(struct tstore *t)
{
    struct osd_store_stats st;
    osd_store_get_stats(t->s, &st);
    return st.data_blocks_used;
}

static inline uint64_t t_size(struct tstore *t, const char *oid)
{
    struct osd_obj_stat st;
    assert_int_equal(osd_store_stat(t->s, T_COLL, oid, &st), 0);
    return st.size;
}

#endif
