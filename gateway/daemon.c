/* The shared start and end of gateway daemons (daemon.h). */
#include "gateway/daemon.h"

#include "common/log.h"

#include <signal.h>
#include <string.h>

int gw_daemon_config(const char *prog, const char *conf_path, const char *entity,
                     struct cairn_config **out)
{
    char err[512];

    *out = NULL;
    if (cairn_config_open(conf_path, out, err, sizeof(err)) < 0 ||
        cairn_config_apply_logging(*out, entity, err, sizeof(err)) < 0)
        return cairn_fail(prog, "%s", err);
    return 0;
}

int gw_daemon_connect(const char *prog, const char *conf_path, const char *entity,
                      struct cairn **out)
{
    char err[512] = "";
    struct cairn_connect_opts o = {
        .conf_path = conf_path, .entity = entity, .err = err, .err_len = sizeof(err)};
    int r;

    signal(SIGPIPE, SIG_IGN);
    if ((r = cairn_connect_opts(&o, out)) < 0)
        return cairn_fail(prog, "cannot connect to the cluster: %s", err[0] ? err : strerror(-r));
    return 0;
}

void gw_daemon_end(struct cairn *c, struct cairn_config *conf)
{
    if (c)
        cairn_shutdown(c);
    if (conf)
        cairn_config_destroy(conf);
}
