/* cairn-osd: the command line of the storage daemon. Finds and reads the
 * config (operator contract, DESIGN.md §8), sets up logging, then either
 * creates the OSD's store (--mkfs) or runs the daemon (daemon.c) in the
 * foreground until SIGTERM/SIGINT. Options: docs/config.md, docs/osd.md.
 * Exit status: 0 success, 1 failure (one line on stderr), 2 usage. */
#include "common/config.h"
#include "common/log.h"
#include "osd/internal.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/monc.h"

#define EXIT_USAGE 2

struct cli {
    const char *conf; /* -c/--conf, NULL: the default search */
    const char *name; /* --name osd.N */
    bool mkfs;
};

static void usage(FILE *fp)
{
    fprintf(fp, "usage: cairn-osd --name osd.N [-c CONF] [--mkfs]\n"
                "  -c, --conf FILE   config file (else $CAIRN_CONF, ./cairn.conf,\n"
                "                    /etc/cairn/cairn.conf)\n"
                "  --name osd.N      which OSD this is (required)\n"
                "  --mkfs            create the OSD's store at store_path and exit\n"
                "  --foreground      accepted for compatibility; cairn-osd never daemonizes\n");
}

#define fail(...) cairn_fail("cairn-osd", __VA_ARGS__)

static int parse_args(int argc, char **argv, struct cli *cli)
{
    enum { OPT_NAME = 256, OPT_MKFS, OPT_FG };
    static const struct option longopts[] = {
        {"conf", required_argument, NULL, 'c'}, {"name", required_argument, NULL, OPT_NAME},
        {"mkfs", no_argument, NULL, OPT_MKFS},  {"foreground", no_argument, NULL, OPT_FG},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
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
        case OPT_FG:
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_SUCCESS);
        default:
            return -EINVAL;
        }
    }
    return optind != argc || !cli->name ? -EINVAL : 0;
}

/* ---- config -------------------------------------------------------------- */

/* The machine's short host name, made a valid map name. */
static void default_host(char *out, size_t len)
{
    char h[256] = "";
    size_t n = 0;

    if (gethostname(h, sizeof(h) - 1) < 0)
        h[0] = '\0';
    for (const char *p = h; *p && *p != '.' && n + 1 < len && n < 63; p++)
        out[n++] = isalnum((unsigned char)*p) || *p == '_' || *p == '-' ? *p : '-';
    out[n] = '\0';
    if (n == 0 || out[0] == '-')
        snprintf(out, len, "localhost");
}

static int opt_ms(const struct cairn_config *conf, const char *e, const char *key, uint64_t def,
                  uint64_t min, uint64_t *out)
{
    int r = cairn_config_get_ms(conf, e, key, def, out);

    if ((r < 0 && r != -ENOENT) || *out < min || *out > 3600000u)
        return fail("config: %s must be a duration of %llums..1h", key, (unsigned long long)min);
    return 0;
}

/* A scrub interval: a duration up to a year, 0 for never. */
static int opt_interval(const struct cairn_config *conf, const char *e, const char *key,
                        uint64_t def, uint64_t *out)
{
    int r = cairn_config_get_ms(conf, e, key, def, out);

    if ((r < 0 && r != -ENOENT) || *out > 8760ull * 3600000u)
        return fail("config: %s must be a duration of 0 (never)..8760h", key);
    return 0;
}

static int load_scrub(const struct cairn_config *conf, struct osd_opts *o)
{
    if (opt_interval(conf, o->entity, "osd_scrub_interval", 24ull * 3600000u,
                     &o->scrub_interval_ms) ||
        opt_interval(conf, o->entity, "osd_deep_scrub_interval", 7ull * 24 * 3600000u,
                     &o->deep_scrub_interval_ms))
        return EXIT_FAILURE;
    return 0;
}

static int load_weight(const struct cairn_config *conf, struct osd_opts *o)
{
    const char *w = cairn_config_get(conf, o->entity, "osd_weight");
    char *end;

    o->weight = PROTO_MAP_WEIGHT_ONE;
    if (!w)
        return 0;
    double v = strtod(w, &end);
    if (end == w || *end || !(v > 0) || v > 65535.0)
        return fail("config: osd_weight '%s' must be a number in (0, 65535]", w);
    o->weight = (uint32_t)lround(v * PROTO_MAP_WEIGHT_ONE);
    if (o->weight == 0)
        o->weight = 1;
    return 0;
}

static int load_store(const struct cairn_config *conf, struct osd_opts *o)
{
    const char *e = o->entity, *path = cairn_config_get(conf, e, "store_path");
    const char *backend = cairn_config_get(conf, e, "store_backend");
    uint64_t size, reserve;

    osd_store_opts_default(&o->store);
    if (path && strlen(path) >= sizeof(o->store_path))
        return fail("config: store_path too long");
    snprintf(o->store_path, sizeof(o->store_path), "%s", path ? path : "");
    if (!path)
        snprintf(o->store_path, sizeof(o->store_path), "/var/lib/cairn/%s", e);
    if (cairn_config_get_size(conf, e, "store_data_size", o->store.data_size_bytes, &size) ==
        -EINVAL)
        return fail("config: store_data_size is not a size");
    if (cairn_config_get_size(conf, e, "store_meta_reserve", o->store.meta_reserve_bytes,
                              &reserve) == -EINVAL)
        return fail("config: store_meta_reserve is not a size");
    o->store.data_size_bytes = size;
    o->store.meta_reserve_bytes = reserve;
    if (backend && osd_io_backend_parse(backend, &o->store.backend) < 0)
        return fail("config: store_backend '%s' is not uring, aio or sync", backend);
    if (!backend)
        o->store.backend = osd_io_backend_default();
    return 0;
}

static int load_net(const struct cairn_config *conf, struct osd_opts *o)
{
    const char *e = o->entity, *hosts = cairn_config_get(conf, e, "mon_host");
    const char *addr = cairn_config_get(conf, e, "osd_addr");
    const char *host = cairn_config_get(conf, e, "osd_host");
    char err[128];

    if (!hosts)
        return fail("config: no mon_host (NAME=ADDR,...)");
    if (proto_monc_parse_mon_host(hosts, o->mons, PROTO_MAP_MAX_MONS, &o->n_mons, err,
                                  sizeof(err)) < 0)
        return fail("config: mon_host: %s", err);
    if (addr && strlen(addr) >= sizeof(o->addr))
        return fail("config: osd_addr too long");
    snprintf(o->addr, sizeof(o->addr), "%s", addr ? addr : "127.0.0.1:0");
    if (host && !proto_map_name_is_valid(host))
        return fail("config: osd_host '%s' is not a valid name ([A-Za-z0-9_.-], 1..63)", host);
    if (host)
        snprintf(o->host, sizeof(o->host), "%s", host);
    else
        default_host(o->host, sizeof(o->host));
    return 0;
}

static int load_opts(const struct cairn_config *conf, const char *entity, struct osd_opts *o)
{
    const char *fsid = cairn_config_get(conf, entity, "fsid");
    char *end;

    memset(o, 0, sizeof(*o));
    long id = strncmp(entity, "osd.", 4) == 0 && entity[4] >= '0' && entity[4] <= '9'
                  ? strtol(entity + 4, &end, 10)
                  : -1;
    if (id < 0 || *end || id >= (long)PROTO_MAP_MAX_OSDS)
        return fail("--name must be osd.N (N in 0..%u), not '%s'", PROTO_MAP_MAX_OSDS - 1, entity);
    o->id = (int32_t)id;
    snprintf(o->entity, sizeof(o->entity), "osd.%d", o->id);
    if (fsid && cairn_parse_uuid(fsid, o->fsid) < 0)
        return fail("config: fsid '%s' is not a UUID", fsid);
    o->has_fsid = fsid != NULL;
    if (load_store(conf, o) || load_net(conf, o) || load_weight(conf, o))
        return EXIT_FAILURE;
    if (opt_ms(conf, entity, "osd_beacon_interval", 1000, 100, &o->beacon_ms) ||
        opt_ms(conf, entity, "osd_heartbeat_interval", 1000, 100, &o->hb_interval_ms) ||
        opt_ms(conf, entity, "osd_heartbeat_grace", 5000, 200, &o->hb_grace_ms))
        return EXIT_FAILURE;
    uint64_t active;
    int r = cairn_config_get_u64(conf, entity, "osd_recovery_max_active", OSD_RECOVERY_MAX_DEFAULT,
                                 &active);
    if ((r < 0 && r != -ENOENT) || active < 1 || active > 256)
        return fail("config: osd_recovery_max_active must be a number of 1..256");
    o->recovery_max = (unsigned)active;
    return load_scrub(conf, o);
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

static int do_mkfs(const struct osd_opts *o)
{
    char why[PATH_MAX + 128] = "";

    if (!o->has_fsid)
        return fail("config: --mkfs needs fsid (the cluster's UUID) in [global]");
    if (osd__mkfs(o, why, sizeof(why)) < 0)
        return fail("mkfs of %s failed: %s", o->entity, why);
    printf("created %s in %s\n", o->entity, o->store_path);
    return EXIT_SUCCESS;
}

static int run(const struct cairn_config *conf, const struct osd_opts *o)
{
    const char *path = cairn_config_get(conf, o->entity, "keyring");
    struct proto_keyring *kr;
    struct osd_daemon *d;
    int r;

    if (!path)
        return fail("config: no keyring path (option keyring)");
    if ((r = proto_keyring_load(path, &kr)) < 0)
        return fail("keyring %s: %s", path, strerror(-r));
    if ((r = osd__daemon_open(o, kr, &d)) < 0)
        return fail("%s failed to start: %s (details in the log)", o->entity, strerror(-r));
    r = osd__daemon_run(d);
    osd__daemon_close(d);
    if (r < 0)
        return fail("%s stopped: %s", o->entity, strerror(-r));
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD, "%s stopped", o->entity);
    return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
    struct cli cli = {0};
    struct cairn_config *conf = NULL;
    struct osd_opts *o = NULL;
    int status;

    if (parse_args(argc, argv, &cli) < 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
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
        status = cli.mkfs ? do_mkfs(o) : run(conf, o);
    free(o);
    cairn_config_destroy(conf);
    return status;
}
