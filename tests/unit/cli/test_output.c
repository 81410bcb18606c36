/* The CLI's output helpers (tools/cli/output.c) and health rules (health.c):
 * JSON escaping and nesting, tables, formats, written to memory streams. */
#include "tools/cli/cli.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h> /* before cmocka.h, which needs it */

#include <cmocka.h>

struct mem {
    FILE *fp;
    char *buf;
    size_t len;
};

static void mem_open(struct mem *m)
{
    m->fp = open_memstream(&m->buf, &m->len);
    assert_non_null(m->fp);
}

static const char *mem_text(struct mem *m)
{
    fflush(m->fp);
    return m->buf;
}

static void mem_close(struct mem *m)
{
    fclose(m->fp);
    free(m->buf);
}

static void test_json_string_escapes_quotes_backslashes_and_controls(void **state)
{
    struct mem m;

    mem_open(&m);
    cli_json_write_string(m.fp, "a\"b\\c\n\t\r\b\f\x01\x1f\x7f"
                                "d/é");
    assert_string_equal(mem_text(&m), "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\\u007fd/é\"");
    mem_close(&m);
}

static void test_json_nests_objects_and_arrays_with_commas(void **state)
{
    struct mem m;
    struct cli_json j;

    mem_open(&m);
    cli_json_init(&j, m.fp);
    cli_json_obj_begin(&j, NULL);
    cli_json_str(&j, "s", "x");
    cli_json_str(&j, "null", NULL);
    cli_json_obj_begin(&j, "o");
    cli_json_int(&j, "i", -3);
    cli_json_uint(&j, "u", 18446744073709551615ull);
    cli_json_obj_end(&j);
    cli_json_arr_begin(&j, "a");
    cli_json_bool(&j, NULL, true);
    cli_json_double(&j, NULL, 1.5);
    cli_json_arr_begin(&j, NULL);
    cli_json_arr_end(&j);
    cli_json_obj_begin(&j, NULL);
    cli_json_obj_end(&j);
    cli_json_arr_end(&j);
    cli_json_obj_end(&j);
    cli_json_finish(&j);
    assert_string_equal(mem_text(&m), "{\"s\": \"x\", \"null\": null, \"o\": {\"i\": -3, \"u\": "
                                      "18446744073709551615}, \"a\": [true, 1.5, [], {}]}\n");
    mem_close(&m);
}

static void test_table_pads_columns_to_the_widest_cell(void **state)
{
    struct mem m;
    struct cli_table t;

    mem_open(&m);
    cli_table_init(&t, 3, "ID", "NAME", "X");
    assert_int_equal(cli_table_row(&t, "1", "rbd", "y"), 0);
    assert_int_equal(cli_table_row(&t, "100", "a", NULL), 0);
    cli_table_print(&t, m.fp);
    assert_string_equal(mem_text(&m), "ID   NAME  X\n"
                                      "1    rbd   y\n"
                                      "100  a     \n");
    cli_table_fini(&t);
    mem_close(&m);
}

static void test_weight_and_uuid_formats(void **state)
{
    char w[32], u[37];
    const uint8_t id[16] = {0x50, 0xdc, 0x19, 0xc4, 0x53, 0x8e, 0x49, 0xb5,
                            0xaa, 0x28, 0x06, 0xbc, 0xbc, 0x1e, 0x6a, 0x51};

    cli_weight_format(0x18000, w, sizeof(w));
    assert_string_equal(w, "1.500");
    cli_weight_format(0, w, sizeof(w));
    assert_string_equal(w, "0.000");
    cli_uuid_format(id, u);
    assert_string_equal(u, "50dc19c4-538e-49b5-aa28-06bcbc1e6a51");
}

static void test_bytes_format_in_binary_units(void **state)
{
    char b[CLI_BYTES_STR_MAX];

    (void)state;
    cli_bytes_format(0, b, sizeof(b));
    assert_string_equal(b, "0 B");
    cli_bytes_format(1023, b, sizeof(b));
    assert_string_equal(b, "1023 B");
    cli_bytes_format(1024, b, sizeof(b));
    assert_string_equal(b, "1.0 KiB");
    cli_bytes_format(1288490189ull, b, sizeof(b)); /* 1.2 GiB */
    assert_string_equal(b, "1.2 GiB");
    cli_bytes_format(30ull << 30, b, sizeof(b));
    assert_string_equal(b, "30 GiB");
    cli_bytes_format(768ull << 20, b, sizeof(b));
    assert_string_equal(b, "768 MiB");
    cli_bytes_format(UINT64_MAX, b, sizeof(b));
    assert_string_equal(b, "16 EiB");
}

static void test_health_rules(void **state)
{
    struct proto_map *map = proto_map_create();
    struct proto_mon_status st = {.leader = "a", .n_quorum = 2, .quorum = {"a", "b"}};
    struct cli_health h;

    assert_int_equal(proto_map_add_mon(map, "a", "127.0.0.1:1"), 0);
    assert_int_equal(proto_map_add_mon(map, "b", "127.0.0.1:2"), 0);
    assert_int_equal(proto_map_add_mon(map, "c", "127.0.0.1:3"), 0);
    cli_health_eval(map, &st, &h);
    assert_int_equal(h.level, CLI_HEALTH_WARN);
    assert_int_equal(h.n, 2);
    assert_string_equal(h.reasons[0], "1 monitor out of quorum: mon.c");
    assert_string_equal(h.reasons[1], "no OSDs in the cluster");

    assert_int_equal(proto_map_add_osd(map, 0, "h1"), 0);
    assert_int_equal(proto_map_add_osd(map, 1, "h1"), 0);
    map->osds[0].up = true;
    st.n_quorum = 3;
    snprintf(st.quorum[2], sizeof(st.quorum[2]), "c");
    cli_health_eval(map, &st, &h);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.reasons[0], "1 OSD down: osd.1");
    map->osds[1].up = true;
    cli_health_eval(map, &st, &h);
    assert_int_equal(h.level, CLI_HEALTH_OK);
    assert_int_equal(h.n, 0);

    st.n_quorum = 1;
    cli_health_eval(map, &st, &h);
    assert_int_equal(h.level, CLI_HEALTH_ERROR);
    assert_string_equal(h.reasons[0], "quorum lost: 1 of 3 monitors in quorum");
    assert_string_equal(h.reasons[1], "2 monitors out of quorum: mon.b, mon.c");
    st.leader[0] = '\0';
    cli_health_eval(map, &st, &h);
    assert_int_equal(h.level, CLI_HEALTH_ERROR);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.reasons[0], "no monitor leader: the monitors have no quorum");
    assert_string_equal(cli_health_name(h.level), "error");
    proto_map_destroy(map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_string_escapes_quotes_backslashes_and_controls),
        cmocka_unit_test(test_json_nests_objects_and_arrays_with_commas),
        cmocka_unit_test(test_table_pads_columns_to_the_widest_cell),
        cmocka_unit_test(test_weight_and_uuid_formats),
        cmocka_unit_test(test_bytes_format_in_binary_units),
        cmocka_unit_test(test_health_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
