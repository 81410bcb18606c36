/* mount.cairn: the command line of the FUSE client (docs/fuse.md). Parses
 * the options, checks libfuse's, then - unless -f - forks before touching
 * the cluster (libcairn's threads would not survive a later fork); the
 * child connects (operator contract, DESIGN.md §8), opens the volume,
 * mounts, and only then tells the waiting parent to exit 0, so the exit
 * status says whether the mount exists. The child serves the kernel with
 * libfuse's multi-threaded loop until unmounted or SIGTERM/SIGINT.
 * Exit status: 0 success, 1 failure (one line on stderr), 2 usage. */
#include "common/config.h"
#include "common/log.h"
#include "gateway/daemon.h"
#include "gateway/fuse/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "mount.cairn"
#define EXIT_USAGE 2
#define fail(...) cairn_fail(PROG, __VA_ARGS__)
#define OPTS_MAX 4096
#define THREADS_MAX 16 /* FUSE workers: each blocks on one cluster call */

struct cli {
    const char *conf, *name, *pool, *volume;
    char mountpoint[PATH_MAX];
    bool foreground;
    double attr_timeout_s, entry_timeout_s;
    char fuse_opts[OPTS_MAX]; /* -o options libfuse and the kernel take */
};

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: mount.cairn VOLUME MOUNTPOINT [-c CONF] [--name ENTITY] [--pool POOL]\n"
            "                   [-o OPT[,OPT...]] [-f]\n"
            "Mounts the Cairn file system VOLUME at MOUNTPOINT.\n"
            "  -c, --conf FILE      config file (else $CAIRN_CONF, ./cairn.conf,\n"
            "                       /etc/cairn/cairn.conf)\n"
            "  -n, --name ENTITY    who we are (default client.admin)\n"
            "  -p, --pool POOL      the volume's pool (default " CAIRN_FS_DEFAULT_POOL ")\n"
            "  -o OPTS              attr_timeout=S, entry_timeout=S (default 1 s each),\n"
            "                       allow_other, default_permissions, ro, and other FUSE\n"
            "                       mount options\n"
            "  -f, --foreground     stay in the foreground (else detach once mounted)\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static int parse_timeout(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || *end || !(v >= 0 && v <= 86400))
        return -EINVAL;
    *out = v;
    return 0;
}

/* Splits one -o list: our timeouts here, the rest appended for libfuse. */
static int parse_o(char *list, struct cli *cli)
{
    size_t len = strlen(cli->fuse_opts);

    for (char *save = NULL, *o = strtok_r(list, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
        if (strncmp(o, "attr_timeout=", 13) == 0) {
            if (parse_timeout(o + 13, &cli->attr_timeout_s) < 0)
                return -EINVAL;
        } else if (strncmp(o, "entry_timeout=", 14) == 0) {
            if (parse_timeout(o + 14, &cli->entry_timeout_s) < 0)
                return -EINVAL;
        } else {
            int n = snprintf(cli->fuse_opts + len, OPTS_MAX - len, ",%s", o);

            if (n < 0 || (size_t)n >= OPTS_MAX - len)
                return -E2BIG;
            len += (size_t)n;
        }
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct cli *cli)
{
    static const struct option longopts[] = {
        {"conf", required_argument, NULL, 'c'}, {"name", required_argument, NULL, 'n'},
        {"pool", required_argument, NULL, 'p'}, {"foreground", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "c:n:p:o:fh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cli->conf = optarg;
            break;
        case 'n':
            cli->name = optarg;
            break;
        case 'p':
            cli->pool = optarg;
            break;
        case 'o':
            if (parse_o(optarg, cli) < 0)
                return -EINVAL;
            break;
        case 'f':
            cli->foreground = true;
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_SUCCESS);
        default:
            return -EINVAL;
        }
    }
    if (argc - optind != 2 || !*cli->pool || !*argv[optind] || !*argv[optind + 1])
        return -EINVAL;
    cli->volume = argv[optind];
    /* Absolute: the daemon leaves the working directory, and unmounting
     * at exit names the mount point again. */
    if (!realpath(argv[optind + 1], cli->mountpoint))
        snprintf(cli->mountpoint, sizeof(cli->mountpoint), "%s", argv[optind + 1]);
    return 0;
}

/* libfuse's session with our -o options (checked here, before any fork,
 * so an unknown option is a usage error). */
static struct fuse_session *session_new(const struct cli *cli, struct gw_fuse *g)
{
    char opts[OPTS_MAX + 256];
    char *argv[] = {PROG, "-o", opts, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    struct fuse_session *se;

    snprintf(opts, sizeof(opts), "fsname=cairn:%s,subtype=cairn,max_read=%u%s", cli->volume,
             GW_FUSE_IO_MAX, cli->fuse_opts);
    se = fuse_session_new(&args, &gw_fuse_ops, sizeof(gw_fuse_ops), g);
    fuse_opt_free_args(&args);
    return se;
}

/* Forks: the parent waits for the child's verdict on the pipe and exits
 * with it; the child returns the pipe's write end (-1 with -f). */
static int detach(const struct cli *cli)
{
    int fds[2];
    unsigned char status = EXIT_FAILURE;
    pid_t pid;

    if (cli->foreground)
        return -1;
    if (pipe(fds) < 0 || (pid = fork()) < 0) {
        fail("cannot fork: %s", strerror(errno));
        exit(EXIT_FAILURE);
    }
    if (pid > 0) {
        close(fds[1]);
        if (read(fds[0], &status, 1) != 1)
            status = EXIT_FAILURE; /* the child died before mounting */
        _exit(status);
    }
    close(fds[0]);
    setsid();
    return fds[1];
}

/* Tells the parent how it went and, on success, lets go of the terminal. */
static void report(int fd, int status)
{
    unsigned char b = (unsigned char)status;
    int null;

    if (fd < 0)
        return;
    if (status == EXIT_SUCCESS) {
        null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
            if (null > STDERR_FILENO)
                close(null);
        }
        if (chdir("/") < 0) { /* harmless: only keeps a directory busy */
        }
    }
    if (write(fd, &b, 1) != 1) { /* the parent is gone: nobody to tell */
    }
    close(fd);
}

static bool signals_set; /* libfuse complains when removing handlers never set */

/* Connects, opens the volume and mounts. 0, or 1 with the reason on stderr. */
static int start(const struct cli *cli, struct gw_fuse *g, struct cairn **cairn,
                 struct cairn_config **conf)
{
    int32_t pool;
    int rc;

    if (gw_daemon_config(PROG, cli->conf, cli->name, conf) != 0 ||
        gw_daemon_connect(PROG, cli->conf, cli->name, cairn) != 0)
        return 1;
    rc = cairn_pool_lookup(*cairn, cli->pool, &pool);
    if (rc < 0)
        return fail("pool %s: %s", cli->pool, strerror(-rc));
    rc = cairn_fs_open(*cairn, pool, cli->volume, &g->fs);
    if (rc < 0)
        return fail("volume %s in pool %s: %s", cli->volume, cli->pool, strerror(-rc));
    if (fuse_set_signal_handlers(g->se) != 0)
        return fail("cannot set signal handlers");
    signals_set = true;
    if (fuse_session_mount(g->se, cli->mountpoint) != 0)
        return fail("cannot mount on %s (see the message above)", cli->mountpoint);
    return 0;
}

static int serve(const struct cli *cli, struct gw_fuse *g)
{
    struct fuse_loop_config *lc = fuse_loop_cfg_create();
    int rc;

    if (!lc)
        return -ENOMEM;
    fuse_loop_cfg_set_max_threads(lc, THREADS_MAX);
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_GATEWAY, "fuse: volume %s mounted on %s", cli->volume,
              cli->mountpoint);
    rc = fuse_session_loop_mt(g->se, lc);
    fuse_loop_cfg_destroy(lc);
    return rc;
}

int main(int argc, char **argv)
{
    struct cli cli = {.name = CAIRN_DEFAULT_ENTITY, .pool = CAIRN_FS_DEFAULT_POOL,
                      .attr_timeout_s = 1.0, .entry_timeout_s = 1.0};
    struct gw_fuse g = {0};
    struct cairn_config *conf = NULL;
    struct cairn *cairn = NULL;
    int rc, fd;

    if (parse_args(argc, argv, &cli) < 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    pthread_mutex_init(&g.open_lock, NULL);
    g.attr_timeout_s = cli.attr_timeout_s;
    g.entry_timeout_s = cli.entry_timeout_s;
    g.se = session_new(&cli, &g);
    if (!g.se) {
        fail("bad mount options (see the message above)");
        return EXIT_USAGE;
    }
    fd = detach(&cli);
    rc = start(&cli, &g, &cairn, &conf) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
    report(fd, rc);
    if (rc == EXIT_SUCCESS && serve(&cli, &g) < 0)
        rc = EXIT_FAILURE;
    fuse_session_unmount(g.se); /* a no-op when the mount failed */
    if (signals_set)
        fuse_remove_signal_handlers(g.se);
    fuse_session_destroy(g.se);
    if (g.fs)
        cairn_fs_close(g.fs);
    gw_fuse_opened_fini(&g);
    pthread_mutex_destroy(&g.open_lock);
    gw_daemon_end(cairn, conf);
    return rc;
}
