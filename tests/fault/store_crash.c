/* Crash-consistency test for the object store (osd/store/store.h): no
 * acknowledged transaction is lost, and no transaction is ever torn.
 *
 * The parent creates a store and runs rounds. In each round a forked child
 * opens the store and queues random transactions (many in flight, at most one
 * per object), reporting each one to the parent through a pipe: SUBMIT (the
 * whole transaction) before osd_store_queue(), ACK once the callback fired.
 * The parent SIGKILLs the child 5-300 ms after it started writing, reopens
 * the store and checks every object (data, size, xattrs, omap) against its
 * model: the state after the acknowledged transactions, or after the one
 * in-flight transaction too, which must then be present in all of its objects
 * or in none. A deep fsck must report no error. Every seventh round kills
 * the child 0-30 ms after fork instead, while it opens the store and replays
 * deferred writes; every tenth round the child closes the store cleanly, and
 * nothing may be left in flight.
 *
 * SIGKILL keeps the page cache, so this proves process-crash consistency;
 * power loss needs the simulated disk (tests/sim). Run by ctest (labels
 * store, fault); `store_crash --help` lists the options. */
#define _GNU_SOURCE
#include "store_crash.h"

#include <sys/mman.h>

/* ---- The parent: kills, reopens, checks ------------------------------- */

struct crash_test {
    /* Options. */
    uint64_t seed;
    unsigned rounds;
    unsigned seconds; /* stop after this long; 0: no limit */
    enum osd_io_backend backend;
    const char *base_dir;
    bool keep;
    /* State. */
    char dir[PATH_MAX]; /* the store */
    struct rng rng;
    struct obj_state model[N_OBJ];        /* state after the acknowledged transactions */
    struct obj_state found[N_OBJ];        /* what the store holds after a crash */
    struct obj_state after;               /* scratch: model plus an in-flight transaction */
    struct txn_desc pending[CHILD_DEPTH]; /* submitted, not acknowledged */
    unsigned npending;
    uint64_t next_seq;
    unsigned round;
    /* Counters for the summary. */
    uint64_t acked, inflight_applied, inflight_dropped;
    unsigned killed_in_open; /* children killed before they reported READY */
};

static void test_opts(const struct crash_test *t, struct osd_store_opts *opts)
{
    osd_store_opts_default(opts);
    opts->data_size_bytes = DATA_SIZE_BYTES;
    opts->backend = t->backend;
    opts->sync = true;
    /* Odd rounds send every write of up to 64 KiB through the deferred path
     * (whole blocks included), even rounds only partial blocks. */
    opts->deferred_max_bytes = t->round % 2 ? 64u << 10 : 0;
}

static int fail(const struct crash_test *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints a failure with the round and seed; returns -1 for the caller to pass up. */
static int fail(const struct crash_test *t, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "FAIL round %u seed=%" PRIu64 ": ", t->round, t->seed);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

static int pending_find(const struct crash_test *t, uint64_t seq)
{
    for (unsigned i = 0; i < t->npending; i++)
        if (t->pending[i].seq == seq)
            return (int)i;
    return -1;
}

/* The child is ours, but its records still drive memcpy()s in the parent. */
static bool txn_is_valid(const struct txn_desc *d)
{
    if (d->nops == 0 || d->nops > TXN_OPS_MAX || d->coll >= N_COLL)
        return false;
    for (unsigned i = 0; i < d->nops; i++) {
        const struct op *op = &d->ops[i];

        if (op->code < OP_TOUCH || op->code > OP_OMAP_CLEAR || op->obj >= N_OBJ ||
            op->obj % N_COLL != d->coll || op->slot >= N_OMAP || op->len > OBJ_SIZE_MAX ||
            op->off > OBJ_SIZE_MAX - op->len)
            return false;
        if ((op->code == OP_SETXATTR || op->code == OP_OMAP_SET) && op->len > KV_VAL_MAX)
            return false;
        if ((op->code == OP_SETXATTR || op->code == OP_RMXATTR) && op->slot >= N_XATTR)
            return false;
    }
    return true;
}

static int handle_submit(struct crash_test *t, const struct txn_desc *d)
{
    if (d->seq != t->next_seq || !txn_is_valid(d) || t->npending == CHILD_DEPTH)
        return fail(t, "bad SUBMIT record: seq %" PRIu64 " (expected %" PRIu64 "), %u ops", d->seq,
                    t->next_seq, d->nops);
    for (unsigned i = 0; i < d->nops; i++)
        for (unsigned p = 0; p < t->npending; p++)
            if (crash_txn_touches(&t->pending[p], d->ops[i].obj))
                return fail(t, "txn %" PRIu64 ": object %u already has a txn in flight", d->seq,
                            d->ops[i].obj);
    t->pending[t->npending++] = *d;
    t->next_seq++;
    return 0;
}

static int handle_ack(struct crash_test *t, uint64_t seq, int result)
{
    int i = pending_find(t, seq);
    struct txn_desc *d;

    if (i < 0)
        return fail(t, "ACK for txn %" PRIu64 ", which is not in flight", seq);
    d = &t->pending[i];
    if (result != 0) {
        fail(t, "txn %" PRIu64 " failed: %d (%s); it was valid against the model", seq, result,
             strerror(-result));
        crash_txn_print(d);
        return -1;
    }
    for (unsigned obj = 0; obj < N_OBJ; obj++)
        crash_obj_apply_txn(&t->model[obj], obj, d);
    t->pending[i] = t->pending[--t->npending];
    t->acked++;
    return 0;
}

static int handle_rec(struct crash_test *t, const struct rec *rec)
{
    if (rec->magic != REC_MAGIC)
        return fail(t, "bad record from the child (magic 0x%08x)", rec->magic);
    switch (rec->type) {
    case REC_SUBMIT:
        return handle_submit(t, &rec->txn);
    case REC_ACK:
        return handle_ack(t, rec->txn.seq, rec->result);
    default:
        return fail(t, "unexpected record type %u from the child", rec->type);
    }
}

/* Reads one record: 1, 0 on timeout, -EPIPE at end of file, or -errno. */
static int rec_read(int fd, struct rec *rec, int timeout_ms)
{
    size_t have = 0;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    while (have < sizeof(*rec)) {
        int n = poll(&pfd, 1, have ? -1 : timeout_ms);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        ssize_t r = read(fd, (uint8_t *)rec + have, sizeof(*rec) - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return have ? -EBADMSG : -EPIPE;
        have += (size_t)r;
    }
    return 1;
}

static void describe_status(int status, char *buf, size_t cap)
{
    if (WIFEXITED(status))
        snprintf(buf, cap, "exited with %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, cap, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, cap, "status 0x%x", status);
}

enum round_kind {
    ROUND_KILL,      /* SIGKILL 5-300 ms after the child reported READY */
    ROUND_KILL_OPEN, /* SIGKILL 0-30 ms after fork: during open and its replay */
    ROUND_CLEAN,     /* the child closes the store and exits */
};

static enum round_kind round_kind_of(unsigned round)
{
    if (round % CLEAN_ROUND_EVERY == 0)
        return ROUND_CLEAN;
    return round % KILL_OPEN_ROUND_EVERY == 0 ? ROUND_KILL_OPEN : ROUND_KILL;
}

/* Follows the child's records until it is gone, killing it @delay_ms after
 * the moment @kind says. Returns 0 or -1 (after killing the child). */
static int round_follow(struct crash_test *t, int fd, pid_t pid, enum round_kind kind,
                        uint64_t delay_ms)
{
    uint64_t kill_at = kind == ROUND_KILL_OPEN ? crash_now_ms() + delay_ms : 0;
    bool killed = false, ready = false;
    struct rec rec;
    int rc;

    for (;;) {
        uint64_t now = crash_now_ms();
        int timeout = CHILD_TIMEOUT_MS;

        if (kill_at && !killed && now >= kill_at) {
            kill(pid, SIGKILL);
            killed = true;
        } else if (kill_at && !killed) {
            timeout = (int)(kill_at - now);
        }
        rc = rec_read(fd, &rec, timeout);
        if (rc == -EPIPE) {
            t->killed_in_open += killed && !ready;
            return 0;
        }
        if (rc == 0 && (killed || !kill_at)) {
            kill(pid, SIGKILL);
            return fail(t, "no record from the child for %d ms", CHILD_TIMEOUT_MS);
        }
        if (rc > 0 && rec.magic == REC_MAGIC && rec.type == REC_READY) {
            ready = true;
            if (kind == ROUND_KILL)
                kill_at = crash_now_ms() + delay_ms;
            continue;
        }
        if (rc < 0 || (rc > 0 && handle_rec(t, &rec) < 0)) {
            kill(pid, SIGKILL);
            return rc < 0 ? fail(t, "reading from the child: %s", strerror(-rc)) : -1;
        }
    }
}

/* Checks how the child ended, given how the round was meant to end. */
static int check_child_status(struct crash_test *t, enum round_kind kind, int status)
{
    char how[96];

    describe_status(status, how, sizeof(how));
    if (kind == ROUND_CLEAN && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        return fail(t, "clean child %s", how);
    if (kind != ROUND_CLEAN && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        return fail(t, "child %s before it was killed", how);
    if (kind == ROUND_CLEAN && t->npending)
        return fail(t, "%u txns unacknowledged after a clean close", t->npending);
    return 0;
}

/* Runs the child of one round and collects its records. */
static int round_run_child(struct crash_test *t)
{
    enum round_kind kind = round_kind_of(t->round);
    struct round_cfg cfg = {.dir = t->dir,
                            .first_seq = t->next_seq,
                            .rng_seed = crash_mix64(t->seed ^ ((uint64_t)t->round << 32)),
                            .clean = kind == ROUND_CLEAN};
    uint64_t delay_ms =
        kind == ROUND_KILL_OPEN
            ? crash_rng_below(&t->rng, KILL_OPEN_DELAY_MS_MAX + 1)
            : KILL_DELAY_MS_MIN +
                  crash_rng_below(&t->rng, KILL_DELAY_MS_MAX - KILL_DELAY_MS_MIN + 1);
    int fds[2], status = 0, rc;
    pid_t pid;

    test_opts(t, &cfg.opts);
    if (pipe2(fds, O_CLOEXEC) < 0)
        return fail(t, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return fail(t, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* The child advances its model as it submits; the parent's (shared
         * memory) must only move with acknowledgements. */
        static struct obj_state own[N_OBJ];
        for (unsigned i = 0; i < N_OBJ; i++) {
            own[i] = (struct obj_state){.data = malloc(OBJ_SIZE_MAX)};
            if (!own[i].data)
                crash_die("out of memory");
            crash_obj_copy(&own[i], &t->model[i]);
        }
        close(fds[0]);
        crash_child_main(fds[1], own, &cfg);
    }
    close(fds[1]);
    rc = round_follow(t, fds[0], pid, kind, delay_ms);
    close(fds[0]);
    if (rc < 0)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return rc < 0 ? rc : check_child_status(t, kind, status);
}

/* Resolves in-flight transaction @d: all of its objects must show it, or none. */
static int resolve_pending(struct crash_test *t, const struct txn_desc *d)
{
    bool all_before = true, all_after = true;
    char msg_before[N_OBJ][320], msg_after[N_OBJ][320];

    for (unsigned obj = 0; obj < N_OBJ; obj++) {
        if (!crash_txn_touches(d, obj))
            continue;
        crash_obj_copy(&t->after, &t->model[obj]);
        crash_obj_apply_txn(&t->after, obj, d);
        all_before &= crash_obj_equal(&t->model[obj], &t->found[obj], msg_before[obj], 320);
        all_after &= crash_obj_equal(&t->after, &t->found[obj], msg_after[obj], 320);
    }
    if (all_after) {
        for (unsigned obj = 0; obj < N_OBJ; obj++)
            crash_obj_apply_txn(&t->model[obj], obj, d);
        t->inflight_applied++;
        return 0;
    }
    if (all_before) {
        t->inflight_dropped++;
        return 0;
    }
    fail(t,
         "in-flight txn %" PRIu64 " is torn or corrupt: its objects match neither the "
         "state before it nor the state after it",
         d->seq);
    crash_txn_print(d);
    for (unsigned obj = 0; obj < N_OBJ; obj++) {
        if (!crash_txn_touches(d, obj))
            continue;
        fprintf(stderr, "  obj %u vs before: %s\n", obj,
                crash_obj_equal(&t->model[obj], &t->found[obj], msg_before[obj], 320) ? "equal"
                                                                                : msg_before[obj]);
        crash_obj_copy(&t->after, &t->model[obj]);
        crash_obj_apply_txn(&t->after, obj, d);
        fprintf(stderr, "  obj %u vs after:  %s\n", obj,
                crash_obj_equal(&t->after, &t->found[obj], msg_after[obj], 320) ? "equal"
                                                                          : msg_after[obj]);
    }
    return -1;
}

struct list_check {
    bool seen[N_OBJ];
    unsigned coll;
    char err[128];
};

static int list_cb(const void *key, size_t key_len, const void *value, size_t value_len, void *arg)
{
    struct list_check *l = arg;
    char oid[64];

    (void)value, (void)value_len;
    for (unsigned obj = l->coll; obj < N_OBJ; obj += N_COLL) {
        crash_oid_name(obj, oid, sizeof(oid));
        if (strlen(oid) == key_len && memcmp(oid, key, key_len) == 0 && !l->seen[obj]) {
            l->seen[obj] = true;
            return 0;
        }
    }
    snprintf(l->err, sizeof(l->err), "unexpected or repeated name '%.*s'", (int)key_len,
             (const char *)key);
    return 1;
}

/* Object listings must name exactly the objects that exist. */
static int check_listing(struct crash_test *t, struct osd_store *st)
{
    for (unsigned c = 0; c < N_COLL; c++) {
        struct list_check l = {.coll = c};
        char coll[32];
        bool more = false;
        int rc;

        crash_coll_name(c, coll, sizeof(coll));
        rc = osd_store_list(st, coll, NULL, 1000, list_cb, &l, &more);
        if (rc != 0 || more)
            return fail(t, "osd_store_list %s: %d more=%d %s", coll, rc, more, l.err);
        for (unsigned obj = c; obj < N_OBJ; obj += N_COLL)
            if (l.seen[obj] != t->model[obj].exists)
                return fail(t, "osd_store_list %s: obj %u listed=%d, exists=%d", coll, obj,
                            l.seen[obj], t->model[obj].exists);
    }
    return 0;
}

static int check_objects(struct crash_test *t, struct osd_store *st)
{
    char msg[320];
    int rc;

    for (unsigned obj = 0; obj < N_OBJ; obj++) {
        rc = crash_obj_load(st, obj, &t->found[obj], msg, sizeof(msg));
        if (rc < 0)
            return fail(t, "obj %u: reading it back: %s", obj, msg);
    }
    for (unsigned i = 0; i < t->npending; i++)
        if (resolve_pending(t, &t->pending[i]) < 0)
            return -1;
    for (unsigned obj = 0; obj < N_OBJ; obj++) {
        bool in_flight = false;

        for (unsigned i = 0; i < t->npending; i++)
            in_flight |= crash_txn_touches(&t->pending[i], obj);
        if (!in_flight && !crash_obj_equal(&t->model[obj], &t->found[obj], msg, sizeof(msg)))
            return fail(t, "obj %u lost acknowledged state: %s", obj, msg);
    }
    t->npending = 0;
    return check_listing(t, st);
}

static int check_fsck(struct crash_test *t, struct osd_store *st)
{
    struct osd_fsck_report rep;
    struct osd_store_stats stats;
    int rc;

    memset(&rep, 0, sizeof(rep));
    rc = osd_store_fsck(st, true, &rep);
    if (rc < 0)
        return fail(t, "osd_store_fsck: %s", strerror(-rc));
    if (rep.errors)
        return fail(t,
                    "deep fsck: %" PRIu64 " errors (leaked %" PRIu64 ", double used %" PRIu64
                    ", bad records %" PRIu64 ", csum %" PRIu64 "): %s",
                    rep.errors, rep.blocks_leaked, rep.blocks_double_used, rep.bad_records,
                    rep.csum_errors, rep.first_error);
    osd_store_get_stats(st, &stats);
    if (stats.csum_errors)
        return fail(t, "%" PRIu64 " checksum errors on read", stats.csum_errors);
    if (osd_store_is_failed(st))
        return fail(t, "the store is failed after recovery");
    return 0;
}

/* Runs @fn in a forked child and returns what it returned (-1 if it died).
 * The parent itself never opens the store: RocksDB's background threads
 * would not exist in the children it forks later (fork copies only the
 * calling thread), and a child's memtable flush would wait for them
 * forever. @t and the model live in shared memory, so the child's updates
 * reach the parent. */
static int run_in_child(struct crash_test *t, int (*fn)(struct crash_test *))
{
    int status = 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return fail(t, "fork: %s", strerror(errno));
    if (pid == 0) {
        int rc = fn(t);
        fflush(NULL);
        _exit(rc < 0 ? 1 : 0);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1) {
        char how[64];
        describe_status(status, how, sizeof(how));
        return fail(t, "the checking process %s", how);
    }
    return -1;
}

/* Reopens the store after a crash and checks it against the model. */
static int round_verify(struct crash_test *t)
{
    struct osd_store_opts opts;
    struct osd_store *st;
    int rc;

    test_opts(t, &opts);
    rc = osd_store_open(t->dir, &opts, &st);
    if (rc < 0)
        return fail(t, "reopening the store: %s", strerror(-rc));
    rc = check_objects(t, st);
    if (rc == 0)
        rc = check_fsck(t, st);
    osd_store_close(st);
    return rc;
}

/* ---- Set-up and main ---------------------------------------------------- */

static int setup_store(struct crash_test *t)
{
    struct osd_store_opts opts;
    struct osd_store *st;
    char coll[32];
    int rc;

    test_opts(t, &opts);
    rc = osd_store_mkfs(t->dir, &opts);
    if (rc < 0)
        return fail(t, "osd_store_mkfs %s: %s", t->dir, strerror(-rc));
    rc = osd_store_open(t->dir, &opts, &st);
    if (rc < 0)
        return fail(t, "osd_store_open %s: %s", t->dir, strerror(-rc));
    for (unsigned c = 0; c < N_COLL && rc == 0; c++) {
        struct osd_txn *txn;

        crash_coll_name(c, coll, sizeof(coll));
        txn = osd_txn_create(coll);
        rc = txn ? osd_txn_create_collection(txn) : -ENOMEM;
        if (rc == 0)
            rc = osd_store_apply(st, txn);
        else if (txn)
            osd_txn_destroy(txn);
    }
    osd_store_close(st);
    return rc < 0 ? fail(t, "creating collections: %s", strerror(-rc)) : 0;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

static noreturn void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: store_crash [--seed N] [--rounds R] [--soak] [--seconds S]\n"
            "                   [--backend uring|aio|sync] [--dir DIR] [--keep]\n"
            "  --seed N     replay a run (the seed is printed first; or CAIRN_SEED=N)\n"
            "  --rounds R   crash rounds (default 50)\n"
            "  --soak       run until --seconds pass (default 3600)\n"
            "  --seconds S  stop after S seconds, whatever the rounds\n"
            "  --backend B  the store's I/O backend (default: the best available)\n"
            "  --dir DIR    where the temporary store goes (default $TMPDIR or /var/tmp)\n"
            "  --keep       keep the store directory (always kept on failure)\n");
    exit(status);
}

static unsigned long long parse_num(const char *opt, const char *s)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s ? s : "", &end, 0);
    if (!s || !*s || *end || errno || s[0] == '-') {
        fprintf(stderr, "store_crash: %s needs a number, got '%s'\n", opt, s ? s : "");
        usage(2);
    }
    return v;
}

static void parse_args(struct crash_test *t, int argc, char **argv)
{
    bool soak = false, have_seed = false;

    t->rounds = 50;
    t->backend = osd_io_backend_default();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            usage(0);
        else if (!strcmp(a, "--soak"))
            soak = true;
        else if (!strcmp(a, "--keep"))
            t->keep = true;
        else if (!strcmp(a, "--seed") && ++i)
            t->seed = parse_num(a, v), have_seed = true;
        else if (!strcmp(a, "--rounds") && ++i)
            t->rounds = (unsigned)parse_num(a, v);
        else if (!strcmp(a, "--seconds") && ++i)
            t->seconds = (unsigned)parse_num(a, v);
        else if (!strcmp(a, "--dir") && ++i && v)
            t->base_dir = v;
        else if (!strcmp(a, "--backend") && ++i && v && osd_io_backend_parse(v, &t->backend) == 0)
            continue;
        else {
            fprintf(stderr, "store_crash: bad argument '%s'\n", a);
            usage(2);
        }
    }
    if (soak) {
        t->rounds = UINT_MAX;
        t->seconds = t->seconds ? t->seconds : 3600;
    }
    if (!have_seed && getenv("CAIRN_SEED"))
        t->seed = parse_num("CAIRN_SEED", getenv("CAIRN_SEED")), have_seed = true;
    if (!have_seed)
        t->seed = crash_mix64((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
}

static int run_rounds(struct crash_test *t)
{
    uint64_t start = crash_now_ms();

    for (t->round = 1; t->round <= t->rounds; t->round++) {
        if (t->seconds && crash_now_ms() - start >= (uint64_t)t->seconds * 1000)
            break;
        if (round_run_child(t) < 0 || run_in_child(t, round_verify) < 0)
            return -1;
    }
    t->round--;
    printf("ok: %u rounds in %.1f s, %" PRIu64 " txns acknowledged, in flight at the crash: "
           "%" PRIu64 " applied, %" PRIu64 " dropped; %u children killed while opening\n",
           t->round, (double)(crash_now_ms() - start) / 1000.0, t->acked, t->inflight_applied,
           t->inflight_dropped, t->killed_in_open);
    return 0;
}

int main(int argc, char **argv)
{
    struct crash_test *tp = mmap(NULL, sizeof(*tp), PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    const char *base;
    int rc;

    if (tp == MAP_FAILED)
        crash_die("mmap: %s", strerror(errno));

    parse_args(tp, argc, argv);
    cairn_log_set_level(CAIRN_LOG_WARN); /* recovery reports each replay at INFO */
    printf("seed=%" PRIu64 "\n", tp->seed);
    fflush(stdout);
    tp->rng.s = tp->seed;
    tp->next_seq = 1;
    for (unsigned i = 0; i < N_OBJ; i++) {
        crash_obj_init(&tp->model[i]);
        crash_obj_init(&tp->found[i]);
    }
    crash_obj_init(&tp->after);
    base = tp->base_dir ? tp->base_dir : getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
    snprintf(tp->dir, sizeof(tp->dir), "%s/cairn-store-crash.XXXXXX", base);
    if (!mkdtemp(tp->dir))
        crash_die("mkdtemp %s: %s", tp->dir, strerror(errno));
    printf("store in %s, backend %s\n", tp->dir, osd_io_backend_name(tp->backend));
    rc = run_in_child(tp, setup_store);
    if (rc == 0)
        rc = run_rounds(tp);
    if (rc < 0)
        fprintf(stderr, "store kept in %s; replay with --seed %" PRIu64 "\n", tp->dir, tp->seed);
    else if (!tp->keep)
        nftw(tp->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc < 0 ? 1 : 0;
}
