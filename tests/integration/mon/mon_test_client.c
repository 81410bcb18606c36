/* A minimal monitor client for the cairn-mon integration tests: one
 * messenger, synchronous calls with deadlines, one command per run. It
 * speaks the PROTO_MSG_MON_* protocol directly (not protocol/monc.c), so the
 * tests see exactly what each monitor answers.
 *
 *   mon_test_client [-k KEYRING] [-n ENTITY] COMMAND ARGS...
 *     ports N                         print N free loopback TCP ports
 *     status ADDR                     print one monitor's status
 *     wait-leader SECS NAME=ADDR...   wait until a monitor says it leads; print its name
 *     create ADDR POOL                create one pool
 *     stream FILE PREFIX N NAME=ADDR...
 *                                     create pools PREFIX0..N-1, one after the other,
 *                                     moving to the next monitor on a failure; each
 *                                     acknowledged name is appended to FILE at once
 *     check FILE NAME=ADDR...         every pool named in FILE is in every monitor's map
 *     mon-add ADDR NAME MONADDR       add monitor NAME (listening on MONADDR) to the map
 *     key-create ADDR ENTITY          create ENTITY's key on the monitors; print it
 *     key-rm ADDR ENTITY              remove ENTITY's key
 *     epoch ADDR                      print the map epoch a monitor serves
 *     pg-stats ADDR                   one PG_STATS request: print "pgs=N" (exit 0), or fail
 *                                     with the monitor's -errno (61 ENODATA: no stats)
 *     pg-usage ADDR                   the same, printing the store usage it carries:
 *                                     "osds=N total=BYTES used=BYTES" (sums of every entry)
 *     wait-epoch SECS EPOCH ADDR      wait until the monitor serves EPOCH or later
 *     isolate ADDR 0|1                test command: cut a monitor off its peers / heal
 *     watch ADDR POOL                 subscribe, create POOL, expect a MAP_UPDATE with it
 *     bad-requests ADDR               malformed and forbidden requests get error replies
 *     garbage ADDR                    raw bytes on a TCP socket: the monitor hangs up
 *   A fake OSD (the first three connect as osd.ID unless -n is given; the
 *   keyring must hold that entity's key):
 *     osd-boot ADDR ID HOST           OSD_BOOT of osd.ID: a uuid fixed per id, host HOST,
 *                                     a dummy address; print the id the monitors gave
 *     osd-beacon SECS ID NAME=ADDR... a beacon for osd.ID every 300 ms for SECS seconds to
 *                                     the monitor that says it leads, asked again each
 *                                     time; another is looked for when it fails or stops
 *                                     leading (one line on stdout per change of target)
 *     beacon-cmd ADDR ID              one OSD_BEACON for osd.ID as a request (as -n ENTITY)
 *     osd-report ADDR REPORTER_ID TARGET_ID
 *                                     as osd.REPORTER_ID: report osd.TARGET_ID failed
 *     osd-state ADDR ID               print osd.ID's state in the monitor's map: "up in",
 *                                     "down in", "up out" or "down out"
 *     wait-osd-state SECS ADDR ID STATE...
 *                                     wait until osd-state would print STATE ("down out")
 *
 * Exit status: 0 success; otherwise the (positive) errno of the failure,
 * e.g. 13 EACCES, 11 EAGAIN, 110 ETIMEDOUT; 64 usage. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "protocol/map.h"
#include "protocol/mon.h"
#include "protocol/msg_types.h"
#include "protocol/msgr.h"

#define EXIT_USAGE 64
#define MAX_MONS 7
#define CALL_TIMEOUT_MS 3000u
#define BEACON_EVERY_MS 300u
/* The beacon loop's calls: a dead leader must not hold the beacons back
 * for a whole down grace. */
#define BEACON_CALL_TIMEOUT_MS 500u
#define TEST_ISOLATE ((uint16_t)(PROTO_MSG_TEST_MIN + 100)) /* monitor/internal.h */

struct mon {
    char name[64];
    char addr[128];
};

struct tc {
    struct event_base *base;
    struct event *tick;
    struct proto_msgr *m;
    struct proto_keyring *kr;
    struct proto_conn *conns[MAX_MONS + 1];
    char addrs[MAX_MONS + 1][128];
    unsigned n_conns;
    uint32_t timeout_ms; /* of each call: CALL_TIMEOUT_MS unless a command changes it */
    unsigned map_updates;
    uint64_t update_epoch;
};

struct call {
    bool done;
    int result;
    struct proto_frame reply;
};

/* ---- the messenger and synchronous calls ---- */

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

static void on_message(struct proto_conn *conn, struct proto_frame *f, void *arg)
{
    struct tc *t = arg;
    struct proto_map *map;

    if (f->hdr.type == PROTO_MSG_MON_MAP_UPDATE &&
        proto_map_decode(f->data, f->hdr.data_len, &map) == 0) {
        t->map_updates++;
        t->update_epoch = map->epoch;
        proto_map_destroy(map);
    }
    proto_frame_free(f);
}

static const struct proto_msgr_handlers handlers = {.on_message = on_message};

static int tc_init(struct tc *t, const char *keyring, const char *entity)
{
    struct timeval tv = {0, 10000};
    int r = proto_keyring_load(keyring, &t->kr);

    if (r < 0) {
        fprintf(stderr, "keyring %s: %s\n", keyring, strerror(-r));
        return r;
    }
    struct proto_msgr_opts o = {.entity = entity, .keyring = t->kr};
    t->timeout_ms = CALL_TIMEOUT_MS;
    t->base = event_base_new();
    t->tick = event_new(t->base, -1, EV_PERSIST, tick_cb, NULL);
    event_add(t->tick, &tv);
    return proto_msgr_create(t->base, &o, &handlers, t, &t->m);
}

static void tc_fini(struct tc *t)
{
    proto_msgr_destroy(t->m);
    if (t->tick)
        event_free(t->tick);
    if (t->base)
        event_base_free(t->base);
    proto_keyring_destroy(t->kr);
}

static struct proto_conn *conn_to(struct tc *t, const char *addr)
{
    for (unsigned i = 0; i < t->n_conns; i++)
        if (strcmp(t->addrs[i], addr) == 0)
            return t->conns[i];
    if (t->n_conns == MAX_MONS + 1)
        return NULL;
    struct proto_conn *c;
    if (proto_msgr_connect(t->m, addr, NULL, &c) < 0)
        return NULL;
    snprintf(t->addrs[t->n_conns], sizeof(t->addrs[0]), "%s", addr);
    t->conns[t->n_conns++] = c;
    return c;
}

/* Drops the cached connection to @addr (after a failure: start afresh). */
static void conn_forget(struct tc *t, const char *addr)
{
    for (unsigned i = 0; i < t->n_conns; i++) {
        if (strcmp(t->addrs[i], addr) != 0)
            continue;
        proto_conn_close(t->conns[i]);
        t->n_conns--;
        t->conns[i] = t->conns[t->n_conns];
        memcpy(t->addrs[i], t->addrs[t->n_conns], sizeof(t->addrs[0]));
        return;
    }
}

static void call_cb(int result, struct proto_frame *reply, void *arg)
{
    struct call *k = arg;

    k->done = true;
    k->result = result;
    if (reply)
        k->reply = *reply;
}

static void run_for_ms(struct tc *t, unsigned ms)
{
    uint64_t end = cairn_now_ns() + (uint64_t)ms * 1000000u;
    while (cairn_now_ns() < end)
        event_base_loop(t->base, EVLOOP_ONCE);
}

/* One request; on 0 *@k holds the reply frame (free with proto_frame_free). */
static int call(struct tc *t, const char *addr, uint16_t type, const void *meta, size_t ml,
                const void *data, size_t dl, struct call *k)
{
    struct proto_conn *c = conn_to(t, addr);

    memset(k, 0, sizeof(*k));
    if (!c)
        return -EINVAL;
    int r = proto_conn_request(c, type, meta, ml, data, dl, t->timeout_ms, call_cb, k);
    if (r < 0) {
        conn_forget(t, addr);
        return r;
    }
    while (!k->done)
        event_base_loop(t->base, EVLOOP_ONCE);
    if (k->result < 0)
        conn_forget(t, addr);
    return k->result;
}

/* A call whose reply is a MonReply: 0 (and *@rep) when one came back. */
static int call_reply(struct tc *t, const char *addr, uint16_t type, const void *meta, size_t ml,
                      const void *data, size_t dl, struct proto_mon_reply *rep,
                      struct proto_map **map)
{
    struct call k;
    int r = call(t, addr, type, meta, ml, data, dl, &k);

    if (r == 0)
        r = proto_mon_reply_decode(k.reply.meta, k.reply.hdr.meta_len, rep);
    if (r == 0 && map && k.reply.hdr.data_len)
        r = proto_map_decode(k.reply.data, k.reply.hdr.data_len, map);
    proto_frame_free(&k.reply);
    return r;
}

static int command(struct tc *t, const char *addr, const struct proto_mon_cmd *cmd,
                   struct proto_mon_reply *rep)
{
    uint8_t *meta;
    size_t ml;

    if (proto_mon_cmd_encode(cmd, &meta, &ml) < 0)
        return -ENOMEM;
    int r = call_reply(t, addr, PROTO_MSG_MON_COMMAND, meta, ml, NULL, 0, rep, NULL);
    free(meta);
    return r;
}

static int get_map(struct tc *t, const char *addr, struct proto_map **map)
{
    struct proto_mon_reply rep;
    uint8_t *meta;
    size_t ml;

    *map = NULL;
    if (proto_mon_map_request_encode(0, &meta, &ml) < 0)
        return -ENOMEM;
    int r = call_reply(t, addr, PROTO_MSG_MON_GET_MAP, meta, ml, NULL, 0, &rep, map);
    free(meta);
    if (r == 0 && rep.result < 0)
        r = rep.result;
    if (r == 0 && !*map)
        r = -EBADMSG;
    return r;
}

static int parse_mons(char **args, int n, struct mon *mons)
{
    if (n < 1 || n > MAX_MONS)
        return -EINVAL;
    for (int i = 0; i < n; i++) {
        char *eq = strchr(args[i], '=');
        if (!eq || eq - args[i] >= 64)
            return -EINVAL;
        snprintf(mons[i].name, sizeof(mons[i].name), "%.*s", (int)(eq - args[i]), args[i]);
        snprintf(mons[i].addr, sizeof(mons[i].addr), "%s", eq + 1);
    }
    return 0;
}

/* ---- commands ---- */

static int cmd_ports(int n)
{
    int fds[64];

    if (n < 1 || n > 64)
        return -EINVAL;
    for (int i = 0; i < n; i++) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
        socklen_t len = sizeof(sin);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
            getsockname(fds[i], (struct sockaddr *)&sin, &len) < 0)
            return -errno;
        printf("%u\n", ntohs(sin.sin_port));
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
    return 0;
}

static int cmd_status(struct tc *t, const char *addr, bool print)
{
    struct proto_mon_reply rep;
    int r = call_reply(t, addr, PROTO_MSG_MON_STATUS, NULL, 0, NULL, 0, &rep, NULL);

    if (r < 0 || !rep.has_status)
        return r < 0 ? r : -EBADMSG;
    if (!print)
        return 0;
    printf("leader=%s term=%llu commit=%llu applied=%llu epoch=%llu quorum=", rep.status.leader,
           (unsigned long long)rep.status.term, (unsigned long long)rep.status.commit_index,
           (unsigned long long)rep.status.applied_index, (unsigned long long)rep.status.epoch);
    for (uint32_t i = 0; i < rep.status.n_quorum; i++)
        printf("%s%s", i ? "," : "", rep.status.quorum[i]);
    printf("\n");
    return 0;
}

static int cmd_wait_leader(struct tc *t, int secs, struct mon *mons, int n)
{
    uint64_t end = cairn_now_ns() + (uint64_t)secs * 1000000000u;
    struct proto_mon_reply rep;

    while (cairn_now_ns() < end) {
        for (int i = 0; i < n; i++) {
            int r = call_reply(t, mons[i].addr, PROTO_MSG_MON_STATUS, NULL, 0, NULL, 0, &rep, NULL);
            /* Leading, and a majority in touch: it can commit. */
            if (r == 0 && rep.has_status && strcmp(rep.status.leader, mons[i].name) == 0 &&
                rep.status.n_quorum > (uint32_t)n / 2) {
                printf("%s\n", mons[i].name);
                return 0;
            }
        }
        run_for_ms(t, 100);
    }
    return -ETIMEDOUT;
}

static int create_pool(struct tc *t, const char *addr, const char *pool,
                       struct proto_mon_reply *rep)
{
    struct proto_mon_cmd cmd;

    proto_mon_cmd_init(&cmd, PROTO_MON_POOL_CREATE);
    snprintf(cmd.name, sizeof(cmd.name), "%s", pool);
    cmd.size = 1;
    cmd.min_size = 1;
    cmd.pg_num = 8;
    return command(t, addr, &cmd, rep);
}

static int cmd_create(struct tc *t, const char *addr, const char *pool)
{
    struct proto_mon_reply rep;
    int r = create_pool(t, addr, pool, &rep);

    if (r == 0) {
        printf("result=%d epoch=%llu message=%s\n", rep.result, (unsigned long long)rep.epoch,
               rep.message);
        r = rep.result;
    }
    return r;
}

/* Creates one pool, retrying on other monitors until acknowledged:
 * 0 (applied now) or -EEXIST (a retry found an earlier attempt applied). */
static int stream_one(struct tc *t, const char *pool, struct mon *mons, int n, int *target)
{
    uint64_t end = cairn_now_ns() + 30 * 1000000000ull;
    struct proto_mon_reply rep;

    while (cairn_now_ns() < end) {
        int r = create_pool(t, mons[*target].addr, pool, &rep);
        if (r == 0 && (rep.result == 0 || rep.result == -EEXIST))
            return rep.result;
        if (r == 0 && rep.result != -EAGAIN && rep.result != -EREMOTE) {
            fprintf(stderr, "%s: %s\n", pool, rep.message);
            return rep.result;
        }
        *target = (*target + 1) % n;
        run_for_ms(t, 100);
    }
    return -ETIMEDOUT;
}

static int cmd_stream(struct tc *t, const char *file, const char *prefix, int count,
                      struct mon *mons, int n)
{
    FILE *fp = fopen(file, "a");
    int target = 0, r = 0;

    if (!fp)
        return -errno;
    setvbuf(fp, NULL, _IOLBF, 0);
    for (int i = 0; i < count && r == 0; i++) {
        char pool[64];
        snprintf(pool, sizeof(pool), "%s%d", prefix, i);
        r = stream_one(t, pool, mons, n, &target);
        if (r == 0 || r == -EEXIST) {
            fprintf(fp, "%s\n", pool);
            r = 0;
        }
    }
    fclose(fp);
    return r;
}

static int cmd_check(struct tc *t, const char *file, struct mon *mons, int n)
{
    char line[128];
    int missing = 0, r = 0;

    for (int i = 0; i < n && r == 0; i++) {
        struct proto_map *map;
        FILE *fp = fopen(file, "r");
        if (!fp || (r = get_map(t, mons[i].addr, &map)) < 0) {
            if (fp)
                fclose(fp);
            return fp ? r : -errno;
        }
        unsigned count = 0;
        while (fgets(line, sizeof(line), fp)) {
            line[strcspn(line, "\n")] = '\0';
            if (line[0] && !proto_map_pool_by_name(map, line)) {
                fprintf(stderr, "mon.%s: acknowledged pool %s is missing\n", mons[i].name, line);
                missing++;
            }
            count += line[0] != '\0';
        }
        printf("mon.%s epoch=%llu pools=%u checked=%u\n", mons[i].name,
               (unsigned long long)map->epoch, map->n_pools, count);
        fclose(fp);
        proto_map_destroy(map);
    }
    return missing ? -ENOENT : r;
}

static int cmd_mon_add(struct tc *t, const char *addr, const char *name, const char *mon_addr)
{
    struct proto_mon_reply rep;
    struct proto_mon_cmd cmd;

    proto_mon_cmd_init(&cmd, PROTO_MON_MON_ADD);
    snprintf(cmd.name, sizeof(cmd.name), "%s", name);
    snprintf(cmd.value, sizeof(cmd.value), "%s", mon_addr);
    int r = command(t, addr, &cmd, &rep);
    if (r == 0) {
        printf("result=%d epoch=%llu message=%s\n", rep.result, (unsigned long long)rep.epoch,
               rep.message);
        r = rep.result;
    }
    return r;
}

/* KEY_CREATE (prints the key in base64) or KEY_RM of @entity. */
static int cmd_key(struct tc *t, const char *addr, uint32_t op, const char *entity)
{
    struct proto_mon_reply rep;
    struct proto_mon_cmd cmd;
    char b64[45];

    proto_mon_cmd_init(&cmd, op);
    snprintf(cmd.name, sizeof(cmd.name), "%s", entity);
    int r = command(t, addr, &cmd, &rep);
    if (r == 0 && rep.result == 0 && rep.has_key) {
        proto_key_to_base64(rep.key, b64);
        printf("%s\n", b64);
    }
    if (r == 0 && rep.result < 0)
        fprintf(stderr, "%s\n", rep.message);
    return r < 0 ? r : rep.result;
}

static int cmd_epoch(struct tc *t, const char *addr)
{
    struct proto_map *map;
    int r = get_map(t, addr, &map);

    if (r == 0) {
        printf("%llu\n", (unsigned long long)map->epoch);
        proto_map_destroy(map);
    }
    return r;
}

/* pg-stats prints "pgs=N"; pg-usage (@usage) "osds=N total=BYTES
 * used=BYTES", summed over every usage entry of the answer. */
static int cmd_pg_stats(struct tc *t, const char *addr, bool usage)
{
    struct proto_mon_reply rep;
    struct proto_pg_stats st = {0};
    unsigned long long total = 0, used = 0;
    struct call k;
    int r = call(t, addr, PROTO_MSG_MON_PG_STATS, NULL, 0, NULL, 0, &k);

    if (r == 0)
        r = proto_mon_reply_decode(k.reply.meta, k.reply.hdr.meta_len, &rep);
    if (r == 0)
        r = rep.result;
    if (r == 0 && k.reply.hdr.data_len)
        r = proto_mon_pg_stats_decode(k.reply.data, k.reply.hdr.data_len, &st);
    proto_frame_free(&k.reply);
    for (uint32_t i = 0; i < st.n_usage; i++) {
        total += st.usage[i].bytes_total;
        used += st.usage[i].bytes_used;
    }
    if (r == 0 && usage)
        printf("osds=%u total=%llu used=%llu\n", st.n_usage, total, used);
    else if (r == 0)
        printf("pgs=%u\n", st.n);
    proto_pg_stats_fini(&st);
    return r;
}

static int cmd_wait_epoch(struct tc *t, int secs, uint64_t epoch, const char *addr)
{
    uint64_t end = cairn_now_ns() + (uint64_t)secs * 1000000000u;
    struct proto_map *map;

    while (cairn_now_ns() < end) {
        if (get_map(t, addr, &map) == 0) {
            uint64_t have = map->epoch;
            proto_map_destroy(map);
            if (have >= epoch) {
                printf("%llu\n", (unsigned long long)have);
                return 0;
            }
        }
        run_for_ms(t, 100);
    }
    return -ETIMEDOUT;
}

static int cmd_isolate(struct tc *t, const char *addr, const char *on)
{
    struct proto_mon_reply rep;
    int r = call_reply(t, addr, TEST_ISOLATE, NULL, 0, on, strlen(on), &rep, NULL);

    if (r == 0) {
        printf("result=%d message=%s\n", rep.result, rep.message);
        r = rep.result;
    }
    return r;
}

static int cmd_watch(struct tc *t, const char *addr, const char *pool)
{
    struct proto_mon_reply rep;
    struct proto_map *map = NULL;
    uint8_t *meta;
    size_t ml;

    if (proto_mon_map_request_encode(0, &meta, &ml) < 0)
        return -ENOMEM;
    int r = call_reply(t, addr, PROTO_MSG_MON_SUBSCRIBE, meta, ml, NULL, 0, &rep, &map);
    free(meta);
    if (r < 0 || rep.result < 0 || !map)
        return r < 0 ? r : rep.result < 0 ? rep.result : -EBADMSG;
    uint64_t first = map->epoch;
    proto_map_destroy(map);
    if ((r = create_pool(t, addr, pool, &rep)) < 0 || rep.result < 0)
        return r < 0 ? r : rep.result;
    uint64_t end = cairn_now_ns() + 5000000000ull;
    while (cairn_now_ns() < end && t->update_epoch < rep.epoch)
        event_base_loop(t->base, EVLOOP_ONCE);
    printf("subscribed at epoch %llu, created at %llu, updates %u, last %llu\n",
           (unsigned long long)first, (unsigned long long)rep.epoch, t->map_updates,
           (unsigned long long)t->update_epoch);
    return t->update_epoch >= rep.epoch ? 0 : -ETIMEDOUT;
}

/* Expects the reply to a request to carry @want. */
static int expect(struct tc *t, const char *addr, const char *what, uint16_t type, const void *meta,
                  size_t ml, int want)
{
    struct proto_mon_reply rep;
    int r = call_reply(t, addr, type, meta, ml, NULL, 0, &rep, NULL);

    printf("%s: %s%d %s\n", what, r < 0 ? "transport " : "result=", r < 0 ? r : rep.result,
           r < 0 ? "" : rep.message);
    return r == 0 && rep.result == want ? 0 : -EPROTO;
}

static int cmd_bad_requests(struct tc *t, const char *addr)
{
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x80};
    struct proto_mon_cmd cmd;
    uint8_t *meta;
    size_t ml;
    int r = 0;

    r |= expect(t, addr, "garbage MonCommand", PROTO_MSG_MON_COMMAND, junk, sizeof(junk), -EBADMSG);
    r |= expect(t, addr, "garbage MapRequest", PROTO_MSG_MON_GET_MAP, junk, sizeof(junk), -EBADMSG);
    r |= expect(t, addr, "unknown request type", PROTO_MSG_TEST_MIN + 1, NULL, 0, -EOPNOTSUPP);
    r |= expect(t, addr, "forward from a client", PROTO_MSG_MON_FORWARD, NULL, 0, -EACCES);
    proto_mon_cmd_init(&cmd, PROTO_MON_POOL_CREATE);
    strcpy(cmd.name, "bad name with spaces");
    if (proto_mon_cmd_encode(&cmd, &meta, &ml) == 0) {
        r |= expect(t, addr, "invalid pool name", PROTO_MSG_MON_COMMAND, meta, ml, -EINVAL);
        free(meta);
    }
    /* One-way junk: a Raft message and a beacon from a client are dropped. */
    struct proto_conn *c = conn_to(t, addr);
    if (c) {
        proto_conn_send(c, PROTO_MSG_MON_RAFT, junk, sizeof(junk), NULL, 0);
        proto_conn_send(c, PROTO_MSG_MON_BEACON, junk, sizeof(junk), NULL, 0);
    }
    r |= cmd_status(t, addr, false); /* still answering on the same connection */
    return r ? -EPROTO : 0;
}

static int cmd_garbage(const char *addr)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    char host[64];
    unsigned port;
    uint8_t buf[4096];

    if (sscanf(addr, "%63[^:]:%u", host, &port) != 2 ||
        inet_pton(AF_INET, host, &sin.sin_addr) != 1)
        return -EINVAL;
    sin.sin_port = htons((uint16_t)port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
        return -errno;
    srand((unsigned)time(NULL));
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)rand();
    memcpy(buf, "CRN1", 4); /* the magic, so the header checks run */
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t w = write(fd, buf, sizeof(buf));
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        ; /* its HELLO, then EOF when it gives up on us */
    int err = n < 0 ? errno : 0;
    close(fd);
    printf("wrote %zd bytes; the monitor %s\n", w,
           n == 0 ? "closed the connection" : "kept it open");
    return n == 0 || err == ECONNRESET ? 0 : -EPROTO;
}

/* ---- a fake OSD ---- */

/* The store uuid of test osd.@id: the same at every boot, never zero. */
static void osd_uuid(int32_t id, uint8_t uuid[16])
{
    memset(uuid, 0xc5, 16);
    for (int i = 0; i < 4; i++)
        uuid[12 + i] = (uint8_t)((uint32_t)id >> (24 - 8 * i));
}

static int cmd_osd_boot(struct tc *t, const char *addr, int32_t id, const char *host)
{
    struct proto_mon_reply rep;
    struct proto_mon_cmd cmd;

    proto_mon_cmd_init(&cmd, PROTO_MON_OSD_BOOT);
    cmd.id = id;
    osd_uuid(id, cmd.uuid);
    snprintf(cmd.name, sizeof(cmd.name), "%s", host);
    snprintf(cmd.value, sizeof(cmd.value), "127.0.0.1:%d", 6800 + id); /* nobody listens */
    int r = command(t, addr, &cmd, &rep);
    if (r == 0 && rep.result == 0)
        printf("%d\n", rep.id);
    if (r == 0 && rep.result < 0)
        fprintf(stderr, "%s\n", rep.message);
    return r < 0 ? r : rep.result;
}

static bool says_it_leads(struct tc *t, const struct mon *mon)
{
    struct proto_mon_reply rep;
    int r = call_reply(t, mon->addr, PROTO_MSG_MON_STATUS, NULL, 0, NULL, 0, &rep, NULL);

    return r == 0 && rep.has_status && strcmp(rep.status.leader, mon->name) == 0;
}

/* The first of @mons, from @from on, that says it leads; -1 if none does. */
static int find_leader(struct tc *t, struct mon *mons, int n, int from)
{
    for (int k = 0; k < n; k++)
        if (says_it_leads(t, &mons[(from + k) % n]))
            return (from + k) % n;
    return -1;
}

static int cmd_osd_beacon(struct tc *t, int secs, int32_t id, struct mon *mons, int n)
{
    uint64_t end = cairn_now_ns() + (uint64_t)secs * 1000000000u;
    struct proto_mon_cmd cmd;
    unsigned sent = 0;
    int target = -1, from = 0;
    uint8_t *meta;
    size_t ml;

    proto_mon_cmd_init(&cmd, PROTO_MON_OSD_BEACON);
    cmd.id = id;
    if (proto_mon_cmd_encode(&cmd, &meta, &ml) < 0)
        return -ENOMEM;
    setvbuf(stdout, NULL, _IOLBF, 0); /* the test reads it while we run */
    t->timeout_ms = BEACON_CALL_TIMEOUT_MS;
    while (cairn_now_ns() < end) {
        if (target >= 0 && !says_it_leads(t, &mons[target])) {
            printf("mon.%s failed or no longer leads\n", mons[target].name);
            from = (target + 1) % n; /* move on */
            target = -1;
        }
        if (target < 0 && (target = find_leader(t, mons, n, from)) >= 0)
            printf("osd.%d beacons to mon.%s\n", id, mons[target].name);
        struct proto_conn *c = target >= 0 ? conn_to(t, mons[target].addr) : NULL;
        if (c && proto_conn_send(c, PROTO_MSG_MON_BEACON, meta, ml, NULL, 0) == 0)
            sent++;
        run_for_ms(t, target >= 0 ? BEACON_EVERY_MS : 100);
    }
    free(meta);
    printf("osd.%d: %u beacons sent\n", id, sent);
    return 0;
}

/* One OSD_BEACON as a request (the command path), answered by the monitor. */
static int cmd_beacon_cmd(struct tc *t, const char *addr, int32_t id)
{
    struct proto_mon_reply rep;
    struct proto_mon_cmd cmd;

    proto_mon_cmd_init(&cmd, PROTO_MON_OSD_BEACON);
    cmd.id = id;
    int r = command(t, addr, &cmd, &rep);
    if (r == 0)
        printf("result=%d message=%s\n", rep.result, rep.message);
    return r < 0 ? r : rep.result;
}

static int cmd_osd_report(struct tc *t, const char *addr, int32_t reporter, int32_t target)
{
    struct proto_mon_reply rep;
    struct proto_mon_cmd cmd;

    proto_mon_cmd_init(&cmd, PROTO_MON_OSD_FAILURE);
    cmd.id = target;
    snprintf(cmd.name, sizeof(cmd.name), "osd.%d", reporter);
    int r = command(t, addr, &cmd, &rep);
    if (r == 0)
        printf("result=%d message=%s\n", rep.result, rep.message);
    return r < 0 ? r : rep.result;
}

/* "up in", "down out", ...: osd.@id in the map @addr serves; -ENOENT if absent. */
static int osd_state(struct tc *t, const char *addr, int32_t id, char *buf, size_t len)
{
    struct proto_map *map;
    int r = get_map(t, addr, &map);

    if (r < 0)
        return r;
    const struct proto_map_osd *o = proto_map_osd(map, id);
    if (o)
        snprintf(buf, len, "%s %s", o->up ? "up" : "down", o->in ? "in" : "out");
    proto_map_destroy(map);
    return o ? 0 : -ENOENT;
}

static int cmd_osd_state(struct tc *t, const char *addr, int32_t id)
{
    char state[16];
    int r = osd_state(t, addr, id, state, sizeof(state));

    if (r == 0)
        printf("%s\n", state);
    return r;
}

/* Waits until osd.@id's state is the words of @want joined by spaces. */
static int cmd_wait_osd_state(struct tc *t, int secs, const char *addr, int32_t id, char **want,
                              int n)
{
    uint64_t end = cairn_now_ns() + (uint64_t)secs * 1000000000u;
    char goal[64] = "", state[16] = "";
    int r = -ETIMEDOUT;

    for (int i = 0; i < n; i++)
        snprintf(goal + strlen(goal), sizeof(goal) - strlen(goal), "%s%s", i ? " " : "", want[i]);
    while (cairn_now_ns() < end) {
        r = osd_state(t, addr, id, state, sizeof(state));
        if (r == 0 && strcmp(state, goal) == 0) {
            printf("%s\n", state);
            return 0;
        }
        run_for_ms(t, 100);
    }
    fprintf(stderr, "osd.%d is not \"%s\" after %d s: %s\n", id, goal, secs,
            r < 0 ? strerror(-r) : state);
    return -ETIMEDOUT;
}

static int dispatch(struct tc *t, int argc, char **argv)
{
    struct mon mons[MAX_MONS];
    const char *c = argv[0];

    if (!strcmp(c, "status") && argc == 2)
        return cmd_status(t, argv[1], true);
    if (!strcmp(c, "wait-leader") && argc >= 3 && parse_mons(argv + 2, argc - 2, mons) == 0)
        return cmd_wait_leader(t, atoi(argv[1]), mons, argc - 2);
    if (!strcmp(c, "create") && argc == 3)
        return cmd_create(t, argv[1], argv[2]);
    if (!strcmp(c, "stream") && argc >= 5 && parse_mons(argv + 4, argc - 4, mons) == 0)
        return cmd_stream(t, argv[1], argv[2], atoi(argv[3]), mons, argc - 4);
    if (!strcmp(c, "check") && argc >= 3 && parse_mons(argv + 2, argc - 2, mons) == 0)
        return cmd_check(t, argv[1], mons, argc - 2);
    if (!strcmp(c, "mon-add") && argc == 4)
        return cmd_mon_add(t, argv[1], argv[2], argv[3]);
    if (!strcmp(c, "key-create") && argc == 3)
        return cmd_key(t, argv[1], PROTO_MON_KEY_CREATE, argv[2]);
    if (!strcmp(c, "key-rm") && argc == 3)
        return cmd_key(t, argv[1], PROTO_MON_KEY_RM, argv[2]);
    if (!strcmp(c, "epoch") && argc == 2)
        return cmd_epoch(t, argv[1]);
    if (!strcmp(c, "pg-stats") && argc == 2)
        return cmd_pg_stats(t, argv[1], false);
    if (!strcmp(c, "pg-usage") && argc == 2)
        return cmd_pg_stats(t, argv[1], true);
    if (!strcmp(c, "wait-epoch") && argc == 4)
        return cmd_wait_epoch(t, atoi(argv[1]), strtoull(argv[2], NULL, 10), argv[3]);
    if (!strcmp(c, "isolate") && argc == 3)
        return cmd_isolate(t, argv[1], argv[2]);
    if (!strcmp(c, "watch") && argc == 3)
        return cmd_watch(t, argv[1], argv[2]);
    if (!strcmp(c, "bad-requests") && argc == 2)
        return cmd_bad_requests(t, argv[1]);
    if (!strcmp(c, "osd-boot") && argc == 4)
        return cmd_osd_boot(t, argv[1], atoi(argv[2]), argv[3]);
    if (!strcmp(c, "osd-beacon") && argc >= 4 && parse_mons(argv + 3, argc - 3, mons) == 0)
        return cmd_osd_beacon(t, atoi(argv[1]), atoi(argv[2]), mons, argc - 3);
    if (!strcmp(c, "beacon-cmd") && argc == 3)
        return cmd_beacon_cmd(t, argv[1], atoi(argv[2]));
    if (!strcmp(c, "osd-report") && argc == 4)
        return cmd_osd_report(t, argv[1], atoi(argv[2]), atoi(argv[3]));
    if (!strcmp(c, "osd-state") && argc == 3)
        return cmd_osd_state(t, argv[1], atoi(argv[2]));
    if (!strcmp(c, "wait-osd-state") && argc >= 5)
        return cmd_wait_osd_state(t, atoi(argv[1]), argv[2], atoi(argv[3]), argv + 4, argc - 4);
    return -EINVAL - 1000;
}

/* The entity of the commands that act as an OSD: osd.ID, ID being their
 * second argument; NULL for the others. */
static const char *osd_entity(int argc, char **argv, char *buf, size_t len)
{
    if (argc < 3 || (strcmp(argv[0], "osd-boot") != 0 && strcmp(argv[0], "osd-beacon") != 0 &&
                     strcmp(argv[0], "osd-report") != 0))
        return NULL;
    snprintf(buf, len, "osd.%s", argv[2]);
    return buf;
}

int main(int argc, char **argv)
{
    const char *keyring = getenv("CAIRN_TEST_KEYRING"), *entity = NULL;
    char osd[PROTO_ENTITY_MAX];
    struct tc t = {0};
    int opt, r;

    /* "+": options stop at the command, so that "-1" after it is an argument. */
    while ((opt = getopt(argc, argv, "+k:n:")) != -1) {
        if (opt == 'k')
            keyring = optarg;
        else if (opt == 'n')
            entity = optarg;
        else
            return EXIT_USAGE;
    }
    argc -= optind;
    argv += optind;
    if (argc < 1)
        return EXIT_USAGE;
    cairn_log_set_level(CAIRN_LOG_ERROR);
    if (!strcmp(argv[0], "ports") && argc == 2)
        return -cmd_ports(atoi(argv[1]));
    if (!strcmp(argv[0], "garbage") && argc == 2)
        return -cmd_garbage(argv[1]);
    if (!keyring)
        return EXIT_USAGE;
    if (!entity && !(entity = osd_entity(argc, argv, osd, sizeof(osd))))
        entity = "client.admin";
    if ((r = tc_init(&t, keyring, entity)) == 0)
        r = dispatch(&t, argc, argv);
    tc_fini(&t);
    if (r == -EINVAL - 1000) {
        fprintf(stderr, "usage: see the comment at the top of mon_test_client.c\n");
        return EXIT_USAGE;
    }
    if (r < 0)
        fprintf(stderr, "mon_test_client %s: %s\n", argv[0], strerror(-r));
    return r < 0 ? -r : 0;
}
