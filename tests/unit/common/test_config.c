/* The config file: syntax, section fallback, typed getters and their errors,
 * and the -c / $CAIRN_CONF / ./cairn.conf lookup order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/log.h"

static struct cairn_config *parse(const char *text)
{
    struct cairn_config *c = NULL;
    char err[128];
    assert_int_equal(cairn_config_parse(text, strlen(text), &c, err, sizeof(err)), 0);
    return c;
}

static void test_config_section_fallback(void **state)
{
    (void)state;
    struct cairn_config *c = parse("# comment\n"
                                   "log_level = info\n"
                                   "[global]\n"
                                   "keyring = /k\n"
                                   "[osd]\n"
                                   "store-data-size = 4G\n"
                                   "[osd.0]\n"
                                   "store_data_size = 8G\n"
                                   "  store path =  /var/lib/x  \n");
    assert_string_equal(cairn_config_get(c, "osd.0", "store_data_size"), "8G");
    assert_string_equal(cairn_config_get(c, "osd.1", "store_data_size"), "4G");
    assert_string_equal(cairn_config_get(c, "osd.0", "store-path"), "/var/lib/x");
    assert_string_equal(cairn_config_get(c, "osd.0", "keyring"), "/k");
    assert_string_equal(cairn_config_get(c, NULL, "log_level"), "info");
    assert_null(cairn_config_get(c, "mon.a", "store_data_size"));
    cairn_config_destroy(c);
}

static void test_config_last_value_wins(void **state)
{
    (void)state;
    struct cairn_config *c = parse("[global]\na = 1\na = 2\n");
    assert_string_equal(cairn_config_get(c, NULL, "a"), "2");
    cairn_config_destroy(c);
}

static void test_config_syntax_errors_name_the_line(void **state)
{
    (void)state;
    static const char *const bad[] = {"[global\n", "a = 1\nnovalue\n", "[]\n", " = 3\n"};
    static const char *const lines[] = {"line 1:", "line 2:", "line 1:", "line 1:"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cairn_config *c = NULL;
        char err[128] = "";
        assert_int_equal(cairn_config_parse(bad[i], strlen(bad[i]), &c, err, sizeof(err)),
                         -EINVAL);
        assert_non_null(strstr(err, lines[i]));
        assert_null(c);
    }
}

static void test_config_typed_getters(void **state)
{
    (void)state;
    struct cairn_config *c = parse("[global]\nsize = 64M\nsz2 = 3GiB\nbad = 12Q\nn = 42\n"
                                   "t = 5s\nt2 = 250\nb1 = yes\nb2 = off\nb3 = maybe\n"
                                   "huge = 99999999999T\n");
    uint64_t v;
    bool b;
    assert_int_equal(cairn_config_get_size(c, NULL, "size", 0, &v), 0);
    assert_int_equal(v, 64ull << 20);
    assert_int_equal(cairn_config_get_size(c, NULL, "sz2", 0, &v), 0);
    assert_int_equal(v, 3ull << 30);
    assert_int_equal(cairn_config_get_size(c, NULL, "bad", 0, &v), -EINVAL);
    assert_int_equal(cairn_config_get_size(c, NULL, "huge", 0, &v), -EINVAL);
    assert_int_equal(cairn_config_get_size(c, NULL, "missing", 7, &v), -ENOENT);
    assert_int_equal(v, 7);
    assert_int_equal(cairn_config_get_u64(c, NULL, "n", 0, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cairn_config_get_u64(c, NULL, "size", 0, &v), -EINVAL);
    assert_int_equal(cairn_config_get_ms(c, NULL, "t", 0, &v), 0);
    assert_int_equal(v, 5000);
    assert_int_equal(cairn_config_get_ms(c, NULL, "t2", 0, &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(cairn_config_get_bool(c, NULL, "b1", false, &b), 0);
    assert_true(b);
    assert_int_equal(cairn_config_get_bool(c, NULL, "b2", true, &b), 0);
    assert_false(b);
    assert_int_equal(cairn_config_get_bool(c, NULL, "b3", true, &b), -EINVAL);
    cairn_config_destroy(c);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_config_find_order(void **state)
{
    (void)state;
    char dir[] = "/tmp/cairn-conf-XXXXXX";
    char old[4096], path[4096], out[4096];
    assert_non_null(mkdtemp(dir));
    assert_non_null(getcwd(old, sizeof(old)));
    assert_int_equal(chdir(dir), 0);
    unsetenv("CAIRN_CONF");

    snprintf(path, sizeof(path), "%s/explicit.conf", dir);
    assert_int_equal(cairn_config_find(path, out, sizeof(out)), -ENOENT);
    write_file(path, "a = 1\n");
    assert_int_equal(cairn_config_find(path, out, sizeof(out)), 0);
    assert_string_equal(out, path);

    write_file("cairn.conf", "a = 2\n");
    assert_int_equal(cairn_config_find(NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "./cairn.conf");
    setenv("CAIRN_CONF", path, 1);
    assert_int_equal(cairn_config_find(NULL, out, sizeof(out)), 0);
    assert_string_equal(out, path);
    setenv("CAIRN_CONF", "/nonexistent/cairn.conf", 1);
    assert_int_equal(cairn_config_find(NULL, out, sizeof(out)), -ENOENT);
    unsetenv("CAIRN_CONF");

    struct cairn_config *c = NULL;
    char err[256];
    assert_int_equal(cairn_config_load("./cairn.conf", &c, err, sizeof(err)), 0);
    assert_string_equal(cairn_config_get(c, NULL, "a"), "2");
    cairn_config_destroy(c);
    assert_int_equal(cairn_config_load("./missing.conf", &c, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "missing.conf"));

    unlink("cairn.conf");
    unlink(path);
    assert_int_equal(chdir(old), 0);
    rmdir(dir);
}

static void test_config_parse_uuid(void **state)
{
    (void)state;
    uint8_t u[16];
    assert_int_equal(cairn_parse_uuid("0123abcd-4567-89ef-ABCD-0123456789ab", u), 0);
    assert_int_equal(u[0], 0x01);
    assert_int_equal(u[3], 0xcd);
    assert_int_equal(u[10], 0x01);
    assert_int_equal(u[15], 0xab);
    assert_int_equal(cairn_parse_uuid("0123abcd456789efabcd0123456789ab", u), 0);
    assert_int_equal(cairn_parse_uuid("0123abcd-4567-89ef-abcd-0123456789a", u), -EINVAL);
    assert_int_equal(cairn_parse_uuid("0123abcd-4567-89ef-abcd-0123456789abc", u), -EINVAL);
    assert_int_equal(cairn_parse_uuid("0123abcd-4567-89ef-abcd-0123456789ag", u), -EINVAL);
    assert_int_equal(cairn_parse_uuid("", u), -EINVAL);
}

static void test_config_open_and_logging(void **state)
{
    (void)state;
    char dir[] = "/tmp/cairn-conf-XXXXXX", path[4096], err[256];
    struct cairn_config *c = NULL;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/c.conf", dir);

    assert_int_equal(cairn_config_open(path, &c, err, sizeof(err)), -ENOENT);
    assert_true(err[0] != '\0');
    write_file(path, "[osd]\nlog_level = loud\n[osd.1]\nlog_level = debug\n");
    assert_int_equal(cairn_config_open(path, &c, err, sizeof(err)), 0);
    assert_int_equal(cairn_config_apply_logging(c, "osd.0", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "loud"));
    assert_int_equal(cairn_config_apply_logging(c, "osd.1", err, sizeof(err)), 0);
    cairn_config_destroy(c);
    cairn_log_set_level(CAIRN_LOG_INFO);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_parse_uuid),
        cmocka_unit_test(test_config_open_and_logging),
        cmocka_unit_test(test_config_section_fallback),
        cmocka_unit_test(test_config_last_value_wins),
        cmocka_unit_test(test_config_syntax_errors_name_the_line),
        cmocka_unit_test(test_config_typed_getters),
        cmocka_unit_test(test_config_find_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
