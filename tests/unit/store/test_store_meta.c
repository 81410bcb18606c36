/* Object store metadata: xattrs, omap (set, rm, clear, pagination),
 * collections (create, remove, -EEXIST, -ENOTEMPTY, -ENOENT) and object
 * listings in byte order with pagination. */
#include "store_test.h"

struct collect {
    char keys[256][64];
    size_t vlens[256];
    unsigned n;
};

static int collect_fn(const void *key, size_t key_len, const void *value, size_t value_len,
                      void *arg)
{
    struct collect *c = arg;
    (void)value;
    assert_true(key_len < 64);
    assert_true(c->n < 256);
    memcpy(c->keys[c->n], key, key_len);
    c->keys[c->n][key_len] = 0;
    c->vlens[c->n] = value_len;
    c->n++;
    return 0;
}

static int stop_fn(const void *key, size_t key_len, const void *value, size_t value_len,
                   void *arg)
{
    (void)key, (void)key_len, (void)value, (void)value_len, (void)arg;
    return 42;
}

static void test_store_xattrs(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    struct osd_txn *x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_setxattr(x, "o", "b", "bee", 3), 0);
    assert_int_equal(osd_txn_setxattr(x, "o", "a", "ay", 2), 0);
    assert_int_equal(osd_txn_setxattr(x, "o", "empty", NULL, 0), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    char buf[16];
    size_t len = 0;
    assert_int_equal(osd_store_getxattr(t->s, T_COLL, "o", "b", buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "bee", 3);
    assert_int_equal(osd_store_getxattr(t->s, T_COLL, "o", "b", buf, 2, &len), -ERANGE);
    assert_int_equal(len, 3);
    assert_int_equal(osd_store_getxattr(t->s, T_COLL, "o", "zz", buf, 16, &len), -ENODATA);
    assert_int_equal(osd_store_getxattr(t->s, T_COLL, "nope", "b", buf, 16, &len), -ENOENT);
    struct collect c = {0};
    assert_int_equal(osd_store_xattrs(t->s, T_COLL, "o", collect_fn, &c), 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.keys[0], "a");
    assert_string_equal(c.keys[1], "b");
    assert_string_equal(c.keys[2], "empty");
    assert_int_equal(c.vlens[2], 0);
    assert_int_equal(osd_store_xattrs(t->s, T_COLL, "o", stop_fn, NULL), 42);
    x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_rmxattr(x, "o", "zz"), 0);
    assert_int_equal(osd_store_apply(t->s, x), -ENODATA);
    x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_rmxattr(x, "nope", "a"), 0);
    assert_int_equal(osd_store_apply(t->s, x), -ENOENT);
    x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_rmxattr(x, "o", "a"), 0);
    assert_int_equal(osd_txn_setxattr(x, "o", "b", "B", 1), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    assert_int_equal(osd_store_getxattr(t->s, T_COLL, "o", "a", buf, 16, &len), -ENODATA);
    assert_int_equal(osd_store_getxattr(t->s, T_COLL, "o", "b", buf, 16, &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(t_op1(t, osd_txn_remove, "o"), 0);
    assert_int_equal(t_op1(t, osd_txn_touch, "o"), 0); /* new object: no old xattrs */
    memset(&c, 0, sizeof(c));
    assert_int_equal(osd_store_xattrs(t->s, T_COLL, "o", collect_fn, &c), 0);
    assert_int_equal(c.n, 0);
    t_fsck_clean(t, false);
    t_free(t);
}

static void omap_page_all(struct tstore *t, const char *oid, unsigned max, struct collect *all)
{
    char after[64] = "";
    bool more = true;
    bool first = true;
    memset(all, 0, sizeof(*all));
    while (more) {
        struct collect page = {0};
        assert_int_equal(osd_store_omap_list(t->s, T_COLL, oid, first ? NULL : after,
                                             strlen(after), max, collect_fn, &page, &more),
                         0);
        assert_true(page.n <= max);
        if (more)
            assert_int_equal(page.n, max);
        for (unsigned i = 0; i < page.n; i++)
            strcpy(all->keys[all->n++], page.keys[i]);
        if (page.n > 0)
            strcpy(after, page.keys[page.n - 1]);
        first = false;
    }
}

static void test_store_omap(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    struct osd_txn *x = osd_txn_create(T_COLL);
    for (int i = 99; i >= 0; i--) {
        char k[16], v[16];
        snprintf(k, sizeof(k), "key%03d", i);
        snprintf(v, sizeof(v), "val%d", i);
        assert_int_equal(osd_txn_omap_set(x, "o", k, strlen(k), v, strlen(v)), 0);
    }
    assert_int_equal(osd_store_apply(t->s, x), 0);
    struct collect all;
    omap_page_all(t, "o", 30, &all);
    assert_int_equal(all.n, 100);
    for (unsigned i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key%03u", i);
        assert_string_equal(all.keys[i], k);
    }
    char buf[16];
    size_t len;
    assert_int_equal(osd_store_omap_get(t->s, T_COLL, "o", "key007", 6, buf, 16, &len), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "val7", 4);
    x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_omap_rm(x, "o", "key007", 6), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    assert_int_equal(osd_store_omap_get(t->s, T_COLL, "o", "key007", 6, buf, 16, &len),
                     -ENODATA);
    omap_page_all(t, "o", 1000, &all);
    assert_int_equal(all.n, 99);
    /* Clear, then set in the same transaction: only the new key remains. */
    x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_omap_clear(x, "o"), 0);
    assert_int_equal(osd_txn_omap_set(x, "o", "new", 3, "1", 1), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    omap_page_all(t, "o", 7, &all);
    assert_int_equal(all.n, 1);
    assert_string_equal(all.keys[0], "new");
    /* Keys around a clear in one transaction: the batch keeps the clear in
     * its place and sorts the keys on either side of it. */
    x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_omap_set(x, "o", "z", 1, "1", 1), 0);
    assert_int_equal(osd_txn_omap_set(x, "o", "b", 1, "old", 3), 0);
    assert_int_equal(osd_txn_omap_clear(x, "o"), 0);
    assert_int_equal(osd_txn_omap_set(x, "o", "b", 1, "new", 3), 0);
    assert_int_equal(osd_txn_omap_set(x, "o", "a", 1, "1", 1), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    omap_page_all(t, "o", 7, &all);
    assert_int_equal(all.n, 2);
    assert_string_equal(all.keys[0], "a");
    assert_string_equal(all.keys[1], "b");
    assert_int_equal(osd_store_omap_get(t->s, T_COLL, "o", "b", 1, buf, 16, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "new", 3);
    /* Set, then clear in the next transaction of the same group. */
    x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_omap_set(x, "o", "gone", 4, "1", 1), 0);
    assert_int_equal(osd_store_queue(t->s, x, NULL, NULL), 0);
    x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_omap_clear(x, "o"), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    omap_page_all(t, "o", 7, &all);
    assert_int_equal(all.n, 0);
    x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_omap_clear(x, "nope"), 0);
    assert_int_equal(osd_store_apply(t->s, x), -ENOENT);
    bool more;
    assert_int_equal(osd_store_omap_list(t->s, T_COLL, "nope", NULL, 0, 5, collect_fn, &all,
                                         &more),
                     -ENOENT);
    t_fsck_clean(t, false);
    t_free(t);
}

static uint64_t mtime_of(struct tstore *t, const char *oid)
{
    struct osd_obj_stat st;
    assert_int_equal(osd_store_stat(t->s, T_COLL, oid, &st), 0);
    return st.mtime_ns;
}

/* mtime is the last change of data or size: xattr and omap changes of an
 * existing object keep it; creating an object by either sets it. */
static void test_store_mtime_tracks_data(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    struct osd_txn *x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_setxattr(x, "m", "k", "v", 1), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    uint64_t born = mtime_of(t, "m");
    assert_true(born > 0);
    usleep(2000);
    x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_setxattr(x, "m", "k", "w", 1), 0);
    assert_int_equal(osd_txn_omap_set(x, "m", "o", 1, "v", 1), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    assert_int_equal(mtime_of(t, "m"), born);
    assert_int_equal(t_write(t, "m", 0, "data", 4), 0);
    uint64_t written = mtime_of(t, "m");
    assert_true(written > born);
    usleep(2000);
    assert_int_equal(t_truncate(t, "m", 1), 0);
    assert_true(mtime_of(t, "m") > written);
    t_free(t);
}

/* Sets @n xattrs and @n omap keys on @oid in one transaction. */
static void set_xattr(struct tstore *t, const char *oid, const char *name, char fill,
                      size_t len)
{
    char v[300];
    assert_true(len <= sizeof(v));
    memset(v, fill, len);
    struct osd_txn *x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_setxattr(x, oid, name, v, len), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
}

static void check_xattr(struct tstore *t, const char *oid, const char *name, char fill,
                        size_t len)
{
    char v[300], want[300];
    size_t got = 0;
    assert_int_equal(osd_store_getxattr(t->s, T_COLL, oid, name, v, sizeof(v), &got), 0);
    assert_int_equal(got, len);
    memset(want, fill, len);
    assert_memory_equal(v, want, len);
}

/* Checks that the listing has exactly @n xattrs, in byte order of names. */
static void check_listing(struct tstore *t, const char *oid, unsigned n)
{
    struct collect c = {0};
    assert_int_equal(osd_store_xattrs(t->s, T_COLL, oid, collect_fn, &c), 0);
    assert_int_equal(c.n, n);
    for (unsigned i = 1; i < c.n; i++)
        assert_true(strcmp(c.keys[i - 1], c.keys[i]) < 0);
}

/* Small xattrs live in the object record, large ones (or those that do not
 * fit) in keys of their own; a name moves between the two as its value
 * changes size, and reads, listings, removals and reopens see one value
 * per name, in name order. */
static void test_store_xattrs_inline_and_spilled(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    set_xattr(t, "o", "a", 'a', 8);
    set_xattr(t, "o", "m", 'M', 200); /* too big for the record */
    set_xattr(t, "o", "z", 'z', 1);
    check_listing(t, "o", 3);
    check_xattr(t, "o", "m", 'M', 200);
    set_xattr(t, "o", "m", 'm', 3); /* moves into the record */
    set_xattr(t, "o", "a", 'A', 250); /* moves out of it */
    check_listing(t, "o", 3);
    check_xattr(t, "o", "a", 'A', 250);
    check_xattr(t, "o", "m", 'm', 3);
    struct osd_txn *x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_rmxattr(x, "o", "a"), 0);
    assert_int_equal(osd_txn_rmxattr(x, "o", "m"), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    char buf[8];
    size_t len;
    assert_int_equal(osd_store_getxattr(t->s, T_COLL, "o", "a", buf, 8, &len), -ENODATA);
    assert_int_equal(osd_store_getxattr(t->s, T_COLL, "o", "m", buf, 8, &len), -ENODATA);
    check_listing(t, "o", 1);

    /* Sixty 20-byte xattrs overflow the record's area: the later ones
     * spill, and all of them read back, in order, after a reopen too. */
    char name[16];
    for (unsigned i = 0; i < 60; i++) {
        snprintf(name, sizeof(name), "x%02u", (i * 37) % 60);
        set_xattr(t, "p", name, (char)('A' + i % 26), 20);
    }
    for (int pass = 0; pass < 2; pass++) {
        check_listing(t, "p", 60);
        for (unsigned i = 0; i < 60; i++) {
            snprintf(name, sizeof(name), "x%02u", (i * 37) % 60);
            check_xattr(t, "p", name, (char)('A' + i % 26), 20);
        }
        t_reopen(t);
    }
    assert_int_equal(t_op1(t, osd_txn_remove, "p"), 0);
    assert_int_equal(t_op1(t, osd_txn_touch, "p"), 0);
    check_listing(t, "p", 0);
    t_fsck_clean(t, false);
    t_free(t);
}

/* Object records round-trip with their inline xattrs, and a record whose
 * area is truncated, unsorted, has an empty name or unknown flags is
 * refused. */
static void test_store_onode_records(void **state)
{
    (void)state;
    struct osd__onode on = {.nid = 9, .size = 4096, .blocks = 1}, back;
    uint8_t rec[OSD__ONODE_MAX];
    assert_int_equal(osd__xa_set(&on, "b", 1, "22", 2), 0);
    assert_int_equal(osd__xa_set(&on, "a", 1, "1", 1), 0);
    assert_int_equal(osd__xa_set(&on, "big", 3, rec, OSD__XA_INLINE_MAX), -ENOSPC);
    size_t len = osd__onode_encode(&on, rec);
    assert_int_equal(len, OSD__ONODE_FIXED_LEN + 4 + 5); /* a=1, b=22 */
    assert_int_equal(osd__onode_decode(rec, len, &back), 0);
    const uint8_t *v;
    size_t vl;
    assert_int_equal(osd__xa_find(&back, "b", 1, &v, &vl), 1);
    assert_int_equal(vl, 2);
    assert_memory_equal(v, "22", 2);
    assert_int_equal(osd__onode_decode(rec, len - 1, &back), -EIO); /* truncated */
    uint8_t bad[OSD__ONODE_MAX];
    memcpy(bad, rec, len);
    bad[OSD__ONODE_FIXED_LEN + 2] = 'c'; /* "c" before "b": unsorted */
    assert_int_equal(osd__onode_decode(bad, len, &back), -EIO);
    memcpy(bad, rec, len);
    bad[OSD__ONODE_FIXED_LEN] = 0; /* empty name */
    assert_int_equal(osd__onode_decode(bad, len, &back), -EIO);
    memcpy(bad, rec, len);
    bad[1] = 2; /* unknown flag */
    assert_int_equal(osd__onode_decode(bad, len, &back), -EIO);
    assert_int_equal(osd__xa_del(&on, "a", 1), 1);
    assert_int_equal(osd__xa_del(&on, "a", 1), 0);
    assert_int_equal(osd__xa_find(&on, "a", 1, &v, &vl), 0);
}

static void set_keys(struct tstore *t, const char *oid, unsigned n, bool queue_only)
{
    struct osd_txn *x = osd_txn_create(T_COLL);
    char k[16];
    for (unsigned i = 0; i < n; i++) {
        snprintf(k, sizeof(k), "k%03u", i);
        assert_int_equal(osd_txn_setxattr(x, oid, k, "v", 1), 0);
        assert_int_equal(osd_txn_omap_set(x, oid, k, strlen(k), "v", 1), 0);
    }
    if (queue_only)
        assert_int_equal(osd_store_queue(t->s, x, NULL, NULL), 0);
    else
        assert_int_equal(osd_store_apply(t->s, x), 0);
}

static void check_no_keys(struct tstore *t, const char *oid)
{
    struct collect c = {0};
    bool more = true;
    assert_int_equal(osd_store_xattrs(t->s, T_COLL, oid, collect_fn, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(osd_store_omap_list(t->s, T_COLL, oid, NULL, 0, 0, collect_fn, &c, &more),
                     0);
    assert_int_equal(c.n, 0);
}

/* A removal deletes an object's xattrs and omap keys one by one when there
 * are few, with a range delete when there are many; either way a new object
 * of the same name starts empty, whether the keys were durable or still in
 * the group being prepared. */
static void test_store_remove_drops_keys(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    const unsigned counts[] = {3, 64, 65, 200};
    for (unsigned c = 0; c < 4; c++) {
        for (int same_group = 0; same_group < 2; same_group++) {
            set_keys(t, "o", counts[c], same_group);
            struct osd_txn *x = osd_txn_create(T_COLL);
            assert_int_equal(osd_txn_remove(x, "o"), 0);
            assert_int_equal(osd_txn_touch(x, "o"), 0);
            assert_int_equal(osd_store_apply(t->s, x), 0);
            check_no_keys(t, "o");
        }
    }
    /* omap_clear takes the same path. */
    set_keys(t, "o", 5, false);
    struct osd_txn *x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_omap_clear(x, "o"), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    struct collect all = {0};
    omap_page_all(t, "o", 7, &all);
    assert_int_equal(all.n, 0);
    t_reopen(t);
    omap_page_all(t, "o", 7, &all);
    assert_int_equal(all.n, 0);
    t_fsck_clean(t, false);
    t_free(t);
}

static void test_store_collections(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    struct osd_txn *x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_create_collection(x), 0);
    assert_int_equal(osd_store_apply(t->s, x), -EEXIST);
    x = osd_txn_create("pg0");
    assert_int_equal(osd_txn_create_collection(x), 0);
    assert_int_equal(osd_txn_touch(x, "inside"), 0); /* same txn sees the new collection */
    assert_int_equal(osd_store_apply(t->s, x), 0);
    struct collect c = {0};
    assert_int_equal(osd_store_list_collections(t->s, collect_fn, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.keys[0], "pg0");
    assert_string_equal(c.keys[1], "pg1");
    x = osd_txn_create("pg0");
    assert_int_equal(osd_txn_remove_collection(x), 0);
    assert_int_equal(osd_store_apply(t->s, x), -ENOTEMPTY);
    x = osd_txn_create("pg0");
    assert_int_equal(osd_txn_remove(x, "inside"), 0);
    assert_int_equal(osd_txn_remove_collection(x), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    x = osd_txn_create("pg0");
    assert_int_equal(osd_txn_remove_collection(x), 0);
    assert_int_equal(osd_store_apply(t->s, x), -ENOENT);
    x = osd_txn_create("pg0");
    assert_int_equal(osd_txn_touch(x, "o"), 0);
    assert_int_equal(osd_store_apply(t->s, x), -ENOENT);
    bool more;
    assert_int_equal(osd_store_list(t->s, "pg0", NULL, 10, collect_fn, &c, &more), -ENOENT);
    t_fsck_clean(t, false);
    t_free(t);
}

static void test_store_list_pagination_in_byte_order(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    static const char *names[] = {"b", "a", "aa", "A", "z", "\x7f", "a\x01", "0", "ab", "ba"};
    enum { N = 60 };
    char expect[N][16];
    struct osd_txn *x = osd_txn_create(T_COLL);
    for (int i = 0; i < N; i++) {
        snprintf(expect[i], sizeof(expect[i]), "%s%d", names[i % 10], i);
        assert_int_equal(osd_txn_touch(x, expect[i]), 0);
    }
    assert_int_equal(osd_store_apply(t->s, x), 0);
    qsort(expect, N, sizeof(expect[0]), (int (*)(const void *, const void *))strcmp);
    char after[64] = "";
    bool more = true;
    int seen = 0;
    while (more) {
        struct collect page = {0};
        assert_int_equal(osd_store_list(t->s, T_COLL, seen ? after : NULL, 7, collect_fn,
                                        &page, &more),
                         0);
        for (unsigned i = 0; i < page.n; i++)
            assert_string_equal(page.keys[i], expect[seen++]);
        if (page.n > 0)
            strcpy(after, page.keys[page.n - 1]);
    }
    assert_int_equal(seen, N);
    t_free(t);
}

/* osd_txn_foreach shows each recorded operation, in order, with its
 * arguments (replication ships transactions this way). */
struct seen_ops {
    enum osd_txn_op_kind kinds[16];
    char what[16][32];
    unsigned n;
};

static int seen_fn(const struct osd_txn_op_view *op, void *arg)
{
    struct seen_ops *s = arg;
    assert_true(s->n < 16);
    s->kinds[s->n] = op->kind;
    if (op->kind == OSD_TXN_WRITE)
        snprintf(s->what[s->n], 32, "%s@%llu:%.*s", op->oid, (unsigned long long)op->off,
                 (int)op->len, (const char *)op->data);
    else if (op->kind == OSD_TXN_SETXATTR || op->kind == OSD_TXN_OMAP_SET)
        snprintf(s->what[s->n], 32, "%s:%.*s=%.*s", op->oid, (int)op->key_len,
                 (const char *)op->key, (int)op->val_len, (const char *)op->val);
    else if (op->kind == OSD_TXN_TRUNCATE)
        snprintf(s->what[s->n], 32, "%s<%llu", op->oid, (unsigned long long)op->off);
    else
        snprintf(s->what[s->n], 32, "%s", op->oid ? op->oid : "-");
    s->n++;
    return s->n == 5 ? 7 : 0; /* stop after the fifth: the value comes back */
}

static void test_txn_foreach(void **state)
{
    (void)state;
    struct osd_txn *x = osd_txn_create(T_COLL);
    struct seen_ops s = {0};

    assert_int_equal(osd_txn_create_collection(x), 0);
    assert_int_equal(osd_txn_write(x, "o", 4093, "abcdef", 6), 0); /* crosses a block */
    assert_int_equal(osd_txn_setxattr(x, "o", "k", "v1", 2), 0);
    assert_int_equal(osd_txn_omap_set(x, "p", "ok", 2, "ov", 2), 0);
    assert_int_equal(osd_txn_truncate(x, "o", 77), 0);
    assert_int_equal(osd_txn_remove(x, "p"), 0);
    assert_int_equal(osd_txn_foreach(x, seen_fn, &s), 7);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.kinds[0], OSD_TXN_MKCOLL);
    assert_string_equal(s.what[0], "-");
    assert_int_equal(s.kinds[1], OSD_TXN_WRITE);
    assert_string_equal(s.what[1], "o@4093:abcdef");
    assert_string_equal(s.what[2], "o:k=v1");
    assert_string_equal(s.what[3], "p:ok=ov");
    assert_int_equal(s.kinds[4], OSD_TXN_TRUNCATE);
    assert_string_equal(s.what[4], "o<77");
    osd_txn_destroy(x);
}

int store_meta_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_xattrs),
        cmocka_unit_test(test_store_xattrs_inline_and_spilled),
        cmocka_unit_test(test_store_onode_records),
        cmocka_unit_test(test_store_omap),
        cmocka_unit_test(test_store_mtime_tracks_data),
        cmocka_unit_test(test_store_remove_drops_keys),
        cmocka_unit_test(test_store_collections),
        cmocka_unit_test(test_store_list_pagination_in_byte_order),
        cmocka_unit_test(test_txn_foreach),
    };
    return cmocka_run_group_tests_name("store_meta", tests, NULL, NULL);
}
