/* cairn-vhost: the command line of the vhost-user-blk backend
 * (docs/vhost.md). Finds and reads the config (operator contract,
 * DESIGN.md §8), connects to the cluster, opens the image, then serves it
 * on one vhost-user unix socket until SIGTERM/SIGINT (server.c). Exit
 * status: 0 success, 1 failure (one line on stderr), 2 usage. */
#include "common/log.h"
#include "gateway/daemon.h"
#include "gateway/vhost/internal.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2

struct cli {
    const char *conf;  /* -c/--conf, NULL: the default search */
    const char *name;  /* --name ENTITY */
    struct gw_vhost_server_opts srv;
};

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: cairn-vhost [-c CONF] [--name ENTITY] [--pool POOL] --image NAME\n"
            "                   --socket PATH [--queues N] [--read-only]\n"
            "Serves image NAME as a vhost-user-blk device on unix socket PATH, for QEMU's\n"
            "-chardev socket,path=PATH -device vhost-user-blk-pci,chardev=...\n"
            "  -c, --conf FILE      config file (else $CAIRN_CONF, ./cairn.conf,\n"
            "                       /etc/cairn/cairn.conf)\n"
            "  -n, --name ENTITY    who we are (default client.admin)\n"
            "  -p, --pool POOL      the image's pool (default images)\n"
            "  -i, --image NAME     the image to serve\n"
            "  -s, --socket PATH    the vhost-user socket to listen on\n"
            "  -q, --queues N       virtqueues offered, 1..%u (default 4)\n"
            "      --read-only      refuse writes (VIRTIO_BLK_F_RO)\n"
            "Exit status: 0 after SIGTERM/SIGINT, 1 failure, 2 usage error.\n",
            GW_VHOST_QUEUES_MAX);
}

#define PROG "cairn-vhost"
#define fail(...) cairn_fail(PROG, __VA_ARGS__)

enum { OPT_READ_ONLY = 256 };

static int parse_args(int argc, char **argv, struct cli *cli)
{
    static const struct option longopts[] = {
        {"conf", required_argument, NULL, 'c'},   {"name", required_argument, NULL, 'n'},
        {"pool", required_argument, NULL, 'p'},   {"image", required_argument, NULL, 'i'},
        {"socket", required_argument, NULL, 's'}, {"queues", required_argument, NULL, 'q'},
        {"read-only", no_argument, NULL, OPT_READ_ONLY},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    char *end;
    long v;
    int c;

    while ((c = getopt_long(argc, argv, "c:n:p:i:s:q:h", longopts, NULL)) != -1) {
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
        case 'i':
            cli->srv.image = optarg;
            break;
        case 's':
            cli->srv.socket = optarg;
            break;
        case 'q':
            v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > (long)GW_VHOST_QUEUES_MAX)
                return -EINVAL;
            cli->srv.num_queues = (unsigned)v;
            break;
        case OPT_READ_ONLY:
            cli->srv.read_only = true;
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_SUCCESS);
        default:
            return -EINVAL;
        }
    }
    if (optind != argc || !cli->srv.image || !cli->srv.socket || !*cli->srv.pool)
        return -EINVAL;
    return 0;
}

int main(int argc, char **argv)
{
    struct cli cli = {.name = CAIRN_DEFAULT_ENTITY,
                      .srv = {.pool = CAIRN_IMAGE_DEFAULT_POOL, .num_queues = 4}};
    struct cairn_config *conf = NULL;
    struct gw_vhost_server *srv = NULL;
    struct cairn *cairn = NULL;
    int rc = EXIT_FAILURE;

    if (parse_args(argc, argv, &cli) < 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (gw_daemon_config(PROG, cli.conf, cli.name, &conf) != 0 ||
        gw_daemon_connect(PROG, cli.conf, cli.name, &cairn) != 0)
        goto out;
    cli.srv.cairn = cairn;
    if (gw_vhost_server_create(&cli.srv, &srv) < 0)
        goto out; /* the reason is on stderr */
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_GATEWAY, "vhost: serving image %s/%s on %s (%u queues)",
              cli.srv.pool, cli.srv.image, cli.srv.socket, cli.srv.num_queues);
    if (gw_vhost_server_run(srv) < 0) {
        fail("event loop failed");
        goto out;
    }
    rc = EXIT_SUCCESS;
out:
    gw_vhost_server_destroy(srv);
    gw_daemon_end(cairn, conf);
    return rc;
}
