/* dp_errors: bad input and corruption through libcairn against a real
 * cluster. Each case states the error a caller must see, and that nothing
 * changed where nothing may change:
 *
 *   oversize and empty names, names with unsupported bytes  -> -EINVAL
 *   unknown pool id, unknown pool name                     -> -ENOENT
 *   a write op that also reads data                        -> -EINVAL
 *   a missing xattr / object in a compound op              -> -ENODATA / -ENOENT,
 *                                                             failed_step names it
 *   a failing guard after a write in the same op           -> -ECANCELED, object unchanged
 *   too many steps, oversize xattr name or value           -> builder -E2BIG / -EINVAL
 *   a write payload corrupted after its checksum           -> -EBADMSG, object unchanged
 *   read data corrupted before the client verifies it      -> -EIO, nothing handed over
 *
 *   dp_errors CONF POOL
 * Exit 0 when every case behaved, 1 otherwise. */
#include "client/cairn.h"
#include "client/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned failures;

#define CHECK(cond, ...)                                                                         \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "dp_errors: FAIL %s:%d: ", __FILE__, __LINE__);                      \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fputc('\n', stderr);                                                                 \
            failures++;                                                                          \
        }                                                                                        \
    } while (0)

#define CHECK_ERR(got, want, what)                                                               \
    CHECK((got) == (want), "%s: got %d (%s), want %d (%s)", what, got, strerror(-(got)), want,   \
          strerror(-(want)))

static void names(struct cairn *c, int32_t pool)
{
    char big[CAIRN_OID_MAX + 2];
    memset(big, 'n', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0'; /* 1025 bytes */
    CHECK_ERR(cairn_write_full(c, pool, big, "x", 1), -EINVAL, "1025-byte name");
    big[CAIRN_OID_MAX] = '\0'; /* 1024 bytes: the limit itself works */
    CHECK_ERR(cairn_write_full(c, pool, big, "x", 1), 0, "1024-byte name");
    CHECK_ERR(cairn_remove(c, pool, big), 0, "remove 1024-byte name");
    CHECK_ERR(cairn_write_full(c, pool, "", "x", 1), -EINVAL, "empty name");
    CHECK_ERR(cairn_write_full(c, 1 << 30, "o", "x", 1), -ENOENT, "unknown pool id");
    int32_t id;
    CHECK_ERR(cairn_pool_lookup(c, "no-such-pool", &id), -ENOENT, "unknown pool name");
}

static void compound(struct cairn *c, int32_t pool)
{
    char buf[16];
    size_t n = 0;
    CHECK_ERR(cairn_write_full(c, pool, "err.obj", "before", 6), 0, "setup write");

    struct cairn_op *op = cairn_op_create();
    CHECK_ERR(cairn_op_write(op, 0, "x", 1), 0, "builder write");
    CHECK_ERR(cairn_op_read(op, 0, sizeof(buf), buf, &n), 0, "builder read");
    CHECK_ERR(cairn_op_exec(c, pool, "err.obj", op), -EINVAL, "write op with a data read");
    cairn_op_destroy(op);

    op = cairn_op_create();
    size_t len;
    CHECK_ERR(cairn_op_stat(op, &(struct cairn_stat){0}), 0, "builder stat");
    CHECK_ERR(cairn_op_getxattr(op, "absent", buf, sizeof(buf), &len), 0, "builder getxattr");
    CHECK_ERR(cairn_op_exec(c, pool, "err.obj", op), -ENODATA, "missing xattr");
    CHECK(cairn_op_failed_step(op) == 1, "failed step %d, want 1", cairn_op_failed_step(op));
    cairn_op_destroy(op);

    struct cairn_stat st;
    CHECK_ERR(cairn_stat(c, pool, "err.absent", &st), -ENOENT, "stat of a missing object");
    CHECK_ERR(cairn_remove(c, pool, "err.absent"), -ENOENT, "remove of a missing object");

    /* A guard after a write: the write must not happen. */
    op = cairn_op_create();
    CHECK_ERR(cairn_op_write_full(op, "after!", 6), 0, "builder write_full");
    CHECK_ERR(cairn_op_cmpxattr(op, "k", "v", 1), 0, "builder cmpxattr");
    CHECK_ERR(cairn_op_exec(c, pool, "err.obj", op), -ECANCELED, "failing guard");
    cairn_op_destroy(op);
    n = 0;
    CHECK_ERR(cairn_read(c, pool, "err.obj", 0, sizeof(buf), buf, &n), 0, "read back");
    CHECK(n == 6 && memcmp(buf, "before", 6) == 0, "a failed op changed the object");

    /* Builder limits. */
    op = cairn_op_create();
    unsigned steps = 0;
    while (cairn_op_assert_exists(op) == 0 && steps <= CAIRN_OP_STEPS_MAX)
        steps++;
    CHECK(steps == CAIRN_OP_STEPS_MAX, "%u steps accepted, want %u", steps, CAIRN_OP_STEPS_MAX);
    cairn_op_destroy(op);
    op = cairn_op_create();
    char xname[CAIRN_XATTR_NAME_MAX + 2];
    memset(xname, 'x', sizeof(xname) - 1);
    xname[sizeof(xname) - 1] = '\0';
    CHECK_ERR(cairn_op_setxattr(op, xname, "v", 1), -EINVAL, "oversize xattr name");
    static char value[CAIRN_VALUE_MAX + 1];
    CHECK_ERR(cairn_op_setxattr(op, "v", value, sizeof(value)), -EINVAL, "oversize xattr value");
    cairn_op_destroy(op);
}

static void corruption(struct cairn *c, int32_t pool)
{
    char buf[4096];
    size_t n = 0;
    memset(buf, 'a', sizeof(buf));
    CHECK_ERR(cairn_write_full(c, pool, "err.crc", buf, sizeof(buf)), 0, "setup write");

    memset(buf, 'b', sizeof(buf));
    cairn__test_corrupt_next_write(c);
    CHECK_ERR(cairn_write_full(c, pool, "err.crc", buf, sizeof(buf)), -EBADMSG,
              "write corrupted in flight");
    memset(buf, 0, sizeof(buf));
    CHECK_ERR(cairn_read(c, pool, "err.crc", 0, sizeof(buf), buf, &n), 0, "read after refusal");
    CHECK(n == sizeof(buf) && buf[0] == 'a' && buf[sizeof(buf) - 1] == 'a',
          "the corrupt write changed the object");

    memset(buf, 'z', sizeof(buf));
    n = 12345;
    cairn__test_corrupt_next_read(c);
    CHECK_ERR(cairn_read(c, pool, "err.crc", 0, sizeof(buf), buf, &n), -EIO,
              "read corrupted in flight");
    CHECK(buf[0] == 'z' && n == 12345, "corrupt read data was handed over");
    CHECK_ERR(cairn_read(c, pool, "err.crc", 0, sizeof(buf), buf, &n), 0, "clean read again");
}

int main(int argc, char **argv)
{
    struct cairn *c;
    int32_t pool;
    if (argc != 3) {
        fprintf(stderr, "usage: dp_errors CONF POOL\n");
        return 2;
    }
    int e = cairn_connect(argv[1], NULL, &c);
    if (e == 0)
        e = cairn_pool_lookup(c, argv[2], &pool);
    if (e < 0) {
        fprintf(stderr, "dp_errors: connect/pool: %s\n", strerror(-e));
        return 1;
    }
    names(c, pool);
    compound(c, pool);
    corruption(c, pool);
    cairn_shutdown(c);
    printf("%s\n", failures ? "FAILED" : "every bad input got its error");
    return failures ? 1 : 0;
}
