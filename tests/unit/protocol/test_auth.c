/* Keyrings, key base64 and handshake proofs: entity names, strict base64,
 * save/load round trip with mode 0600, every malformed keyring refused with
 * -EINVAL and a log line naming the problem, and proofs that change with
 * every input (key, role, nonces, names, and where one name ends). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/log.h"
#include "protocol/auth.h"

/* A fresh directory per test, removed afterwards (keyring files only). */
struct tmp {
    char dir[64];
    char path[128];
};

static int tmp_setup(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    snprintf(t->dir, sizeof(t->dir), "/tmp/cairn-test-auth-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->path, sizeof(t->path), "%s/keyring", t->dir);
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    struct tmp *t = *state;
    DIR *dir = opendir(t->dir);
    struct dirent *e;
    while (dir && (e = readdir(dir)))
        if (e->d_name[0] != '.')
            unlinkat(dirfd(dir), e->d_name, 0);
    if (dir)
        closedir(dir);
    rmdir(t->dir);
    free(t);
    return 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static void fill_key(uint8_t key[PROTO_KEY_LEN], uint8_t start)
{
    for (unsigned i = 0; i < PROTO_KEY_LEN; i++)
        key[i] = (uint8_t)(start + i);
}

static void test_auth_entity_names(void **state)
{
    (void)state;
    static const char *const good[] = {
        "client.admin", "osd.3", "mon.a", "client.A-b_9", "x.y",
    };
    static const char *const bad[] = {
        "",           "client",    "client.", ".admin",          "Client.admin", "client.ad min",
        "client.a.b", "client1.a", "osd.3\n", "client.\xc3\xa9", "global",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(proto_entity_is_valid(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(proto_entity_is_valid(bad[i]));

    char longest[PROTO_ENTITY_MAX + 1];
    memset(longest, 'x', sizeof(longest));
    memcpy(longest, "client.", 7);
    longest[PROTO_ENTITY_MAX - 1] = '\0';
    assert_true(proto_entity_is_valid(longest)); /* 63 characters */
    longest[PROTO_ENTITY_MAX - 1] = 'x';
    longest[PROTO_ENTITY_MAX] = '\0';
    assert_false(proto_entity_is_valid(longest)); /* 64 characters */
}

static void test_auth_base64_roundtrip_and_known_value(void **state)
{
    (void)state;
    uint8_t key[PROTO_KEY_LEN], back[PROTO_KEY_LEN];
    char b64[45];

    memset(key, 0, sizeof(key));
    proto_key_to_base64(key, b64);
    assert_string_equal(b64, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    fill_key(key, 0xf0);
    proto_key_to_base64(key, b64);
    assert_int_equal(strlen(b64), 44);
    assert_int_equal(proto_key_from_base64(b64, back), 0);
    assert_memory_equal(key, back, sizeof(key));
}

static void test_auth_base64_rejects_anything_but_one_key(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",              /* 43 chars */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",            /* 45 chars */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",             /* no padding */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",             /* 31 bytes + padding */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",             /* unused bits set */
        "AAAAAAAAAAAAAAAAAAAAA*AAAAAAAAAAAAAAAAAAAAA=",             /* not base64 */
        " AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",             /* whitespace */
        "AAAAAAAAAAAAAAAAAAAAAAA=AAAAAAAAAAAAAAAAAAA=",             /* padding inside */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 42 bytes */
    };
    uint8_t key[PROTO_KEY_LEN], orig[PROTO_KEY_LEN];
    fill_key(orig, 1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memcpy(key, orig, sizeof(key));
        assert_int_equal(proto_key_from_base64(bad[i], key), -EINVAL);
        assert_memory_equal(key, orig, sizeof(key));
    }
}

static void test_auth_key_generate_gives_fresh_keys(void **state)
{
    (void)state;
    uint8_t a[PROTO_KEY_LEN], b[PROTO_KEY_LEN], zero[PROTO_KEY_LEN] = {0};
    assert_int_equal(proto_key_generate(a), 0);
    assert_int_equal(proto_key_generate(b), 0);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, zero, sizeof(a));
}

static void test_auth_keyring_set_get_replace(void **state)
{
    (void)state;
    struct proto_keyring *kr = proto_keyring_create();
    uint8_t k1[PROTO_KEY_LEN], k2[PROTO_KEY_LEN], got[PROTO_KEY_LEN];
    fill_key(k1, 1);
    fill_key(k2, 2);
    assert_non_null(kr);
    assert_int_equal(proto_keyring_get(kr, "client.admin", got), -ENOENT);
    assert_int_equal(proto_keyring_set(kr, "client.admin", k1), 0);
    assert_int_equal(proto_keyring_set(kr, "bad name", k1), -EINVAL);
    assert_int_equal(proto_keyring_get(kr, "client.admin", got), 0);
    assert_memory_equal(got, k1, sizeof(got));
    assert_int_equal(proto_keyring_set(kr, "client.admin", k2), 0);
    assert_int_equal(proto_keyring_get(kr, "client.admin", got), 0);
    assert_memory_equal(got, k2, sizeof(got));
    /* Enough entries to grow the table a few times. */
    for (int i = 0; i < 100; i++) {
        char name[32];
        snprintf(name, sizeof(name), "osd.%d", i);
        fill_key(k1, (uint8_t)i);
        assert_int_equal(proto_keyring_set(kr, name, k1), 0);
    }
    assert_int_equal(proto_keyring_get(kr, "osd.77", got), 0);
    fill_key(k1, 77);
    assert_memory_equal(got, k1, sizeof(got));
    assert_int_equal(proto_keyring_get(kr, "osd.100", got), -ENOENT);
    proto_keyring_destroy(kr);
}

static void test_auth_keyring_save_load_roundtrip_mode_0600(void **state)
{
    struct tmp *t = *state;
    static const char *const names[] = {"client.admin", "osd.0", "mon.a"};
    struct proto_keyring *kr = proto_keyring_create(), *back = NULL;
    uint8_t key[PROTO_KEY_LEN], got[PROTO_KEY_LEN];
    struct stat st;

    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(proto_key_generate(key), 0);
        assert_int_equal(proto_keyring_set(kr, names[i], key), 0);
    }
    /* A permissive umask must not leak the keys to other users. */
    mode_t old = umask(0);
    assert_int_equal(proto_keyring_save(kr, t->path), 0);
    umask(old);
    assert_int_equal(stat(t->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    assert_int_equal(proto_keyring_load(t->path, &back), 0);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(proto_keyring_get(kr, names[i], key), 0);
        assert_int_equal(proto_keyring_get(back, names[i], got), 0);
        assert_memory_equal(key, got, sizeof(key));
    }
    proto_keyring_destroy(back);

    /* Saving again replaces the file, leaving no temporary behind. */
    fill_key(key, 9);
    assert_int_equal(proto_keyring_set(kr, "osd.0", key), 0);
    assert_int_equal(proto_keyring_save(kr, t->path), 0);
    assert_int_equal(proto_keyring_load(t->path, &back), 0);
    assert_int_equal(proto_keyring_get(back, "osd.0", got), 0);
    assert_memory_equal(key, got, sizeof(key));
    DIR *dir = opendir(t->dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(dir)))
        files += e->d_name[0] != '.';
    closedir(dir);
    assert_int_equal(files, 1);
    proto_keyring_destroy(back);
    proto_keyring_destroy(kr);
}

static void test_auth_keyring_load_accepts_comments_and_other_settings(void **state)
{
    struct tmp *t = *state;
    struct proto_keyring *kr = NULL;
    uint8_t got[PROTO_KEY_LEN], zero[PROTO_KEY_LEN] = {0};
    write_text(t->path, "# made by hand\n"
                        "[client.admin]\n"
                        "  key =  AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=  \n"
                        "caps mon = allow *\n");
    assert_int_equal(proto_keyring_load(t->path, &kr), 0);
    assert_int_equal(proto_keyring_get(kr, "client.admin", got), 0);
    assert_memory_equal(got, zero, sizeof(got));
    proto_keyring_destroy(kr);
}

/* Loads @text, expecting -EINVAL, @out untouched, and a log line with @why. */
static void check_malformed(const struct tmp *t, const char *text, const char *why)
{
    struct proto_keyring *kr = (struct proto_keyring *)&kr;
    char log_path[160], log[1024];
    snprintf(log_path, sizeof(log_path), "%s/log", t->dir);
    int fd = open(log_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);

    write_text(t->path, text);
    cairn_log_set_fd(fd);
    int r = proto_keyring_load(t->path, &kr);
    cairn_log_set_fd(2);
    ssize_t n = pread(fd, log, sizeof(log) - 1, 0);
    close(fd);
    unlink(log_path);
    assert_true(n > 0);
    log[n] = '\0';
    assert_int_equal(r, -EINVAL);
    assert_ptr_equal(kr, (struct proto_keyring *)&kr);
    if (!strstr(log, why))
        fail_msg("log \"%s\" lacks \"%s\"", log, why);
}

static void test_auth_keyring_load_malformed_is_einval(void **state)
{
    struct tmp *t = *state;
    static const char *const good = "key = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    char text[256];

    check_malformed(t, "[client.admin]\nkey = not*base64\n",
                    "[client.admin]: key is not the base64 of 32 bytes");
    check_malformed(t, "[client.admin]\nkey = AAAAAAAAAAAAAAAAAAAAAA==\n", /* 16 bytes */
                    "[client.admin]: key is not the base64 of 32 bytes");
    check_malformed(t, "[osd.1]\nkey = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
                    "[osd.1]: key is not the base64 of 32 bytes"); /* 33 bytes */
    check_malformed(t, "[osd.1]\nkey =\n", "[osd.1]: key is not the base64 of 32 bytes");
    snprintf(text, sizeof(text), "[Client.admin]\n%s", good);
    check_malformed(t, text, "[Client.admin]: bad entity name");
    snprintf(text, sizeof(text), "[osd]\n%s", good);
    check_malformed(t, text, "[osd]: bad entity name");
    snprintf(text, sizeof(text), "%s[osd.1]\n%s", good, good);
    check_malformed(t, text, "[global]: setting outside an [entity] section");
    check_malformed(t, "[osd.1]\nkye = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                    "[osd.1]: no key");
    snprintf(text, sizeof(text), "[osd.1]\n%sthis line is junk\n", good);
    check_malformed(t, text, "line 3: expected key = value");
    /* One bad entry spoils the file, wherever it is. */
    snprintf(text, sizeof(text), "[osd.1]\n%s[osd.2]\nkey = x\n[osd.3]\n%s", good, good);
    check_malformed(t, text, "[osd.2]: key is not the base64 of 32 bytes");
}

static void test_auth_keyring_load_missing_file(void **state)
{
    struct tmp *t = *state;
    struct proto_keyring *kr = NULL;
    assert_int_equal(proto_keyring_load(t->path, &kr), -ENOENT);
    assert_null(kr);
}

/* The message layout documented in auth.c, built independently. */
static void reference_proof(const uint8_t key[PROTO_KEY_LEN], char role, const char *own,
                            const char *peer, const uint8_t n1[32], const uint8_t n2[32],
                            uint8_t out[32])
{
    uint8_t msg[256];
    size_t n = 0;
    unsigned int len = 0;
    msg[n++] = (uint8_t)role;
    msg[n++] = (uint8_t)strlen(own);
    memcpy(msg + n, own, strlen(own));
    n += strlen(own);
    msg[n++] = (uint8_t)strlen(peer);
    memcpy(msg + n, peer, strlen(peer));
    n += strlen(peer);
    memcpy(msg + n, n1, 32);
    n += 32;
    memcpy(msg + n, n2, 32);
    n += 32;
    assert_non_null(HMAC(EVP_sha256(), key, PROTO_KEY_LEN, msg, n, out, &len));
    assert_int_equal(len, 32);
}

struct proof_inputs {
    uint8_t key[PROTO_KEY_LEN];
    uint8_t nc[PROTO_NONCE_LEN]; /* the connecting side's nonce */
    uint8_t ns[PROTO_NONCE_LEN]; /* the accepting side's nonce */
};

static void proof_inputs_init(struct proof_inputs *in)
{
    fill_key(in->key, 0x10);
    memset(in->nc, 0xc1, sizeof(in->nc));
    memset(in->ns, 0x5e, sizeof(in->ns));
}

static void test_auth_proof_matches_reference_layout(void **state)
{
    (void)state;
    struct proof_inputs in;
    uint8_t p[PROTO_PROOF_LEN], ref[PROTO_PROOF_LEN];
    proof_inputs_init(&in);
    proto_auth_proof(in.key, 'C', "client.admin", "osd.3", in.nc, in.ns, p);
    reference_proof(in.key, 'C', "client.admin", "osd.3", in.nc, in.ns, ref);
    assert_memory_equal(p, ref, sizeof(p));
}

/* The client proves itself; the server recomputes with its keyring's copy
 * of the client's key, seeing the names and nonces from the other side. */
static void test_auth_proof_verifies_with_right_key(void **state)
{
    (void)state;
    struct proof_inputs in;
    uint8_t sent[PROTO_PROOF_LEN], want[PROTO_PROOF_LEN];
    proof_inputs_init(&in);
    proto_auth_proof(in.key, 'C', "client.admin", "osd.3", in.nc, in.ns, sent);
    proto_auth_proof(in.key, 'C', "client.admin", "osd.3", in.nc, in.ns, want);
    assert_int_equal(proto_auth_proof_check(sent, want), 0);
    want[31] ^= 1;
    assert_int_equal(proto_auth_proof_check(sent, want), -EACCES);
    want[31] ^= 1;
    want[0] ^= 0x80;
    assert_int_equal(proto_auth_proof_check(sent, want), -EACCES);
}

static void test_auth_proof_differs_for_any_changed_input(void **state)
{
    (void)state;
    struct proof_inputs in;
    uint8_t base[PROTO_PROOF_LEN], p[PROTO_PROOF_LEN], other_key[PROTO_KEY_LEN];
    proof_inputs_init(&in);
    proto_auth_proof(in.key, 'C', "client.admin", "osd.3", in.nc, in.ns, base);

    memcpy(other_key, in.key, sizeof(other_key));
    other_key[5] ^= 1;
    proto_auth_proof(other_key, 'C', "client.admin", "osd.3", in.nc, in.ns, p);
    assert_int_equal(proto_auth_proof_check(base, p), -EACCES); /* wrong key */
    proto_auth_proof(in.key, 'S', "client.admin", "osd.3", in.nc, in.ns, p);
    assert_int_equal(proto_auth_proof_check(base, p), -EACCES); /* reflected */
    proto_auth_proof(in.key, 'C', "client.admin", "osd.3", in.ns, in.nc, p);
    assert_int_equal(proto_auth_proof_check(base, p), -EACCES); /* nonces swapped */
    proto_auth_proof(in.key, 'C', "osd.3", "client.admin", in.nc, in.ns, p);
    assert_int_equal(proto_auth_proof_check(base, p), -EACCES); /* names swapped */
    proto_auth_proof(in.key, 'C', "client.admin", "osd.4", in.nc, in.ns, p);
    assert_int_equal(proto_auth_proof_check(base, p), -EACCES); /* other peer */
}

/* "client.ab" + "c.d" and "client.a" + "bc.d" concatenate to the same bytes;
 * the length prefixes keep their proofs apart. */
static void test_auth_proof_name_boundary_is_unambiguous(void **state)
{
    (void)state;
    struct proof_inputs in;
    uint8_t a[PROTO_PROOF_LEN], b[PROTO_PROOF_LEN];
    proof_inputs_init(&in);
    proto_auth_proof(in.key, 'S', "client.ab", "c.d", in.nc, in.ns, a);
    proto_auth_proof(in.key, 'S', "client.a", "bc.d", in.nc, in.ns, b);
    assert_int_equal(proto_auth_proof_check(a, b), -EACCES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_entity_names),
        cmocka_unit_test(test_auth_base64_roundtrip_and_known_value),
        cmocka_unit_test(test_auth_base64_rejects_anything_but_one_key),
        cmocka_unit_test(test_auth_key_generate_gives_fresh_keys),
        cmocka_unit_test(test_auth_keyring_set_get_replace),
        cmocka_unit_test_setup_teardown(test_auth_keyring_save_load_roundtrip_mode_0600, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_auth_keyring_load_accepts_comments_and_other_settings,
                                        tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_auth_keyring_load_malformed_is_einval, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_auth_keyring_load_missing_file, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test(test_auth_proof_matches_reference_layout),
        cmocka_unit_test(test_auth_proof_verifies_with_right_key),
        cmocka_unit_test(test_auth_proof_differs_for_any_changed_input),
        cmocka_unit_test(test_auth_proof_name_boundary_is_unambiguous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
