/* The cairn-mon driver (STYLE §9, "small driver"): builds the monitor's
 * state from its store, runs the tick, and turns every Raft ready into I/O in
 * the order raft.h prescribes. Proposals and their waiters, compaction and
 * leadership changes live here too; peers are in peer.c, clients in
 * service.c, the command line in main.c.
 *
 * One loop turn of the driver (mon__drive), for each ready:
 *
 *   restore the cluster state if the ready carries a snapshot (checks it)
 *     -> save_ready (one synced WriteBatch: snapshot, entries, hard state)
 *     -> send the ready's messages            (persist-before-send)
 *     -> apply the committed entries in order, answering their waiters
 *     -> mon_raft_advance
 *   then, outside ready/advance: leadership bookkeeping, compaction,
 *   map pushes, peer reconciliation.
 *
 * Invariants:
 *   1. A message of a ready is handed to the messenger only after that
 *      ready's save_ready returned 0.
 *   2. No mutating Raft call (step, tick, propose, compact) runs between
 *      mon_raft_ready and mon_raft_advance: applying never proposes.
 *   3. A proposal waiter is answered exactly once: when its (term, index)
 *      applies, when another entry takes its index, or when this node stops
 *      being leader of its term.
 *   4. A store error is fatal (d->fatal): no advance, the loop stops, a
 *      restart replays from disk (STYLE §4, sticky errors). */
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "monitor/internal.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "protocol/raft_wire.h"

uint64_t mon_id_of_name(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h ? h : 1;
}

uint64_t mon__now_ms(void)
{
    return cairn_now_ns() / 1000000u;
}

bool mon__is_leader(const struct mon_daemon *d)
{
    return mon_raft_role(d->raft) == MON_RAFT_LEADER;
}

const char *mon__name_of(const struct mon_daemon *d, uint64_t id)
{
    if (id == d->id)
        return d->opts.name;
    const struct proto_map *map = mon_cluster_map(d->cluster);
    for (uint32_t i = 0; d->has_state && i < map->n_mons; i++)
        if (mon_id_of_name(map->mons[i].name) == id)
            return map->mons[i].name;
    for (uint32_t i = 0; i < MON_MAX_PEERS; i++)
        if (d->peers[i].used && d->peers[i].id == id)
            return d->peers[i].name;
    return NULL;
}

/* ---- state: the cluster's initial value, mkfs ---------------------------- */

/* The initial cluster from the config: fsid and mon_host (or, for a monitor
 * that joins and knows no others, itself as a placeholder until the leader's
 * snapshot replaces it). */
static int initial_cluster(const struct mon_opts *o, struct mon_cluster **out)
{
    struct mon_cluster_init init = {0};

    memcpy(init.fsid, o->fsid, sizeof(init.fsid));
    init.n_mons = o->n_conf_mons;
    memcpy(init.mons, o->conf_mons, sizeof(init.mons));
    if (init.n_mons == 0) {
        init.n_mons = 1;
        snprintf(init.mons[0].name, sizeof(init.mons[0].name), "%s", o->name);
        snprintf(init.mons[0].addr, sizeof(init.mons[0].addr), "%s", o->listen_addr);
    }
    return mon_cluster_create(&init, out);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The initial voters: every configured monitor, ids sorted. */
static int initial_voters(const struct mon_opts *o, struct mon_raft_membership *m, char *why,
                          size_t why_len)
{
    bool self = false;

    memset(m, 0, sizeof(*m));
    for (uint32_t i = 0; i < o->n_conf_mons && i < MON_RAFT_MAX_VOTERS; i++) {
        m->voters[m->n_voters++] = mon_id_of_name(o->conf_mons[i].name);
        self |= strcmp(o->conf_mons[i].name, o->name) == 0;
    }
    qsort(m->voters, m->n_voters, sizeof(m->voters[0]), cmp_u64);
    for (uint32_t i = 1; i < m->n_voters; i++) {
        if (m->voters[i] == m->voters[i - 1]) {
            snprintf(why, why_len, "two names in mon_host share a Raft id; rename one");
            return -EINVAL;
        }
    }
    if (!self) {
        snprintf(why, why_len, "mon.%s is not in mon_host (a monitor outside it uses --join)",
                 o->name);
        return -EINVAL;
    }
    return 0;
}

/* 0 when @dir is an empty directory, or did not exist and was created. */
/* mkdir -p: @dir and any missing parents (parents 0755, @dir 0700). */
static int make_dirs(const char *dir)
{
    char path[PATH_MAX];

    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    return mkdir(path, 0700) < 0 ? -errno : 0;
}

static int make_empty_dir(const char *dir)
{
    DIR *dp = opendir(dir);

    if (!dp)
        return errno == ENOENT ? make_dirs(dir) : -errno;
    struct dirent *de;
    int r = 0;
    while (r == 0 && (de = readdir(dp)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            r = -EEXIST;
    closedir(dp);
    return r;
}

static void store_path(const struct mon_opts *o, char *buf, size_t len)
{
    snprintf(buf, len, "%s/store", o->data_dir);
}

/* Writes a new store: identity, and for an initial member the initial
 * cluster state (as the empty snapshot's data: index 0, no voters) plus the
 * bootstrap configuration entry and hard state of mon_raft_bootstrap(). */
static int mkfs_store(const struct mon_opts *o, bool join, const struct mon_raft_membership *m,
                      const uint8_t *state, size_t state_len)
{
    struct mon_log_ident ident = {.id = mon_id_of_name(o->name), .joined = join};
    struct mon_raft_snapshot snap = {.len = state_len, .data = state};
    struct mon_raft_ready rd = {.has_hard_state = true, .n_entries = 1};
    struct mon_raft_entry entry;
    uint8_t conf[MON_RAFT_CONF_MAX_BYTES];
    struct mon_log_store *s;
    char path[PATH_MAX + 8];
    int r;

    snprintf(ident.name, sizeof(ident.name), "%s", o->name);
    memcpy(ident.fsid, o->fsid, sizeof(ident.fsid));
    store_path(o, path, sizeof(path));
    if ((r = mon_log_store_open(path, true, &s)) < 0)
        return r;
    r = mon_log_store_init(s, &ident, join ? NULL : &snap);
    if (r == 0 && !join && (r = mon_raft_bootstrap(m, &rd.hard_state, &entry, conf)) == 0) {
        rd.entries = &entry;
        r = mon_log_store_save_ready(s, &rd);
    }
    mon_log_store_close(s);
    return r;
}

int mon__mkfs(const struct mon_opts *o, bool join, char *why, size_t why_len)
{
    struct mon_raft_membership m = {0};
    struct mon_cluster *c = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = join ? 0 : initial_voters(o, &m, why, why_len);

    if (r == 0 && !join && (r = initial_cluster(o, &c)) < 0)
        snprintf(why, why_len, "mon_host is not a valid initial monitor list");
    if (r == 0 && !join && (r = mon_cluster_snapshot(c, &buf, &len)) < 0)
        snprintf(why, why_len, "%s", strerror(-r));
    if (r < 0)
        goto out;
    if ((r = make_empty_dir(o->data_dir)) < 0) {
        snprintf(why, why_len, "%s %s", o->data_dir,
                 r == -EEXIST ? "exists and is not empty; refusing to mkfs over it" : strerror(-r));
        goto out;
    }
    if ((r = mkfs_store(o, join, &m, buf, len)) < 0)
        snprintf(why, why_len, "creating the store in %s/store: %s", o->data_dir, strerror(-r));
out:
    mon_cluster_destroy(c);
    free(buf);
    return r;
}

/* ---- keys: the messenger's keyring follows the applied state ------------ */

/* Makes the messenger accept @entity with the key the cluster holds now, or,
 * once the cluster forgot it, only with the keyring file's (else with a
 * fresh random key nobody knows, which revokes it). */
static void key_sync(struct mon_daemon *d, const char *entity)
{
    uint8_t key[PROTO_KEY_LEN];

    if (!proto_entity_is_valid(entity))
        return;
    if (mon_cluster_key(d->cluster, entity, key) < 0 &&
        proto_keyring_get(d->file_keyring, entity, key) < 0 && proto_key_generate(key) < 0)
        return;
    if (proto_keyring_set(d->keyring, entity, key) < 0)
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_MON, "cannot add %s to the keyring", entity);
}

/* Adds every key of the cluster state (after a restore), page by page. */
static void keys_sync_all(struct mon_daemon *d)
{
    struct proto_mon_cmd cmd;
    struct proto_mon_reply *rep = malloc(sizeof(*rep));

    proto_mon_cmd_init(&cmd, PROTO_MON_KEY_LS);
    while (rep) {
        proto_mon_reply_init(rep);
        mon_cluster_query(d->cluster, &cmd, rep);
        char *save = NULL, *last = NULL;
        for (char *e = strtok_r(rep->text, "\n", &save); e; e = strtok_r(NULL, "\n", &save)) {
            key_sync(d, e);
            last = e;
        }
        if (rep->result < 0 || !last || !rep->message[0])
            break; /* no "list cut" message: that was the last page */
        snprintf(cmd.name, sizeof(cmd.name), "%s", last);
    }
    free(rep);
}

/* ---- applying committed entries ------------------------------------------ */

static void waiter_free(struct mon_daemon *d, struct mon_waiter *w)
{
    TAILQ_REMOVE(&d->waiters, w, link);
    free(w);
}

static void answer_waiters(struct mon_daemon *d, const struct mon_raft_entry *e,
                           const struct proto_mon_reply *rep)
{
    struct mon_waiter *w, *next;

    for (w = TAILQ_FIRST(&d->waiters); w; w = next) {
        next = TAILQ_NEXT(w, link);
        if (w->forwarded || w->index > e->index)
            continue;
        if (w->index == e->index && w->term == e->term)
            mon__reply(w->sess, w->txid, w->reply_type, rep, NULL, 0);
        else /* inv. 3: another leader's entry took the index */
            mon__reply_error(w->sess, w->txid, w->reply_type, -EAGAIN,
                             "leadership changed before the change committed; retry");
        waiter_free(d, w);
    }
}

static void apply_side_effects(struct mon_daemon *d, const struct proto_mon_cmd *cmd)
{
    if (cmd->op == PROTO_MON_KEY_CREATE || cmd->op == PROTO_MON_KEY_RM)
        key_sync(d, cmd->name);
}

static void apply_entry(struct mon_daemon *d, const struct mon_raft_entry *e)
{
    struct proto_mon_reply *rep = &d->apply_reply;
    struct proto_mon_cmd cmd;

    proto_mon_reply_init(rep);
    if (e->type == MON_RAFT_ENTRY_NORMAL) {
        int r = proto_mon_cmd_decode(e->data, e->len, &cmd);
        if (r < 0) {
            /* Every monitor skips it alike, so the states stay equal. */
            cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_MON, "entry %llu: undecodable command skipped",
                      (unsigned long long)e->index);
            rep->result = r;
            snprintf(rep->message, sizeof(rep->message), "undecodable command");
        } else {
            mon_cluster_apply(d->cluster, &cmd, rep);
            cairn_log(rep->result ? CAIRN_LOG_INFO : CAIRN_LOG_DEBUG, CAIRN_SS_MON,
                      "e%llu %s %s: %d %s", (unsigned long long)mon_cluster_map(d->cluster)->epoch,
                      proto_mon_op_name(cmd.op), cmd.name, rep->result, rep->message);
            if (rep->result == 0)
                apply_side_effects(d, &cmd);
        }
    }
    rep->epoch = mon_cluster_map(d->cluster)->epoch;
    answer_waiters(d, e, rep);
}

static int restore_snapshot(struct mon_daemon *d, const struct mon_raft_snapshot *snap)
{
    int r = mon_cluster_restore(d->cluster, snap->data, (size_t)snap->len);

    if (r < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_MON, "snapshot at index %llu does not restore: %s",
                  (unsigned long long)snap->index, strerror(-r));
        return r;
    }
    if (memcmp(mon_cluster_map(d->cluster)->fsid, d->fsid, sizeof(d->fsid)) != 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_MON, "snapshot at index %llu: another cluster's",
                  (unsigned long long)snap->index);
        return -EINVAL;
    }
    d->has_state = true;
    keys_sync_all(d);
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_MON, "restored snapshot at index %llu, epoch %llu",
              (unsigned long long)snap->index,
              (unsigned long long)mon_cluster_map(d->cluster)->epoch);
    return 0;
}

/* ---- the driver ---------------------------------------------------------- */

static void fatal(struct mon_daemon *d, const char *what, int err)
{
    cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_MON, "%s: %s; stopping (restart to replay the store)", what,
              strerror(-err));
    d->fatal = true;
    event_base_loopbreak(d->base);
}

/* Fails every proposal waiter: this node is no longer the leader of the
 * term they were proposed in (inv. 3). */
static void fail_proposals(struct mon_daemon *d)
{
    struct mon_waiter *w, *next;

    for (w = TAILQ_FIRST(&d->waiters); w; w = next) {
        next = TAILQ_NEXT(w, link);
        if (w->forwarded)
            continue;
        mon__reply_error(w->sess, w->txid, w->reply_type, -EAGAIN,
                         "leadership lost before the change committed (it may still apply)");
        waiter_free(d, w);
    }
}

static void leadership_changed(struct mon_daemon *d)
{
    bool leader = mon__is_leader(d);
    uint64_t term = mon_raft_term(d->raft), lead = mon_raft_leader(d->raft);

    if (d->seen_leader && (!leader || term != d->seen_term)) {
        fail_proposals(d);
        mon_failure_destroy(d->failure);
        d->failure = NULL;
        mon_pgstats_destroy(d->pgstats);
        d->pgstats = NULL;
    }
    if (leader && !d->failure &&
        mon_failure_create(&d->opts.failure, mon__now_ms(), &d->failure) < 0)
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_MON, "no memory for the failure detector");
    if (leader && !d->pgstats && mon_pgstats_create(&d->pgstats) < 0)
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_MON, "no memory for PG stats");
    if (lead != d->seen_lead || term != d->seen_term) {
        const char *name = lead ? mon__name_of(d, lead) : NULL;
        cairn_log(CAIRN_LOG_INFO, CAIRN_SS_MON, "term %llu: %s%s%s", (unsigned long long)term,
                  lead ? "leader mon." : "no leader", lead ? (name ? name : "?") : "",
                  leader ? " (us)" : "");
    }
    d->seen_leader = leader;
    d->seen_term = term;
    d->seen_lead = lead;
}

static void maybe_compact(struct mon_daemon *d)
{
    uint64_t applied = mon_raft_applied(d->raft);
    uint64_t snap_index = mon_raft_snapshot(d->raft)->index;
    uint8_t *buf;
    size_t len;

    /* The first snapshot is taken at once, so that no log starts at index 1
     * and a joining monitor always gets a snapshot instead of a replay onto
     * an initial state it does not have. */
    if (!d->has_state || applied <= snap_index ||
        (snap_index > 0 && applied - snap_index < d->opts.snapshot_every))
        return;
    int r = mon_cluster_snapshot(d->cluster, &buf, &len);
    if (r == 0) {
        r = mon_raft_compact(d->raft, applied, buf, len);
        free(buf);
    }
    if (r < 0) {
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_MON, "snapshot at %llu failed: %s",
                  (unsigned long long)applied, strerror(-r));
        return;
    }
    r = mon_log_store_save_snapshot(d->store, mon_raft_snapshot(d->raft));
    if (r < 0)
        fatal(d, "saving a snapshot", r);
    else
        cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_MON, "snapshot at index %llu",
                  (unsigned long long)applied);
}

static void after_drive(struct mon_daemon *d, uint64_t epoch_before)
{
    leadership_changed(d);
    maybe_compact(d);
    if (mon_cluster_map(d->cluster)->epoch != epoch_before) {
        mon__peers_sync(d);
        mon__push_maps(d);
    }
}

void mon__drive(struct mon_daemon *d)
{
    uint64_t epoch = mon_cluster_map(d->cluster)->epoch;
    struct mon_raft_ready rd;

    while (!d->fatal && mon_raft_has_ready(d->raft)) {
        mon_raft_ready(d->raft, &rd);
        /* Restoring first checks a received snapshot before it is stored;
         * nothing leaves this node before both are done. */
        int r = rd.snapshot ? restore_snapshot(d, rd.snapshot) : 0;
        if (r == 0)
            r = mon_log_store_save_ready(d->store, &rd);
        if (r < 0) {
            fatal(d, "persisting a Raft ready", r); /* inv. 4 */
            return;
        }
        for (size_t i = 0; i < rd.n_msgs; i++) /* inv. 1 */
            mon__peer_send_raft(d, &rd.msgs[i]);
        for (size_t i = 0; i < rd.n_committed; i++)
            apply_entry(d, &rd.committed[i]);
        mon_raft_advance(d->raft, &rd);
    }
    if (!d->fatal)
        after_drive(d, epoch);
}

static void drive_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mon__drive(arg);
}

void mon__drive_soon(struct mon_daemon *d)
{
    /* An active event runs after the callbacks already queued in this turn. */
    if (d->drive_ev && !event_pending(d->drive_ev, EV_TIMEOUT, NULL))
        event_active(d->drive_ev, EV_TIMEOUT, 0);
}

/* ---- proposals ----------------------------------------------------------- */

static int stamp_key(struct mon_daemon *d, struct proto_mon_cmd *cmd)
{
    uint8_t key[PROTO_KEY_LEN];
    char b64[45];

    /* The leader makes the key, once, so that every monitor applies the
     * same one; an entity the keyring file knows keeps its file key. */
    if (proto_keyring_get(d->file_keyring, cmd->name, key) < 0 && proto_key_generate(key) < 0)
        return -EIO;
    proto_key_to_base64(key, b64);
    snprintf(cmd->value, sizeof(cmd->value), "%s", b64);
    return 0;
}

int mon__prepare_command(struct mon_daemon *d, struct proto_mon_cmd *cmd)
{
    cmd->stamp_ns = cairn_wall_ns();
    return cmd->op == PROTO_MON_KEY_CREATE ? stamp_key(d, cmd) : 0;
}

int mon__propose(struct mon_daemon *d, const struct proto_mon_cmd *cmd, struct mon_sess *sess,
                 uint64_t txid, uint16_t reply_type)
{
    struct mon_waiter *w = NULL;
    uint8_t *buf = NULL;
    size_t len;
    int r;

    if (!mon__is_leader(d))
        return -EREMOTE;
    if ((r = proto_mon_cmd_encode(cmd, &buf, &len)) < 0)
        return r;
    if (sess && !(w = calloc(1, sizeof(*w)))) {
        free(buf);
        return -ENOMEM;
    }
    r = mon_raft_propose(d->raft, buf, len);
    free(buf);
    if (r < 0) {
        free(w);
        return r;
    }
    if (w) {
        *w = (struct mon_waiter){.d = d,
                                 .sess = sess,
                                 .txid = txid,
                                 .reply_type = reply_type,
                                 .term = mon_raft_term(d->raft),
                                 .index = mon_raft_last_index(d->raft)};
        TAILQ_INSERT_TAIL(&d->waiters, w, link);
    }
    mon__drive_soon(d);
    return 0;
}

/* ---- periodic work ------------------------------------------------------- */

static bool map_has_id(const struct proto_map *map, uint64_t id)
{
    for (uint32_t j = 0; j < map->n_mons; j++)
        if (mon_id_of_name(map->mons[j].name) == id)
            return true;
    return false;
}

/* Leader: makes the Raft voters follow the map's monitors, one change at a
 * time (MON_ADD commits the map change first; this proposes the voter). A
 * voter that left the map is removed; when that is the leader itself, it
 * hands leadership to a voter still in the map, which then removes it.
 * Failures (-EBUSY while a change is uncommitted, -EAGAIN) retry next tick. */
static void reconcile_voters(struct mon_daemon *d)
{
    const struct mon_raft_membership *m = mon_raft_membership(d->raft);
    const struct proto_map *map = mon_cluster_map(d->cluster);

    for (uint32_t i = 0; i < map->n_mons; i++) {
        uint64_t id = mon_id_of_name(map->mons[i].name);
        if (mon_raft_membership_has(m, id))
            continue;
        if (mon_raft_propose_conf(d->raft, MON_RAFT_CONF_ADD_VOTER, id) == 0)
            cairn_log(CAIRN_LOG_INFO, CAIRN_SS_MON, "adding mon.%s as a voter", map->mons[i].name);
        return;
    }
    for (uint32_t i = 0; i < m->n_voters; i++) {
        if (map_has_id(map, m->voters[i]) || m->voters[i] == d->id)
            continue;
        if (mon_raft_propose_conf(d->raft, MON_RAFT_CONF_REMOVE_VOTER, m->voters[i]) == 0)
            cairn_log(CAIRN_LOG_INFO, CAIRN_SS_MON, "removing voter %016llx",
                      (unsigned long long)m->voters[i]);
        return;
    }
    if (map_has_id(map, d->id) || d->ticks % d->opts.election_ticks != 0)
        return; /* a transfer gets an election timeout before it is retried */
    for (uint32_t i = 0; i < m->n_voters; i++) {
        if (m->voters[i] != d->id && mon_raft_transfer_leader(d->raft, m->voters[i]) == 0) {
            cairn_log(CAIRN_LOG_INFO, CAIRN_SS_MON, "left the map: handing leadership over");
            return;
        }
    }
}

static void failure_tick(struct mon_daemon *d)
{
    struct proto_mon_cmd cmds[MON_MAX_FAILURE_CMDS];
    unsigned n = mon_failure_tick(d->failure, mon_cluster_map(d->cluster), mon__now_ms(), cmds,
                                  MON_MAX_FAILURE_CMDS);
    char msg[PROTO_MON_MESSAGE_MAX];

    for (unsigned i = 0; i < n && mon__is_leader(d); i++) {
        if (mon__prepare_command(d, &cmds[i]) < 0 ||
            mon_cluster_check(d->cluster, &cmds[i], msg, sizeof(msg)) < 0)
            continue;
        cairn_log(CAIRN_LOG_INFO, CAIRN_SS_MON, "failure detector: %s osd.%d",
                  proto_mon_op_name(cmds[i].op), cmds[i].id);
        int r = mon__propose(d, &cmds[i], NULL, 0, 0);
        if (r < 0)
            cairn_log(CAIRN_LOG_WARN, CAIRN_SS_MON, "proposing %s osd.%d: %s",
                      proto_mon_op_name(cmds[i].op), cmds[i].id, strerror(-r));
    }
}

static void on_tick(struct mon_daemon *d)
{
    uint64_t every_s = CAIRN_MAX(1u, 1000u / d->opts.tick_ms);

    d->ticks++;
    mon_raft_tick(d->raft);
    mon__drive(d);
    if (d->fatal)
        return;
    if (mon__is_leader(d) && d->has_state) {
        reconcile_voters(d);
        if (d->failure && d->ticks % every_s == 0)
            failure_tick(d);
        mon__drive(d);
    } else if (d->ticks % every_s == 0) {
        mon__peer_poll_status(d);
    }
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    on_tick(arg);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct mon_daemon *d = arg;

    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_MON, "%s: shutting down", strsignal((int)sig));
    event_base_loopbreak(d->base);
}

/* ---- lifecycle ----------------------------------------------------------- */

static int check_ident(const struct mon_daemon *d, const struct mon_log_ident *id)
{
    static const uint8_t zero[16];

    if (strcmp(id->name, d->opts.name) != 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_MON, "%s belongs to mon.%s, not mon.%s",
                  d->opts.data_dir, id->name, d->opts.name);
        return -EINVAL;
    }
    if (memcmp(d->opts.fsid, zero, 16) != 0 && memcmp(d->opts.fsid, id->fsid, 16) != 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_MON, "%s holds another cluster (fsid differs)",
                  d->opts.data_dir);
        return -EINVAL;
    }
    return 0;
}

/* Rebuilds Raft and the cluster state from the store (applied entries are
 * replayed by the first drive: the core starts applying after the snapshot). */
static int load_state(struct mon_daemon *d)
{
    struct mon_raft_config cfg;
    struct mon_log_state st;
    char path[PATH_MAX + 8];
    int r;

    store_path(&d->opts, path, sizeof(path));
    if ((r = mon_log_store_open(path, false, &d->store)) < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_MON, "opening the store %s: %s%s", path, strerror(-r),
                  r == -EBUSY    ? " (is another cairn-mon running?)"
                  : r == -ENOENT ? " (run cairn-mon --mkfs first)"
                                 : "");
        return r;
    }
    if ((r = mon_log_store_load(d->store, &st)) < 0)
        return r;
    if ((r = check_ident(d, &st.ident)) < 0 || (r = initial_cluster(&d->opts, &d->cluster)) < 0)
        goto out;
    memcpy(d->fsid, st.ident.fsid, sizeof(d->fsid));
    if (st.has_snapshot && (r = restore_snapshot(d, &st.snap)) < 0)
        goto out;
    mon_raft_config_default(&cfg, d->id);
    cfg.election_ticks = d->opts.election_ticks;
    cfg.heartbeat_ticks = d->opts.heartbeat_ticks;
    cfg.seed = d->id ^ cairn_now_ns();
    r = mon_raft_create(&cfg, &st.hs, st.has_snapshot ? &st.snap : NULL, st.entries, st.n_entries,
                        &d->raft);
    if (r < 0)
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_MON, "the stored Raft state is inconsistent: %s",
                  strerror(-r));
    else
        cairn_log(CAIRN_LOG_INFO, CAIRN_SS_MON,
                  "mon.%s id %016llx: term %llu, commit %llu, log %llu..%llu%s", d->opts.name,
                  (unsigned long long)d->id, (unsigned long long)st.hs.term,
                  (unsigned long long)st.hs.commit, (unsigned long long)st.snap.index,
                  (unsigned long long)(st.snap.index + st.n_entries),
                  d->has_state ? "" : " (waiting to be added by the leader)");
out:
    mon_log_state_fini(&st);
    return r;
}

static int start_events(struct mon_daemon *d)
{
    struct timeval tv = {.tv_sec = d->opts.tick_ms / 1000,
                         .tv_usec = (d->opts.tick_ms % 1000) * 1000};

    d->tick_ev = event_new(d->base, -1, EV_PERSIST, tick_cb, d);
    d->drive_ev = event_new(d->base, -1, 0, drive_cb, d);
    d->sig_ev[0] = evsignal_new(d->base, SIGTERM, signal_cb, d);
    d->sig_ev[1] = evsignal_new(d->base, SIGINT, signal_cb, d);
    if (!d->tick_ev || !d->drive_ev || !d->sig_ev[0] || !d->sig_ev[1])
        return -ENOMEM;
    if (event_add(d->tick_ev, &tv) < 0 || event_add(d->sig_ev[0], NULL) < 0 ||
        event_add(d->sig_ev[1], NULL) < 0)
        return -EIO;
    return 0;
}

static int start_messenger(struct mon_daemon *d)
{
    struct proto_msgr_opts mo = {.entity = d->opts.entity, .keyring = d->keyring};
    int r = proto_msgr_create(d->base, &mo, &mon__handlers, d, &d->msgr);

    if (r < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_MON, "messenger: %s%s", strerror(-r),
                  r == -ENOENT ? " (no key for this monitor in the keyring)" : "");
        return r;
    }
    return proto_msgr_listen(d->msgr, d->opts.listen_addr);
}

int mon__daemon_open(const struct mon_opts *o, struct proto_keyring *kr,
                     struct proto_keyring *file_kr, struct mon_daemon **out)
{
    struct mon_daemon *d = calloc(1, sizeof(*d));
    int r = -ENOMEM;

    if (!d) {
        proto_keyring_destroy(kr);
        proto_keyring_destroy(file_kr);
        return -ENOMEM;
    }
    d->opts = *o;
    d->id = mon_id_of_name(o->name);
    d->keyring = kr;
    d->file_keyring = file_kr;
    TAILQ_INIT(&d->sessions);
    TAILQ_INIT(&d->waiters);
    d->in_ents = calloc(MON_RAFT_MAX_MSG_ENTRIES, sizeof(*d->in_ents));
    d->out_ents = calloc(MON_RAFT_MAX_MSG_ENTRIES, sizeof(struct proto_raft_entry));
    if (!d->in_ents || !d->out_ents || !(d->base = event_base_new()))
        goto fail;
    if ((r = load_state(d)) < 0 || (r = start_messenger(d)) < 0 || (r = start_events(d)) < 0)
        goto fail;
    d->pushed_epoch = mon_cluster_map(d->cluster)->epoch;
    mon__peers_sync(d);
    mon__drive(d);
    *out = d;
    return 0;
fail:
    mon__daemon_close(d);
    return r;
}

int mon__daemon_run(struct mon_daemon *d)
{
    if (!d->fatal)
        event_base_dispatch(d->base);
    return d->fatal ? -EIO : 0;
}

void mon__daemon_close(struct mon_daemon *d)
{
    struct mon_waiter *w;

    if (!d)
        return;
    for (unsigned i = 0; i < 2; i++)
        if (d->sig_ev[i])
            event_free(d->sig_ev[i]);
    if (d->tick_ev)
        event_free(d->tick_ev);
    if (d->drive_ev)
        event_free(d->drive_ev);
    /* Closing the messenger closes every connection; on_close frees the
     * sessions and detaches them from the waiters. One more loop turn runs
     * libevent's deferred frees of the closed bufferevents. */
    mon__peers_close(d);
    proto_msgr_destroy(d->msgr);
    if (d->base)
        event_base_loop(d->base, EVLOOP_NONBLOCK);
    while ((w = TAILQ_FIRST(&d->waiters)))
        waiter_free(d, w);
    mon_failure_destroy(d->failure);
    mon_pgstats_destroy(d->pgstats);
    mon_raft_destroy(d->raft);
    mon_cluster_destroy(d->cluster);
    mon_log_store_close(d->store);
    if (d->base)
        event_base_free(d->base);
    proto_keyring_destroy(d->keyring);
    proto_keyring_destroy(d->file_keyring);
    free(d->in_ents);
    free(d->out_ents);
    free(d);
}
