/* The object API of libcairn in one program (docs/client.md). Built with
 * the tree (client/CMakeLists.txt) so it never rots:
 *
 *   cairn_example_objects [-c CONF] POOL
 *
 * writes an object, updates it with a guarded compound op, reads it back,
 * lists the pool and removes the object, printing what it does. */
#include "client/cairn.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int fail(struct cairn *c, const char *what, int err)
{
    char why[256];

    cairn_error_string(c, err, why, sizeof(why));
    fprintf(stderr, "%s: %s\n", what, why);
    return 1;
}

/* An async completion: runs on libcairn's thread, so it only signals. */
struct done {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool fired;
    int result;
};

static void on_done(int result, struct cairn_op *op, void *arg)
{
    struct done *d = arg;

    pthread_mutex_lock(&d->lock);
    d->fired = true;
    d->result = result;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

static int print_name(const char *name, void *arg)
{
    printf("  %s\n", name);
    return 0;
}

int main(int argc, char **argv)
{
    const char *conf = argc == 4 && strcmp(argv[1], "-c") == 0 ? argv[2] : NULL;
    const char *pool_name = argv[argc - 1];
    struct cairn *c;
    struct cairn_stat st;
    int32_t pool;
    int r;

    if (argc != 2 && !conf) {
        fprintf(stderr, "usage: cairn_example_objects [-c CONF] POOL\n");
        return 2;
    }
    if ((r = cairn_connect(conf, NULL, &c)) < 0) {
        fprintf(stderr, "connect: %s\n", strerror(-r));
        return 1;
    }
    if ((r = cairn_pool_lookup(c, pool_name, &pool)) < 0)
        return fail(c, "pool", r);

    /* 1. A whole object in one call: durable on every replica on return. */
    if ((r = cairn_write_full(c, pool, "greeting", "hello", 5)) < 0)
        return fail(c, "write_full", r);
    if ((r = cairn_stat(c, pool, "greeting", &st)) < 0)
        return fail(c, "stat", r);
    printf("greeting: %llu bytes, version %llu\n", (unsigned long long)st.size,
           (unsigned long long)st.version);

    /* 2. A compound op, atomic on the OSD: only if nobody changed the
     *    object since we looked, append and tag it and count the update. */
    struct cairn_op *op = cairn_op_create();
    int64_t updates = 0;
    cairn_op_assert_version(op, st.version);
    cairn_op_write(op, st.size, ", world", 7);
    cairn_op_setxattr(op, "lang", "en", 2);
    cairn_op_counter_add(op, "updates", 1, &updates);
    r = cairn_op_exec(c, pool, "greeting", op);
    if (r == -ECANCELED)
        printf("someone else changed it first (step %d failed)\n", cairn_op_failed_step(op));
    else if (r < 0)
        return fail(c, "compound op", r);
    else
        printf("updated to version %llu, %lld update(s)\n",
               (unsigned long long)cairn_op_version(op), (long long)updates);
    cairn_op_destroy(op);

    /* 3. An async read: the callback fires exactly once. */
    struct done d = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};
    char buf[64];
    size_t len = 0;
    op = cairn_op_create();
    cairn_op_read(op, 0, sizeof(buf), buf, &len);
    if ((r = cairn_op_exec_async(c, pool, "greeting", op, on_done, &d)) < 0)
        return fail(c, "exec_async", r);
    pthread_mutex_lock(&d.lock);
    while (!d.fired)
        pthread_cond_wait(&d.cond, &d.lock);
    pthread_mutex_unlock(&d.lock);
    cairn_op_destroy(op);
    if (d.result < 0)
        return fail(c, "read", d.result);
    printf("read back: %.*s\n", (int)len, buf);

    /* 4. Listing, PG by PG, one page per call. */
    struct cairn_list_cursor cursor = {0};
    printf("objects in %s:\n", pool_name);
    while (!cursor.done)
        if ((r = cairn_list(c, pool, &cursor, 0, print_name, NULL)) < 0)
            return fail(c, "list", r);

    if ((r = cairn_remove(c, pool, "greeting")) < 0)
        return fail(c, "remove", r);
    cairn_shutdown(c);
    return 0;
}
