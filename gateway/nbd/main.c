/* cairn-nbd: the command line of the NBD server (docs/nbd.md). Finds and
 * reads the config (operator contract, DESIGN.md §8), connects to the
 * cluster through libcairn, then serves every image of one pool under its
 * name until SIGTERM/SIGINT (server.c). Exit status: 0 success, 1 failure
 * (one line on stderr), 2 usage. */
#include "common/config.h"
#include "common/log.h"
#include "gateway/nbd/internal.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2
#define DEFAULT_LISTEN "127.0.0.1:10809"

struct cli {
    const char *conf;  /* -c/--conf, NULL: the default search */
    const char *name;  /* --name ENTITY */
    struct gw_nbd_server_opts srv;
};

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: cairn-nbd [-c CONF] [--name ENTITY] [--pool POOL] [--listen HOST:PORT]...\n"
            "                 [--socket PATH]\n"
            "Serves every image of POOL over NBD as nbd://HOST:PORT/IMAGE.\n"
            "  -c, --conf FILE      config file (else $CAIRN_CONF, ./cairn.conf,\n"
            "                       /etc/cairn/cairn.conf)\n"
            "  -n, --name ENTITY    who we are (default client.admin)\n"
            "  -p, --pool POOL      the pool whose images are exported (default images)\n"
            "  -l, --listen ADDR    TCP HOST:PORT to listen on, repeatable ([::1]:PORT for\n"
            "                       IPv6); default " DEFAULT_LISTEN " unless --socket\n"
            "  -s, --socket PATH    unix socket to listen on\n"
            "Exit status: 0 after SIGTERM/SIGINT, 1 failure, 2 usage error.\n");
}

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
    va_list ap;

    fputs("cairn-nbd: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAILURE;
}

static int parse_args(int argc, char **argv, struct cli *cli)
{
    static const struct option longopts[] = {
        {"conf", required_argument, NULL, 'c'},   {"name", required_argument, NULL, 'n'},
        {"pool", required_argument, NULL, 'p'},   {"listen", required_argument, NULL, 'l'},
        {"socket", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
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

static int connect_cluster(const struct cli *cli, struct cairn **out)
{
    char err[512] = "";
    struct cairn_connect_opts o = {
        .conf_path = cli->conf, .entity = cli->name, .err = err, .err_len = sizeof(err)};
    int r = cairn_connect_opts(&o, out);

    if (r < 0)
        return fail("cannot connect to the cluster: %s", err[0] ? err : strerror(-r));
    return 0;
}

int main(int argc, char **argv)
{
    struct cli cli = {.name = CAIRN_DEFAULT_ENTITY, .srv.pool = CAIRN_IMAGE_DEFAULT_POOL};
    struct cairn_config *conf = NULL;
    struct gw_nbd_server *srv = NULL;
    struct cairn *cairn = NULL;
    char err[512];
    int rc = EXIT_FAILURE;

    if (parse_args(argc, argv, &cli) < 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (cairn_config_open(cli.conf, &conf, err, sizeof(err)) < 0 ||
        cairn_config_apply_logging(conf, cli.name, err, sizeof(err)) < 0) {
        fail("%s", err);
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    if (connect_cluster(&cli, &cairn) < 0)
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
    if (cairn)
        cairn_shutdown(cairn);
    if (conf)
        cairn_config_destroy(conf);
    return rc;
}
