/* What every gateway daemon's main() does the same way (the operator
 * contract, DESIGN.md §8): read the config found by the -c / $CAIRN_CONF /
 * ./cairn.conf / /etc/cairn/cairn.conf lookup and apply its logging, then
 * connect to the cluster as the entity. Failures print one line on stderr,
 * prefixed with the program's name, for exit status 1. */
#ifndef CAIRN_GATEWAY_DAEMON_H
#define CAIRN_GATEWAY_DAEMON_H

#include "client/cairn.h"
#include "common/config.h"

/* Opens the config (@conf_path, or the lookup when NULL) and applies the
 * logging settings of @entity. 0, or 1 with the reason on stderr. */
int gw_daemon_config(const char *prog, const char *conf_path, const char *entity,
                     struct cairn_config **out);

/* Ignores SIGPIPE (sockets report EPIPE instead) and connects to the
 * cluster. 0, or 1 with the reason on stderr. */
int gw_daemon_connect(const char *prog, const char *conf_path, const char *entity,
                      struct cairn **out);

/* Shuts the connection down and frees the config; either may be NULL. */
void gw_daemon_end(struct cairn *c, struct cairn_config *conf);

#endif
