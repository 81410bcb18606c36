/* cairn-mon: the command line of the monitor daemon. Finds and reads the
 * config (operator contract, DESIGN.md §8), sets up logging, loads the
 * keyring, then either creates the monitor's data directory (--mkfs) or
 * runs the daemon (daemon.c) in the foreground until SIGTERM/SIGINT.
 * Exit status: 0 success, 1 failure (one line on stderr), 2 usage. */
#include "common/config.h"
#include "common/log.h"
#include "monitor/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/monc.h"

#define EXIT_USAGE 2

struct cli {
    const char *conf; /* -c/--conf, NULL: the default search */
    const char *name; /* --name mon.NAME */
    bool mkfs, join, gen_key;
};

static void usage(FILE *fp)
{
    fprintf(fp, "usage: cairn-mon --name mon.NAME [-c CONF] [--foreground]\n"
                "       cairn-mon --name mon.NAME [-c CONF] --mkfs [--join]\n"
                "  -c, --conf FILE   config file (else $CAIRN_CONF, ./cairn.conf,\n"
                "                    /etc/cairn/cairn.conf)\n"
                "  --name mon.NAME   which monitor this is (required)\n"
                "  --mkfs            create the data dir (mon_data) from fsid and mon_host\n"
                "  --join            with --mkfs: an empty monitor that gets its state from\n"
                "                    the leader after 'cairn mon add NAME ADDR'\n"
                "  --foreground      accepted for compatibility; cairn-mon never daemonizes\n");
}

#define fail(...) cairn_fail("cairn-mon", __VA_ARGS__)

static int parse_args(int argc, char **argv, struct cli *cli)
{
    enum { OPT_NAME = 256, OPT_MKFS, OPT_JOIN, OPT_FG, OPT_GEN_KEY };
    static const struct option longopts[] = {
        {"conf", required_argument, NULL, 'c'},    {"name", required_argument, NULL, OPT_NAME},
        {"mkfs", no_argument, NULL, OPT_MKFS},     {"join", no_argument, NULL, OPT_JOIN},
        {"foreground", no_argument, NULL, OPT_FG}, {"gen-key", no_argument, NULL, OPT_GEN_KEY},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cli->conf = optarg;
            break;
        case OPT_NAME:
            cli->name = optarg;
            break;
        case OPT_MKFS:
            cli->mkfs = true;
            break;
        case OPT_JOIN:
            cli->join = true;
            break;
        case OPT_FG:
            break;
        case OPT_GEN_KEY: /* hidden: for tests and deploy tooling */
            cli->gen_key = true;
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_SUCCESS);
        default:
            return -EINVAL;
        }
    }
    if (optind != argc || (cli->join && !cli->mkfs) || (!cli->gen_key && !cli->name))
        return -EINVAL;
    return 0;
}

/* ---- config -------------------------------------------------------------- */

static int opt_u32(const struct cairn_config *conf, const char *entity, const char *key,
                   uint64_t def, uint64_t min, uint64_t max, uint32_t *out)
{
    uint64_t v;
    int r = cairn_config_get_u64(conf, entity, key, def, &v);

    if ((r < 0 && r != -ENOENT) || v < min || v > max)
        return fail("config: %s must be a number in %llu..%llu", key, (unsigned long long)min,
                    (unsigned long long)max);
    *out = (uint32_t)v;
    return 0;
}

static int opt_ms(const struct cairn_config *conf, const char *entity, const char *key,
                  uint64_t def, uint64_t *out)
{
    int r = cairn_config_get_ms(conf, entity, key, def, out);

    if (r < 0 && r != -ENOENT)
        return fail("config: %s is not a duration", key);
    return 0;
}

static int load_monitors(const struct cairn_config *conf, struct mon_opts *o)
{
    const char *hosts = cairn_config_get(conf, o->entity, "mon_host");
    const char *addr = cairn_config_get(conf, o->entity, "mon_addr");
    char err[128];

    if (hosts && proto_monc_parse_mon_host(hosts, o->conf_mons, PROTO_MAP_MAX_MONS, &o->n_conf_mons,
                                           err, sizeof(err)) < 0)
        return fail("config: mon_host: %s", err);
    for (uint32_t i = 0; !addr && i < o->n_conf_mons; i++)
        if (strcmp(o->conf_mons[i].name, o->name) == 0)
            addr = o->conf_mons[i].addr;
    if (!addr)
        return fail("config: no address for %s (set mon_addr or list it in mon_host)", o->entity);
    if (strlen(addr) >= sizeof(o->listen_addr))
        return fail("config: address of %s too long", o->entity);
    strcpy(o->listen_addr, addr);
    return 0;
}

static int load_timing(const struct cairn_config *conf, struct mon_opts *o)
{
    const char *e = o->entity;
    uint64_t tick_ms = 100, every = 1000;
    bool test = false;

    if (opt_ms(conf, e, "mon_tick_interval", 100, &tick_ms) || tick_ms < 10 || tick_ms > 10000)
        return fail("config: mon_tick_interval must be 10ms..10s");
    o->tick_ms = (uint32_t)tick_ms;
    if (opt_u32(conf, e, "mon_election_ticks", 10, 2, 1000, &o->election_ticks) ||
        opt_u32(conf, e, "mon_heartbeat_ticks", 1, 1, o->election_ticks - 1, &o->heartbeat_ticks))
        return EXIT_FAILURE;
    if ((cairn_config_get_u64(conf, e, "mon_snapshot_every", 1000, &every) == -EINVAL) ||
        every == 0)
        return fail("config: mon_snapshot_every must be a positive number");
    o->snapshot_every = every;
    mon_failure_opts_default(&o->failure);
    if (opt_ms(conf, e, "mon_osd_down_grace", 6000, &o->failure.down_grace_ms) ||
        opt_ms(conf, e, "mon_osd_out_after", 60000, &o->failure.out_after_ms))
        return EXIT_FAILURE;
    if (cairn_config_get_bool(conf, e, "mon_allow_test_commands", false, &test) == -EINVAL)
        return fail("config: mon_allow_test_commands is not a boolean");
    o->allow_test_commands = test;
    return 0;
}

static int load_opts(const struct cairn_config *conf, const char *entity, struct mon_opts *o)
{
    const char *fsid = cairn_config_get(conf, entity, "fsid");
    const char *dir = cairn_config_get(conf, entity, "mon_data");

    memset(o, 0, sizeof(*o));
    if (strncmp(entity, "mon.", 4) != 0 || !proto_entity_is_valid(entity) ||
        !proto_map_name_is_valid(entity + 4))
        return fail("--name must be mon.NAME, not '%s'", entity);
    snprintf(o->entity, sizeof(o->entity), "%s", entity);
    snprintf(o->name, sizeof(o->name), "%s", entity + 4);
    if (fsid && cairn_parse_uuid(fsid, o->fsid) < 0)
        return fail("config: fsid '%s' is not a UUID", fsid);
    if (dir && strlen(dir) >= sizeof(o->data_dir))
        return fail("config: mon_data too long");
    if (dir)
        strcpy(o->data_dir, dir);
    else
        snprintf(o->data_dir, sizeof(o->data_dir), "/var/lib/cairn/%s", entity);
    if (load_monitors(conf, o) || load_timing(conf, o))
        return EXIT_FAILURE;
    return 0;
}

static int setup(const struct cli *cli, struct cairn_config **conf)
{
    char err[PATH_MAX + 160];

    if (cairn_config_open(cli->conf, conf, err, sizeof(err)) < 0 ||
        cairn_config_apply_logging(*conf, cli->name, err, sizeof(err)) < 0)
        return fail("%s", err);
    return 0;
}

/* ---- actions ------------------------------------------------------------- */

static int gen_key(void)
{
    uint8_t key[PROTO_KEY_LEN];
    char b64[45];

    if (proto_key_generate(key) < 0)
        return fail("cannot generate a key");
    proto_key_to_base64(key, b64);
    printf("%s\n", b64);
    return EXIT_SUCCESS;
}

static int do_mkfs(const struct cairn_config *conf, const struct mon_opts *o, bool join)
{
    static const uint8_t zero[16];

    if (!cairn_config_get(conf, o->entity, "fsid") || memcmp(o->fsid, zero, 16) == 0)
        return fail("config: --mkfs needs fsid (a UUID) in [global]");
    if (!join && o->n_conf_mons == 0)
        return fail("config: --mkfs needs mon_host (NAME=ADDR,...)");
    char why[256] = "";
    int r = mon__mkfs(o, join, why, sizeof(why));
    if (r < 0)
        return fail("mkfs of %s failed: %s", o->entity, why[0] ? why : strerror(-r));
    printf("created %s in %s%s\n", o->entity, o->data_dir,
           join ? " (joining: run 'cairn mon add' on the cluster)" : "");
    return EXIT_SUCCESS;
}

static void pid_file(const struct mon_opts *o, bool create)
{
    char path[PATH_MAX + 8];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/pid", o->data_dir);
    if (!create) {
        unlink(path);
        return;
    }
    if ((fp = fopen(path, "w"))) {
        fprintf(fp, "%ld\n", (long)getpid());
        fclose(fp);
    }
}

static int load_keyrings(const struct cairn_config *conf, const struct mon_opts *o,
                         struct proto_keyring **kr, struct proto_keyring **file_kr)
{
    const char *path = cairn_config_get(conf, o->entity, "keyring");
    int r;

    if (!path)
        return fail("config: no keyring path (option keyring)");
    if ((r = proto_keyring_load(path, kr)) < 0)
        return fail("keyring %s: %s", path, strerror(-r));
    if ((r = proto_keyring_load(path, file_kr)) < 0) {
        proto_keyring_destroy(*kr);
        return fail("keyring %s: %s", path, strerror(-r));
    }
    return 0;
}

static int run(const struct cairn_config *conf, const struct mon_opts *o)
{
    struct proto_keyring *kr, *file_kr;
    struct mon_daemon *d;

    if (load_keyrings(conf, o, &kr, &file_kr))
        return EXIT_FAILURE;
    int r = mon__daemon_open(o, kr, file_kr, &d);
    if (r < 0)
        return fail("%s failed to start: %s (details in the log)", o->entity, strerror(-r));
    pid_file(o, true);
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_MON, "%s up on %s, data in %s", o->entity, o->listen_addr,
              o->data_dir);
    r = mon__daemon_run(d);
    mon__daemon_close(d);
    pid_file(o, false);
    if (r < 0)
        return fail("%s stopped: %s", o->entity, strerror(-r));
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_MON, "%s stopped", o->entity);
    return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
    struct cli cli = {0};
    struct cairn_config *conf = NULL;
    struct mon_opts *o = NULL;
    int status;

    if (parse_args(argc, argv, &cli) < 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (cli.gen_key)
        return gen_key();
    signal(SIGPIPE, SIG_IGN);
    if (setup(&cli, &conf)) {
        cairn_config_destroy(conf);
        return EXIT_FAILURE;
    }
    if (!(o = malloc(sizeof(*o))))
        status = fail("out of memory");
    else if (load_opts(conf, cli.name, o))
        status = EXIT_FAILURE;
    else
        status = cli.mkfs ? do_mkfs(conf, o, cli.join) : run(conf, o);
    free(o);
    cairn_config_destroy(conf);
    return status;
}
