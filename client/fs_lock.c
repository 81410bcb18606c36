/* Locks that hold across clients (client/fs.h, "locks"): POSIX byte-range
 * and flock locks kept in the cluster.
 *
 * Each file's locks are the omap of fs.VOL.l.INO, one entry per held range:
 *   key   "SID.OWNER.K.START" (16 hex digits each; K 'p' POSIX, 'f' flock)
 *   value u8 version 1, u8 type (1 read, 2 write), u64 start, u64 end
 *         (inclusive), u32 pid
 * A change reads every entry and the object's version in one op, decides
 * (conflicts, the owner's merged ranges), then writes under
 * assert_version: a concurrent change by anyone makes it read again, so
 * two clients never both get conflicting locks.
 *
 * A session (fs.VOL.s.SID, xattr "beat": the wall clock in ns) says a
 * client still lives: written before its first lock, refreshed every
 * CAIRN_FS_LOCK_BEAT_S by a thread while the cairn_fs is open, removed at
 * close after its locks are released. A conflicting entry of a session
 * that is gone or older than the lease is dropped by whoever runs into it.
 *
 * This cairn_fs remembers which (inode, owner, kind) it holds locks on, so
 * close and flush release them without a round trip when there are none. */
#include "client/fs_internal.h"
#include "common/bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define LOCKS_MAX 4096u     /* entries of one file's lock object */
#define LOCK_VALUE_LEN 22u
#define LOCK_KEY_LEN 53u    /* 16 + 1 + 16 + 1 + 1 + 1 + 16 */
#define WAIT_MIN_MS 10
#define WAIT_MAX_MS 250
#define NS_PER_S 1000000000ll

/* ---- encodings ---- */

struct lk_ent {
    uint64_t sid, owner;
    char kind;
    struct cairn_fs_lock lk;
};

static char kind_char(enum cairn_fs_lock_kind kind)
{
    return kind == CAIRN_FS_LOCK_FLOCK ? 'f' : 'p';
}

static void lock_key(char *buf, const struct lk_ent *e)
{
    snprintf(buf, LOCK_KEY_LEN + 1, "%016" PRIx64 ".%016" PRIx64 ".%c.%016" PRIx64, e->sid,
             e->owner, e->kind, e->lk.start);
}

static void lock_value(uint8_t *out, const struct lk_ent *e)
{
    out[0] = 1;
    out[1] = e->lk.type == F_WRLCK ? 2 : 1;
    cairn_put_le64(out + 2, e->lk.start);
    cairn_put_le64(out + 10, e->lk.end);
    cairn_put_le(out + 18, e->lk.pid, 4);
}

/* -EIO when @kv is not an entry this file writes. */
static int lock_decode(const struct cairn_kv *kv, struct lk_ent *e)
{
    char key[LOCK_KEY_LEN + 1];
    const uint8_t *v = kv->value;
    uint64_t start;

    if (kv->key_len != LOCK_KEY_LEN || kv->value_len != LOCK_VALUE_LEN || v[0] != 1 ||
        (v[1] != 1 && v[1] != 2))
        return -EIO;
    memcpy(key, kv->key, LOCK_KEY_LEN);
    key[LOCK_KEY_LEN] = '\0';
    if (sscanf(key, "%16" SCNx64 ".%16" SCNx64 ".%c.%16" SCNx64, &e->sid, &e->owner, &e->kind,
               &start) != 4 || (e->kind != 'p' && e->kind != 'f'))
        return -EIO;
    e->lk.type = v[1] == 2 ? F_WRLCK : F_RDLCK;
    e->lk.start = cairn_get_le64(v + 2);
    e->lk.end = cairn_get_le64(v + 10);
    e->lk.pid = (uint32_t)cairn_get_le(v + 18, 4);
    return e->lk.start == start && e->lk.start <= e->lk.end ? 0 : -EIO;
}

void cairn__fs_oid_locks(char *buf, uint64_t vol, uint64_t ino)
{
    snprintf(buf, CAIRN__FS_OID_MAX, "fs.%016" PRIx64 ".l.%" PRIx64, vol, ino);
}

void cairn__fs_oid_session(char *buf, uint64_t vol, uint64_t sid)
{
    snprintf(buf, CAIRN__FS_OID_MAX, "fs.%016" PRIx64 ".s.%016" PRIx64, vol, sid);
}

/* ---- sessions ---- */

int64_t cairn__fs_lock_lease_ns = CAIRN_FS_LOCK_LEASE_S * NS_PER_S;

static int session_beat(struct cairn_fs *fs, uint64_t sid, bool create)
{
    char oid[CAIRN__FS_OID_MAX];
    uint8_t beat[8];
    struct cairn_op *op = cairn_op_create();
    int r = op ? 0 : -ENOMEM;

    cairn_put_le64(beat, (uint64_t)cairn__fs_now_ns());
    if (r == 0)
        r = create ? cairn_op_create_object(op, true) : cairn_op_assert_exists(op);
    if (r == 0)
        r = cairn_op_setxattr(op, "beat", beat, 8);
    cairn__fs_oid_session(oid, fs->vol, sid);
    return cairn__fs_run(fs, oid, op, r);
}

/* Heartbeats until cairn__fs_locks_fini. A failed beat is retried at the
 * next one; a session that misses the lease loses its locks (fs.h). */
static void *beat_main(void *arg)
{
    struct cairn_fs *fs = arg;
    struct cairn__fs_locks *l = &fs->locks;
    struct timespec due;

    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        clock_gettime(CLOCK_MONOTONIC, &due);
        due.tv_sec += CAIRN_FS_LOCK_BEAT_S;
        while (!l->stop && pthread_cond_timedwait(&l->cv, &l->mu, &due) != ETIMEDOUT)
            ;
        if (l->stop)
            break;
        uint64_t sid = l->sid;
        pthread_mutex_unlock(&l->mu);
        (void)session_beat(fs, sid, false);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Our session id, starting the session on the first lock. */
static int session_get(struct cairn_fs *fs, uint64_t *sid)
{
    struct cairn__fs_locks *l = &fs->locks;
    int r = 0;

    pthread_mutex_lock(&l->session_mu);
    if (l->sid == 0) {
        uint64_t id = 0;
        while (id == 0)
            if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id))
                id = 0;
        if ((r = session_beat(fs, id, true)) == 0) {
            pthread_mutex_lock(&l->mu);
            l->sid = id;
            pthread_mutex_unlock(&l->mu);
            if ((r = pthread_create(&l->beat, NULL, beat_main, fs)) != 0)
                r = -r;
            else
                l->beating = true;
        }
    }
    *sid = l->sid;
    pthread_mutex_unlock(&l->session_mu);
    return r;
}

int cairn__fs_session_alive(struct cairn_fs *fs, uint64_t sid, bool *alive)
{
    char oid[CAIRN__FS_OID_MAX];
    uint8_t beat[9];
    size_t len = 0;
    struct cairn_op *op = cairn_op_create();
    int r = op ? cairn_op_getxattr(op, "beat", beat, sizeof(beat), &len) : -ENOMEM;

    cairn__fs_oid_session(oid, fs->vol, sid);
    r = cairn__fs_run(fs, oid, op, r);
    if (r == -ENOENT || r == -ENODATA || (r == 0 && len != 8)) {
        *alive = false;
        return 0;
    }
    if (r < 0)
        return r;
    *alive = cairn__fs_now_ns() - (int64_t)cairn_get_le64(beat) < cairn__fs_lock_lease_ns;
    return 0;
}

/* ---- what this cairn_fs holds ---- */

static ssize_t held_find(const struct cairn__fs_locks *l, uint64_t ino, uint64_t owner, char kind)
{
    for (size_t i = 0; i < l->n_held; i++)
        if (l->held[i].ino == ino && l->held[i].owner == owner && l->held[i].kind == kind)
            return (ssize_t)i;
    return -1;
}

static bool held_has(struct cairn_fs *fs, uint64_t ino, uint64_t owner, char kind)
{
    pthread_mutex_lock(&fs->locks.mu);
    bool has = held_find(&fs->locks, ino, owner, kind) >= 0;
    pthread_mutex_unlock(&fs->locks.mu);
    return has;
}

static int held_set(struct cairn_fs *fs, uint64_t ino, uint64_t owner, char kind, bool has)
{
    struct cairn__fs_locks *l = &fs->locks;
    int r = 0;

    pthread_mutex_lock(&l->mu);
    ssize_t i = held_find(l, ino, owner, kind);
    if (has && i < 0) {
        if (l->n_held == l->cap_held) {
            size_t cap = l->cap_held ? 2 * l->cap_held : 16;
            void *p = realloc(l->held, cap * sizeof(*l->held));
            if (!p)
                r = -ENOMEM;
            else {
                l->held = p;
                l->cap_held = cap;
            }
        }
        if (r == 0)
            l->held[l->n_held++] = (struct cairn__fs_held){ino, owner, kind};
    } else if (!has && i >= 0) {
        l->held[i] = l->held[--l->n_held];
    }
    pthread_mutex_unlock(&l->mu);
    return r;
}

/* ---- reading a file's locks ---- */

struct lock_set {
    uint64_t version; /* 0: no lock object */
    struct lk_ent *e;
    size_t n;
};

static void lock_set_free(struct lock_set *s)
{
    free(s->e);
    memset(s, 0, sizeof(*s));
}

static int lock_set_read(struct cairn_fs *fs, uint64_t ino, struct lock_set *s)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn_stat st;
    struct cairn_kv_list *list = NULL;
    struct cairn_op *op = cairn_op_create();
    int r = op ? cairn_op_stat(op, &st) : -ENOMEM;

    memset(s, 0, sizeof(*s));
    if (r == 0)
        r = cairn_op_omap_list(op, NULL, 0, LOCKS_MAX, &list);
    cairn__fs_oid_locks(oid, fs->vol, ino);
    r = cairn__fs_run(fs, oid, op, r);
    if (r == -ENOENT)
        return 0;
    if (r == 0 && list->more)
        r = -ENOLCK;
    if (r == 0 && list->n > 0 && !(s->e = calloc(list->n, sizeof(*s->e))))
        r = -ENOMEM;
    for (size_t i = 0; r == 0 && i < list->n; i++)
        r = lock_decode(&list->kv[i], &s->e[s->n++]);
    s->version = st.version;
    cairn_kv_list_free(list);
    if (r < 0)
        lock_set_free(s);
    return r;
}

static bool overlaps(const struct cairn_fs_lock *a, const struct cairn_fs_lock *b)
{
    return a->start <= b->end && b->start <= a->end;
}

/* The first live lock of another owner that conflicts with @want; dead
 * ones are marked (dead[i]) for the caller to drop. */
static int find_conflict(struct cairn_fs *fs, const struct lock_set *s, uint64_t sid,
                         uint64_t owner, char kind, const struct cairn_fs_lock *want, bool *dead,
                         const struct lk_ent **out)
{
    *out = NULL;
    for (size_t i = 0; i < s->n; i++) {
        const struct lk_ent *e = &s->e[i];
        bool alive = true;
        int r;
        if (e->kind != kind || (e->sid == sid && e->owner == owner) ||
            !overlaps(&e->lk, want) || (e->lk.type == F_RDLCK && want->type == F_RDLCK))
            continue;
        if (e->sid != sid && (r = cairn__fs_session_alive(fs, e->sid, &alive)) < 0)
            return r;
        if (!alive) {
            dead[i] = true;
            continue;
        }
        *out = e;
        return 0;
    }
    return 0;
}

/* ---- changing them ---- */

/* The op that replaces @owner's ranges with the result of applying @want
 * (POSIX: merge same-type neighbours, cut the rest) and drops @dead. */
struct lock_plan {
    struct cairn_op *op;
    char (*keys)[LOCK_KEY_LEN + 1];
    uint8_t (*vals)[LOCK_VALUE_LEN];
    size_t n_keys, n_vals, cap;
    bool owner_left; /* the owner still holds a range after the change */
};

static int plan_rm(struct lock_plan *p, const struct lk_ent *e)
{
    if (p->n_keys >= p->cap)
        return -ENOLCK;
    lock_key(p->keys[p->n_keys], e);
    return cairn_op_omap_rm(p->op, p->keys[p->n_keys++], LOCK_KEY_LEN);
}

static int plan_set(struct lock_plan *p, const struct lk_ent *e)
{
    if (p->n_keys >= p->cap)
        return -ENOLCK;
    lock_key(p->keys[p->n_keys], e);
    lock_value(p->vals[p->n_vals], e);
    p->owner_left = true;
    return cairn_op_omap_set(p->op, p->keys[p->n_keys++], LOCK_KEY_LEN, p->vals[p->n_vals++],
                             LOCK_VALUE_LEN);
}

/* Pieces of the owner's entry @e that stay after @want is applied. */
static int plan_cut(struct lock_plan *p, const struct lk_ent *e, const struct cairn_fs_lock *want)
{
    struct lk_ent piece = *e;
    int r = plan_rm(p, e);

    if (r == 0 && e->lk.start < want->start) {
        piece.lk.end = want->start - 1;
        r = plan_set(p, &piece);
    }
    if (r == 0 && e->lk.end > want->end) {
        piece.lk.start = want->end + 1;
        piece.lk.end = e->lk.end;
        r = plan_set(p, &piece);
    }
    return r;
}

static bool touches(const struct cairn_fs_lock *a, const struct cairn_fs_lock *b)
{
    return overlaps(a, b) || (a->end != UINT64_MAX && a->end + 1 == b->start) ||
           (b->end != UINT64_MAX && b->end + 1 == a->start);
}

static int plan_build(struct lock_plan *p, const struct lock_set *s, const bool *dead,
                      const struct lk_ent *want)
{
    struct lk_ent merged = *want;
    int r = 0;

    p->owner_left = false;
    for (size_t i = 0; r == 0 && i < s->n; i++) {
        const struct lk_ent *e = &s->e[i];
        bool mine = e->sid == want->sid && e->owner == want->owner && e->kind == want->kind;
        if (dead[i])
            r = plan_rm(p, e);
        else if (!mine)
            continue;
        else if (want->lk.type != F_UNLCK && e->lk.type == want->lk.type &&
                 touches(&e->lk, &want->lk)) {
            /* Same type: absorbed into one range (it overlapped nothing of
             * another type of ours, so growing over it cuts nothing). */
            merged.lk.start = e->lk.start < merged.lk.start ? e->lk.start : merged.lk.start;
            merged.lk.end = e->lk.end > merged.lk.end ? e->lk.end : merged.lk.end;
            r = plan_rm(p, e);
        } else if (overlaps(&e->lk, &want->lk)) {
            r = plan_cut(p, e, &want->lk);
        } else {
            p->owner_left = true;
        }
    }
    if (r == 0 && want->lk.type != F_UNLCK)
        r = plan_set(p, &merged);
    return r;
}

/* One attempt: 0 (done), -EAGAIN (conflict, *@conflict says with what),
 * -ECANCELED (changed under us: read again), or -errno. */
static int setlk_once(struct cairn_fs *fs, uint64_t ino, const struct lk_ent *want,
                      struct cairn_fs_lock *conflict)
{
    char oid[CAIRN__FS_OID_MAX];
    struct lock_set s;
    struct lock_plan p = {.cap = CAIRN_OP_STEPS_MAX - 2};
    const struct lk_ent *c = NULL;
    bool *dead = NULL;
    int r = lock_set_read(fs, ino, &s);

    if (r < 0)
        return r;
    p.keys = calloc(p.cap, sizeof(*p.keys));
    p.vals = calloc(p.cap, sizeof(*p.vals));
    dead = calloc(s.n + 1, sizeof(*dead));
    p.op = cairn_op_create();
    if (!p.keys || !p.vals || !dead || !p.op)
        r = -ENOMEM;
    if (r == 0 && want->lk.type != F_UNLCK)
        r = find_conflict(fs, &s, want->sid, want->owner, want->kind, &want->lk, dead, &c);
    if (r == 0 && c) {
        *conflict = c->lk;
        r = -EAGAIN;
    }
    if (r == 0)
        r = cairn_op_assert_version(p.op, s.version);
    if (r == 0 && s.version == 0)
        r = cairn_op_create_object(p.op, false);
    if (r == 0)
        r = plan_build(&p, &s, dead, want);
    if (r == 0) {
        cairn__fs_oid_locks(oid, fs->vol, ino);
        r = cairn_op_exec(fs->c, fs->pool, oid, p.op);
        if (r == -ENOENT || r == -EEXIST)
            r = -ECANCELED; /* created or removed meanwhile */
    }
    if (r == 0)
        r = held_set(fs, ino, want->owner, want->kind, p.owner_left);
    cairn_op_destroy(p.op);
    free(p.keys);
    free(p.vals);
    free(dead);
    lock_set_free(&s);
    return r;
}

static int lock_check(const struct cairn_fs_lock *lk)
{
    if (lk->type != F_RDLCK && lk->type != F_WRLCK && lk->type != F_UNLCK)
        return -EINVAL;
    return lk->start <= lk->end ? 0 : -EINVAL;
}

static void wait_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

int cairn_fs_setlk(struct cairn_fs *fs, uint64_t ino, uint64_t owner,
                   enum cairn_fs_lock_kind kind, const struct cairn_fs_lock *lk, bool wait,
                   cairn_fs_interrupted_fn interrupted, void *arg)
{
    struct lk_ent want = {.owner = owner, .kind = kind_char(kind), .lk = *lk};
    struct cairn_fs_lock conflict;
    int r = lock_check(lk), backoff = WAIT_MIN_MS;

    if (r < 0)
        return r;
    if (lk->type == F_UNLCK && !held_has(fs, ino, owner, want.kind))
        return 0;
    if ((r = session_get(fs, &want.sid)) < 0)
        return r;
    for (int tries = 0;;) {
        r = setlk_once(fs, ino, &want, &conflict);
        if (r == -ECANCELED && ++tries < 4 * CAIRN__FS_TRIES)
            continue;
        if (r != -EAGAIN || !wait)
            return r == -ECANCELED ? -EAGAIN : r;
        if (interrupted && interrupted(arg))
            return -EINTR;
        wait_ms(backoff);
        backoff = backoff * 2 > WAIT_MAX_MS ? WAIT_MAX_MS : backoff * 2;
        tries = 0;
    }
}

int cairn_fs_getlk(struct cairn_fs *fs, uint64_t ino, uint64_t owner, struct cairn_fs_lock *lk)
{
    struct lock_set s;
    const struct lk_ent *c = NULL;
    bool *dead;
    uint64_t sid;
    int r = lock_check(lk);

    if (r < 0 || lk->type == F_UNLCK)
        return r < 0 ? r : -EINVAL;
    pthread_mutex_lock(&fs->locks.mu);
    sid = fs->locks.sid;
    pthread_mutex_unlock(&fs->locks.mu);
    if ((r = lock_set_read(fs, ino, &s)) < 0)
        return r;
    if (!(dead = calloc(s.n + 1, sizeof(*dead))))
        r = -ENOMEM;
    if (r == 0)
        r = find_conflict(fs, &s, sid, owner, kind_char(CAIRN_FS_LOCK_POSIX), lk, dead, &c);
    if (r == 0 && c)
        *lk = c->lk;
    else if (r == 0)
        lk->type = F_UNLCK;
    free(dead);
    lock_set_free(&s);
    return r;
}

int cairn_fs_unlock_owner(struct cairn_fs *fs, uint64_t ino, uint64_t owner,
                          enum cairn_fs_lock_kind kind)
{
    struct cairn_fs_lock all = {.type = F_UNLCK, .start = 0, .end = CAIRN_FS_LOCK_EOF};

    return cairn_fs_setlk(fs, ino, owner, kind, &all, false, NULL, NULL);
}

/* ---- the cairn_fs's lifetime ---- */

void cairn__fs_locks_init(struct cairn_fs *fs)
{
    pthread_condattr_t ca;

    memset(&fs->locks, 0, sizeof(fs->locks));
    pthread_mutex_init(&fs->locks.mu, NULL);
    pthread_mutex_init(&fs->locks.session_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fs->locks.cv, &ca);
    pthread_condattr_destroy(&ca);
}

static void beat_stop(struct cairn__fs_locks *l)
{
    if (!l->beating)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->beat, NULL);
    l->beating = false;
}

void cairn__fs_locks_abandon(struct cairn_fs *fs)
{
    beat_stop(&fs->locks);
    pthread_mutex_lock(&fs->locks.mu);
    fs->locks.n_held = 0;
    fs->locks.sid = 0;
    pthread_mutex_unlock(&fs->locks.mu);
}

void cairn__fs_locks_fini(struct cairn_fs *fs)
{
    struct cairn__fs_locks *l = &fs->locks;
    char oid[CAIRN__FS_OID_MAX];

    while (l->n_held > 0) {
        struct cairn__fs_held h = l->held[l->n_held - 1];
        if (cairn_fs_unlock_owner(fs, h.ino, h.owner,
                                  h.kind == 'f' ? CAIRN_FS_LOCK_FLOCK : CAIRN_FS_LOCK_POSIX) < 0)
            (void)held_set(fs, h.ino, h.owner, h.kind, false); /* the lease frees it */
    }
    beat_stop(l);
    if (l->sid) {
        cairn__fs_oid_session(oid, fs->vol, l->sid);
        (void)cairn_remove(fs->c, fs->pool, oid);
    }
    free(l->held);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->session_mu);
    pthread_mutex_destroy(&l->mu);
}

int cairn__fs_locks_remove(struct cairn_fs *fs, uint64_t ino)
{
    char oid[CAIRN__FS_OID_MAX];

    cairn__fs_oid_locks(oid, fs->vol, ino);
    int r = cairn_remove(fs->c, fs->pool, oid);
    return r == -ENOENT ? 0 : r;
}
