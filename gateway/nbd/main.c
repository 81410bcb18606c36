/* cairn-nbd: the command line of the NBD server (docs/nbd.md). Finds and
 * reads the config (operator contract, DESIGN.md §8), connects to the
 * cluster through libcairn, loads the TLS certificate and key if any, then
 * serves every image of one pool under its name until SIGTERM/SIGINT
 * (server.c). Exit status: 0 success, 1 failure (one line on stderr), 2
 * usage. */
#include "common/config.h"
#include "common/log.h"
#include "gateway/daemon.h"
#include "gateway/nbd/internal.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2
#define DEFAULT_LISTEN "127.0.0.1:10809"

struct cli {
    const char *conf;  /* -c/--conf, NULL: the default search */
    const char *name;  /* --name ENTITY */
    const char *tls;   /* --tls MODE, NULL: nbd_tls or the default */
    struct gw_nbd_server_opts srv;
};

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: cairn-nbd [-c CONF] [--name ENTITY] [--pool POOL] [--listen HOST:PORT]...\n"
            "                 [--socket PATH] [--tls-cert FILE --tls-key FILE [--tls-ca FILE]]\n"
            "                 [--tls off|on|require]\n"
            "Serves every image of POOL over NBD as nbd://HOST:PORT/IMAGE.\n"
            "  -c, --conf FILE      config file (else $CAIRN_CONF, ./cairn.conf,\n"
            "                       /etc/cairn/cairn.conf)\n"
            "  -n, --name ENTITY    who we are (default client.admin)\n"
            "  -p, --pool POOL      the pool whose images are exported (default images)\n"
            "  -l, --listen ADDR    TCP HOST:PORT to listen on, repeatable ([::1]:PORT for\n"
            "                       IPv6); default " DEFAULT_LISTEN " unless --socket\n"
            "  -s, --socket PATH    unix socket to listen on\n"
            "      --tls-cert FILE  PEM server certificate (chain) for NBD_OPT_STARTTLS\n"
            "      --tls-key FILE   PEM private key of --tls-cert\n"
            "      --tls-ca FILE    PEM CA(s): clients must present a certificate it signed\n"
            "      --tls MODE       off (default without a certificate), on (TLS offered,\n"
            "                       plain clients served) or require (the default with one)\n"
            "Exit status: 0 after SIGTERM/SIGINT, 1 failure, 2 usage error.\n");
}

#define PROG "cairn-nbd"
#define fail(...) cairn_fail(PROG, __VA_ARGS__)

enum { OPT_TLS_CERT = 256, OPT_TLS_KEY, OPT_TLS_CA, OPT_TLS };

static int parse_tls_mode(const char *s, enum gw_nbd_tls_mode *mode)
{
    if (strcmp(s, "off") == 0)
        *mode = GW_NBD_TLS_OFF;
    else if (strcmp(s, "on") == 0)
        *mode = GW_NBD_TLS_ON;
    else if (strcmp(s, "require") == 0)
        *mode = GW_NBD_TLS_REQUIRE;
    else
        return -EINVAL;
    return 0;
}

static int parse_args(int argc, char **argv, struct cli *cli)
{
    static const struct option longopts[] = {
        {"conf", required_argument, NULL, 'c'},   {"name", required_argument, NULL, 'n'},
        {"pool", required_argument, NULL, 'p'},   {"listen", required_argument, NULL, 'l'},
        {"socket", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"tls-ca", required_argument, NULL, OPT_TLS_CA},
        {"tls", required_argument, NULL, OPT_TLS},
        {NULL, 0, NULL, 0},
    };
    enum gw_nbd_tls_mode mode;
    int c;

    while ((c = getopt_long(argc, argv, "c:n:p:l:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cli->conf = optarg;
            break;
        case 'n':
            cli->name = optarg;
            break;
        case 'p':
            cli->srv.pool = optarg;
            break;
        case 'l':
            if (cli->srv.n_listen == GW_NBD_LISTENERS_MAX)
                return -E2BIG;
            cli->srv.listen[cli->srv.n_listen++] = optarg;
            break;
        case 's':
            cli->srv.socket = optarg;
            break;
        case OPT_TLS_CERT:
            cli->srv.tls_cert = optarg;
            break;
        case OPT_TLS_KEY:
            cli->srv.tls_key = optarg;
            break;
        case OPT_TLS_CA:
            cli->srv.tls_ca = optarg;
            break;
        case OPT_TLS:
            if (parse_tls_mode(optarg, &mode) < 0)
                return -EINVAL;
            cli->tls = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_SUCCESS);
        default:
            return -EINVAL;
        }
    }
    if (optind != argc || !*cli->srv.pool)
        return -EINVAL;
    if (cli->srv.n_listen == 0 && !cli->srv.socket)
        cli->srv.listen[cli->srv.n_listen++] = DEFAULT_LISTEN;
    return 0;
}

/* TLS settings: the command line, else the entity's nbd_tls_* keys. 0, or
 * 1 with the reason on stderr. */
static int resolve_tls(const struct cairn_config *conf, struct cli *cli)
{
    struct gw_nbd_server_opts *o = &cli->srv;
    const char *mode;

    if (!o->tls_cert)
        o->tls_cert = cairn_config_get(conf, cli->name, "nbd_tls_cert");
    if (!o->tls_key)
        o->tls_key = cairn_config_get(conf, cli->name, "nbd_tls_key");
    if (!o->tls_ca)
        o->tls_ca = cairn_config_get(conf, cli->name, "nbd_tls_ca");
    mode = cli->tls ? cli->tls : cairn_config_get(conf, cli->name, "nbd_tls");
    if (!mode)
        mode = o->tls_cert ? "require" : "off";
    if (parse_tls_mode(mode, &o->tls) < 0)
        return fail("nbd_tls: bad mode '%s' (off, on or require)", mode);
    if (o->tls != GW_NBD_TLS_OFF && (!o->tls_cert || !o->tls_key))
        return fail("TLS mode %s needs a certificate and its key (--tls-cert and --tls-key, "
                    "or nbd_tls_cert and nbd_tls_key)",
                    mode);
    if (o->tls == GW_NBD_TLS_OFF && o->tls_ca)
        return fail("a TLS CA (--tls-ca, nbd_tls_ca) is set but TLS is off");
    return 0;
}

int main(int argc, char **argv)
{
    struct cli cli = {.name = CAIRN_DEFAULT_ENTITY, .srv.pool = CAIRN_IMAGE_DEFAULT_POOL};
    struct cairn_config *conf = NULL;
    struct gw_nbd_server *srv = NULL;
    struct cairn *cairn = NULL;
    int rc = EXIT_FAILURE;

    if (parse_args(argc, argv, &cli) < 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (gw_daemon_config(PROG, cli.conf, cli.name, &conf) != 0 || resolve_tls(conf, &cli) != 0 ||
        gw_daemon_connect(PROG, cli.conf, cli.name, &cairn) != 0)
        goto out;
    cli.srv.cairn = cairn;
    if (gw_nbd_server_create(&cli.srv, &srv) < 0)
        goto out; /* the reason is on stderr */
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_GATEWAY, "nbd: serving pool %s", cli.srv.pool);
    if (gw_nbd_server_run(srv) < 0) {
        fail("event loop failed");
        goto out;
    }
    rc = EXIT_SUCCESS;
out:
    gw_nbd_server_destroy(srv);
    gw_daemon_end(cairn, conf);
    return rc;
}
