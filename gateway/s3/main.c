/* cairn-s3: the command line of the S3 gateway (docs/s3.md). Finds and
 * reads the config (operator contract, DESIGN.md §8), connects to the
 * cluster, makes sure its pool exists, then serves S3 over HTTP on
 * --listen until SIGTERM/SIGINT. The server lives on libcairn's loop thread
 * (cairn_loop_call), so HTTP and cluster completions share one thread; the
 * main thread only waits for the signal. Exit status: 0 after a signal, 1
 * failure (one line on stderr), 2 usage. */
#include "client/cairn_admin.h"
#include "common/log.h"
#include "gateway/daemon.h"
#include "gateway/s3/internal.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define EXIT_USAGE 2
#define PROG "cairn-s3"
#define fail(...) cairn_fail(PROG, __VA_ARGS__)

struct cli {
    const char *conf, *name, *pool, *listen, *region, *domain, *cert, *key;
};

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: cairn-s3 [-c CONF] [--name ENTITY] [--pool POOL] [--listen HOST:PORT]\n"
            "                [--region REGION] [--domain DOMAIN] [--tls-cert PEM --tls-key PEM]\n"
            "Serves the S3 API over HTTP/1.1 from the objects of POOL.\n"
            "  -c, --conf FILE      config file (else $CAIRN_CONF, ./cairn.conf,\n"
            "                       /etc/cairn/cairn.conf)\n"
            "  -n, --name ENTITY    who we are (default client.admin)\n"
            "  -p, --pool POOL      where buckets and objects live (default s3, created\n"
            "                       on first use)\n"
            "  -l, --listen H:P     address to serve on (default 127.0.0.1:7480)\n"
            "      --region R       the region we are (default us-east-1)\n"
            "      --domain D       virtual-host-style addressing for BUCKET.D (default\n"
            "                       localhost; \"\" turns it off)\n"
            "      --tls-cert FILE  serve HTTPS with this certificate chain (PEM)...\n"
            "      --tls-key FILE   ...and this private key (PEM)\n"
            "Users and keys: cairn s3 user create|ls|rm|key. Exit status: 0 after\n"
            "SIGTERM/SIGINT, 1 failure, 2 usage error.\n");
}

enum { OPT_REGION = 256, OPT_DOMAIN, OPT_CERT, OPT_KEY };

static int parse_args(int argc, char **argv, struct cli *cli)
{
    static const struct option longopts[] = {
        {"conf", required_argument, NULL, 'c'},     {"name", required_argument, NULL, 'n'},
        {"pool", required_argument, NULL, 'p'},     {"listen", required_argument, NULL, 'l'},
        {"region", required_argument, NULL, OPT_REGION},
        {"domain", required_argument, NULL, OPT_DOMAIN},
        {"tls-cert", required_argument, NULL, OPT_CERT},
        {"tls-key", required_argument, NULL, OPT_KEY},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "c:n:p:l:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': cli->conf = optarg; break;
        case 'n': cli->name = optarg; break;
        case 'p': cli->pool = optarg; break;
        case 'l': cli->listen = optarg; break;
        case OPT_REGION: cli->region = optarg; break;
        case OPT_DOMAIN: cli->domain = optarg; break;
        case OPT_CERT: cli->cert = optarg; break;
        case OPT_KEY: cli->key = optarg; break;
        case 'h':
            usage(stdout);
            exit(EXIT_SUCCESS);
        default:
            return -EINVAL;
        }
    }
    if (optind != argc || !*cli->pool || !*cli->region ||
        strlen(cli->region) > GW_S3_REGION_MAX || strlen(cli->domain) >= 256 ||
        !cli->cert != !cli->key)
        return -EINVAL;
    return 0;
}

/* The pool, created with the monitor's defaults when it is the default
 * one and missing (as images are). */
static int ensure_pool(struct cairn *c, const char *name, int32_t *pool)
{
    struct proto_mon_cmd cmd;
    struct proto_mon_reply reply;
    int r = cairn_pool_lookup(c, name, pool);

    if (r == -ENOENT && strcmp(name, GW_S3_POOL_DEFAULT) == 0) {
        proto_mon_cmd_init(&cmd, PROTO_MON_POOL_CREATE);
        snprintf(cmd.name, sizeof(cmd.name), "%s", name);
        (void)cairn_mon_command(c, &cmd, &reply); /* a racing creator may win */
        r = cairn_pool_lookup(c, name, pool);
    }
    return r;
}

static SSL_CTX *tls_context(const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

struct start_args {
    struct s3_gw *gw;
    struct gw_http_config http;
};

static int start_on_loop(struct event_base *base, void *arg)
{
    struct start_args *a = arg;

    a->gw->base = base;
    return s3__server_start(a->gw, &a->http);
}

static int stop_on_loop(struct event_base *base, void *arg)
{
    struct s3_gw *gw = arg;

    (void)base;
    gw_http_server_destroy(gw->http);
    gw->http = NULL;
    return 0;
}

/* @gw outlives the connection: requests still waiting for the cluster
 * finish (with -ECANCELED) during cairn_shutdown and may look at it. */
static int serve(struct cli *cli, struct cairn *cairn, SSL_CTX *tls, struct s3_gw *gw)
{
    struct start_args a = {.gw = gw, .http = {.listen = cli->listen, .tls = tls}};
    sigset_t set;
    int rc, sig;

    gw->cairn = cairn;
    snprintf(gw->region, sizeof(gw->region), "%s", cli->region);
    snprintf(gw->domain, sizeof(gw->domain), "%s", cli->domain);
    rc = ensure_pool(cairn, cli->pool, &gw->pool);
    if (rc < 0)
        return fail("pool %s: %s", cli->pool, strerror(-rc));
    rc = cairn_loop_call(cairn, start_on_loop, &a);
    if (rc < 0)
        return fail("cannot listen on %s: %s", cli->listen, strerror(-rc));
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_GATEWAY, "s3: serving pool %s on %s%s", cli->pool,
              cli->listen, tls ? " (TLS)" : "");
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigwait(&set, &sig);
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_GATEWAY, "s3: signal %d: stopping", sig);
    cairn_loop_call(cairn, stop_on_loop, gw);
    return 0;
}

int main(int argc, char **argv)
{
    struct cli cli = {.name = CAIRN_DEFAULT_ENTITY, .pool = GW_S3_POOL_DEFAULT,
                      .listen = "127.0.0.1:7480", .region = "us-east-1", .domain = "localhost"};
    struct cairn_config *conf = NULL;
    struct cairn *cairn = NULL;
    struct s3_gw *gw = NULL;
    SSL_CTX *tls = NULL;
    sigset_t set;
    int rc = EXIT_FAILURE;

    if (parse_args(argc, argv, &cli) < 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    /* Stripe buffers (up to 4 MiB) come and go with every upload: keep
     * them on the heap and the heap's pages mapped, rather than paying an
     * mmap and its page faults each time. */
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
    /* Blocked before any thread starts, so only sigwait() sees them. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (cli.cert && !(tls = tls_context(cli.cert, cli.key))) {
        fail("cannot load the TLS certificate %s and key %s", cli.cert, cli.key);
        return EXIT_FAILURE;
    }
    if (gw_daemon_config(PROG, cli.conf, cli.name, &conf) != 0 ||
        gw_daemon_connect(PROG, cli.conf, cli.name, &cairn) != 0)
        goto out;
    gw = calloc(1, sizeof(*gw));
    if (gw && serve(&cli, cairn, tls, gw) == 0)
        rc = EXIT_SUCCESS;
out:
    gw_daemon_end(cairn, conf);
    free(gw);
    if (tls)
        SSL_CTX_free(tls);
    return rc;
}
