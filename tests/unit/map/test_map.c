/* The cluster map: mutators and their errors, encode/decode round trip, and
 * rejection of maps that decode but carry invalid values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/map.h"

static struct proto_map *sample_map(void)
{
    struct proto_map *m = proto_map_create();
    assert_non_null(m);
    m->epoch = 42;
    for (int i = 0; i < 16; i++)
        m->fsid[i] = (uint8_t)(i * 17);
    assert_int_equal(proto_map_add_mon(m, "a", "127.0.0.1:6789"), 0);
    assert_int_equal(proto_map_add_mon(m, "b", "127.0.0.1:6790"), 0);
    assert_int_equal(proto_map_add_osd(m, 0, "host0"), 0);
    assert_int_equal(proto_map_add_osd(m, 2, "host1"), 0); /* leaves a gap at 1 */
    struct proto_map_pool p = {.id = 1, .name = "rbd", .size = 3, .min_size = 2,
                               .pg_num = 128, .failure_domain = PROTO_FD_HOST};
    assert_int_equal(proto_map_add_pool(m, &p), 0);
    return m;
}

static void test_map_mutators_and_lookups(void **state)
{
    (void)state;
    struct proto_map *m = sample_map();
    assert_non_null(proto_map_osd(m, 0));
    assert_null(proto_map_osd(m, 1));
    assert_non_null(proto_map_osd(m, 2));
    assert_null(proto_map_osd(m, 3));
    assert_null(proto_map_osd(m, -1));
    assert_true(proto_map_osd(m, 2)->in);
    assert_false(proto_map_osd(m, 2)->up);
    assert_int_equal(proto_map_osd(m, 2)->weight, PROTO_MAP_WEIGHT_ONE);
    assert_int_equal(proto_map_add_osd(m, 2, "h"), -EEXIST);
    assert_int_equal(proto_map_add_osd(m, 5, "bad host"), -EINVAL);
    assert_int_equal(proto_map_add_osd(m, PROTO_MAP_MAX_OSDS, "h"), -ENOSPC);
    assert_int_equal(proto_map_add_mon(m, "a", "x"), -EEXIST);
    assert_string_equal(proto_map_mon(m, "b")->addr, "127.0.0.1:6790");
    assert_string_equal(proto_map_pool_by_name(m, "rbd")->name, "rbd");
    assert_int_equal(proto_map_pool(m, 1)->pg_num, 128);

    struct proto_map_pool p = {.id = 2, .name = "rbd", .size = 1, .min_size = 1, .pg_num = 8};
    assert_int_equal(proto_map_add_pool(m, &p), -EEXIST);
    strcpy(p.name, "x");
    p.min_size = 2;
    assert_int_equal(proto_map_add_pool(m, &p), -EINVAL);
    p.min_size = 1;
    p.pg_num = 0;
    assert_int_equal(proto_map_add_pool(m, &p), -EINVAL);
    p.pg_num = 8;
    assert_int_equal(proto_map_add_pool(m, &p), 0);
    assert_int_equal(proto_map_remove_pool(m, 2), 0);
    assert_int_equal(proto_map_remove_pool(m, 2), -ENOENT);
    assert_int_equal(proto_map_remove_osd(m, 0), 0);
    assert_null(proto_map_osd(m, 0));
    assert_int_equal(proto_map_remove_osd(m, 0), -ENOENT);
    assert_int_equal(proto_map_remove_mon(m, "a"), 0);
    assert_int_equal(proto_map_remove_mon(m, "a"), -ENOENT);
    proto_map_destroy(m);
}

static void test_map_name_rules(void **state)
{
    (void)state;
    assert_true(proto_map_name_is_valid("pool-1_x.y"));
    assert_false(proto_map_name_is_valid(""));
    assert_false(proto_map_name_is_valid(".hidden"));
    assert_false(proto_map_name_is_valid("-x"));
    assert_false(proto_map_name_is_valid("a/b"));
    assert_false(proto_map_name_is_valid("caf\xc3\xa9"));
    char long_name[PROTO_MAP_NAME_MAX + 1];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_false(proto_map_name_is_valid(long_name));
    long_name[PROTO_MAP_NAME_MAX - 1] = '\0';
    assert_true(proto_map_name_is_valid(long_name));
}

static void test_map_encode_decode_round_trip(void **state)
{
    (void)state;
    struct proto_map *m = sample_map();
    m->osds[0].up = true;
    m->osds[0].up_from = 40;
    m->osds[2].weight = PROTO_MAP_WEIGHT_ONE / 2;
    strcpy(m->osds[2].addr, "unix:/run/osd.2.sock");
    uint8_t *buf;
    size_t len;
    assert_int_equal(proto_map_encode(m, &buf, &len), 0);
    struct proto_map *d = NULL;
    assert_int_equal(proto_map_decode(buf, len, &d), 0);
    assert_int_equal(d->epoch, 42);
    assert_memory_equal(d->fsid, m->fsid, 16);
    assert_int_equal(d->n_mons, 2);
    assert_int_equal(d->n_osds, 3);
    assert_int_equal(d->n_pools, 1);
    assert_null(proto_map_osd(d, 1));
    assert_true(proto_map_osd(d, 0)->up);
    assert_int_equal(proto_map_osd(d, 0)->up_from, 40);
    assert_int_equal(proto_map_osd(d, 2)->weight, PROTO_MAP_WEIGHT_ONE / 2);
    assert_string_equal(proto_map_osd(d, 2)->addr, "unix:/run/osd.2.sock");
    assert_string_equal(proto_map_osd(d, 2)->host, "host1");
    const struct proto_map_pool *p = proto_map_pool_by_name(d, "rbd");
    assert_non_null(p);
    assert_int_equal(p->size, 3);
    assert_int_equal(p->min_size, 2);
    assert_int_equal(p->failure_domain, PROTO_FD_HOST);

    struct proto_map *c = proto_map_clone(d);
    assert_non_null(c);
    uint8_t *buf2;
    size_t len2;
    assert_int_equal(proto_map_encode(c, &buf2, &len2), 0);
    assert_int_equal(len2, len);
    assert_memory_equal(buf2, buf, len);
    free(buf);
    free(buf2);
    proto_map_destroy(m);
    proto_map_destroy(d);
    proto_map_destroy(c);
}

static void test_map_decode_rejects_garbage(void **state)
{
    (void)state;
    struct proto_map *d = NULL;
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12};
    assert_int_equal(proto_map_decode(junk, sizeof(junk), &d), -EBADMSG);
    assert_null(d);
    /* Every truncation of a valid map either decodes to something valid or fails cleanly. */
    struct proto_map *m = sample_map();
    uint8_t *buf;
    size_t len;
    assert_int_equal(proto_map_encode(m, &buf, &len), 0);
    for (size_t cut = 0; cut < len; cut++) {
        int r = proto_map_decode(buf, cut, &d);
        if (r == 0)
            proto_map_destroy(d);
        else
            assert_true(r == -EBADMSG || r == -EINVAL);
    }
    free(buf);
    proto_map_destroy(m);
}

static void test_map_decode_rejects_invalid_values(void **state)
{
    (void)state;
    struct proto_map *m = sample_map();
    struct proto_map *d = NULL;
    uint8_t *buf;
    size_t len;
    /* min_size above size */
    m->pools[0].min_size = 4;
    assert_int_equal(proto_map_encode(m, &buf, &len), 0);
    assert_int_equal(proto_map_decode(buf, len, &d), -EINVAL);
    free(buf);
    m->pools[0].min_size = 2;
    /* an OSD entry out of id order */
    m->osds[2].id = 7;
    assert_int_equal(proto_map_encode(m, &buf, &len), 0);
    assert_int_equal(proto_map_decode(buf, len, &d), -EINVAL);
    free(buf);
    m->osds[2].id = 2;
    /* a host name with a slash */
    strcpy(m->osds[2].host, "a/b");
    assert_int_equal(proto_map_encode(m, &buf, &len), 0);
    assert_int_equal(proto_map_decode(buf, len, &d), -EINVAL);
    free(buf);
    proto_map_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_mutators_and_lookups),
        cmocka_unit_test(test_map_name_rules),
        cmocka_unit_test(test_map_encode_decode_round_trip),
        cmocka_unit_test(test_map_decode_rejects_garbage),
        cmocka_unit_test(test_map_decode_rejects_invalid_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
