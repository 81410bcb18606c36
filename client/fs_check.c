/* cairn_fs_check (client/fs.h): the consistency check of a volume nobody
 * is changing.
 *
 * 1. Rename intents (fs.VOL.intent.*): rolled forward when the new name
 *    exists (the old name is removed, a directory's parent pointer set),
 *    else back (nothing but the intent had happened); the intent goes.
 * 2. Every object of the volume is listed: the inodes (fs.VOL.i.*) and
 *    data stripes (fs.VOL.d.*).
 * 3. A breadth-first walk from the root over the directories' omaps counts
 *    each inode's names and each directory's subdirectories; entries
 *    naming a missing inode (or a directory's second name) are dangling.
 * 4. Each inode: none of its names found is an orphan (removed with its
 *    data); else nlink must be the names found (2 + subdirectories for a
 *    directory) and a directory's parent pointer the directory it was
 *    found in: bad_nlink.
 * 5. Data stripes of inodes that do not exist count as orphans too.
 * Repairs are counted in report->repaired as they succeed. */
#include "client/fs_internal.h"
#include "common/bytes.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PAGE 1000u
#define INTENT_MAX (64u + 2u * CAIRN_FS_NAME_MAX)

/* ---- intents ---- */

size_t cairn__fs_intent_encode(const struct cairn__fs_intent *in, uint8_t *buf)
{
    size_t s = strlen(in->src_name), d = strlen(in->dst_name);

    buf[0] = 1;
    cairn_put_le64(buf + 1, in->src);
    cairn_put_le64(buf + 9, in->dst);
    cairn_put_le64(buf + 17, in->ino);
    buf[25] = (uint8_t)(in->type >> 12);
    cairn_put_le64(buf + 26, in->replaced);
    buf[34] = (uint8_t)(in->replaced_type >> 12);
    buf[35] = (uint8_t)s;
    buf[36] = (uint8_t)(s >> 8);
    buf[37] = (uint8_t)d;
    buf[38] = (uint8_t)(d >> 8);
    memcpy(buf + 39, in->src_name, s);
    memcpy(buf + 39 + s, in->dst_name, d);
    return 39 + s + d;
}

int cairn__fs_intent_decode(const uint8_t *buf, size_t len, struct cairn__fs_intent *in)
{
    size_t s, d;

    if (len < 39 || buf[0] != 1)
        return -EIO;
    in->src = cairn_get_le64(buf + 1);
    in->dst = cairn_get_le64(buf + 9);
    in->ino = cairn_get_le64(buf + 17);
    in->type = (uint32_t)buf[25] << 12;
    in->replaced = cairn_get_le64(buf + 26);
    in->replaced_type = (uint32_t)buf[34] << 12;
    s = cairn_get_le(buf + 35, 2);
    d = cairn_get_le(buf + 37, 2);
    if (len != 39 + s + d || s > CAIRN_FS_NAME_MAX || d > CAIRN_FS_NAME_MAX)
        return -EIO;
    memcpy(in->src_name, buf + 39, s);
    in->src_name[s] = '\0';
    memcpy(in->dst_name, buf + 39 + s, d);
    in->dst_name[d] = '\0';
    if (!cairn__fs_name_is_valid(in->src_name) || !cairn__fs_name_is_valid(in->dst_name) ||
        !in->ino || !in->src || !in->dst)
        return -EIO;
    return 0;
}

/* ---- the object listing ---- */

struct node {
    uint64_t ino;
    uint64_t found_in; /* directory whose entry names it (directories) */
    uint64_t stripes;  /* stripes its size covers, once read */
    uint32_t refs, subdirs;
    bool exists, is_dir, read;
};

struct stripe {
    uint64_t ino, n;
};

struct walk {
    struct cairn_fs *fs;
    bool repair;
    struct cairn_fs_check_report *rep;
    char prefix[CAIRN__FS_OID_MAX];
    size_t prefix_len;
    struct node *nodes; /* open addressing by ino; ino 0 = empty */
    size_t cap, used;
    struct stripe *stripes;
    size_t n_stripes, cap_stripes;
    uint64_t *intents;
    size_t n_intents, cap_intents;
    uint64_t *locks, *sessions; /* lock objects by ino, sessions by id */
    size_t n_locks, cap_locks, n_sessions, cap_sessions;
};

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 256;
    void *p = realloc(*arr, c * size);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = c;
    return 0;
}

static struct node *node_find(struct walk *w, uint64_t ino, bool add);

static int nodes_rehash(struct walk *w)
{
    struct node *old = w->nodes;
    size_t old_cap = w->cap;

    w->cap = old_cap ? old_cap * 2 : 1024;
    if (!(w->nodes = calloc(w->cap, sizeof(*w->nodes)))) {
        w->nodes = old;
        w->cap = old_cap;
        return -ENOMEM;
    }
    w->used = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].ino)
            *node_find(w, old[i].ino, true) = old[i];
    free(old);
    return 0;
}

/* The node of @ino; with @add created when missing (NULL only on -ENOMEM
 * or when absent without @add). */
static struct node *node_find(struct walk *w, uint64_t ino, bool add)
{
    if (add && (w->used + 1) * 2 > w->cap && nodes_rehash(w) < 0)
        return NULL;
    if (w->cap == 0)
        return NULL;
    for (size_t i = (ino * 0x9e3779b97f4a7c15ull) & (w->cap - 1);; i = (i + 1) & (w->cap - 1)) {
        if (w->nodes[i].ino == ino)
            return &w->nodes[i];
        if (w->nodes[i].ino == 0) {
            if (!add)
                return NULL;
            memset(&w->nodes[i], 0, sizeof(w->nodes[i]));
            w->nodes[i].ino = ino;
            w->used++;
            return &w->nodes[i];
        }
    }
}

static bool parse_hex(const char *s, char end, uint64_t *v, const char **rest)
{
    uint64_t x = 0;
    int n = 0;

    for (; *s && *s != end; s++, n++) {
        int d = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
        if (d < 0 || n >= 16)
            return false;
        x = x << 4 | (uint64_t)d;
    }
    *v = x;
    *rest = s;
    return n > 0 && *s == end;
}

static int list_one(const char *name, void *arg)
{
    struct walk *w = arg;
    const char *s = name + w->prefix_len, *rest;
    uint64_t ino, n;

    if (strncmp(name, w->prefix, w->prefix_len) != 0)
        return 0;
    if (strncmp(s, "i.", 2) == 0 && parse_hex(s + 2, '\0', &ino, &rest) && ino) {
        struct node *nd = node_find(w, ino, true);
        if (!nd)
            return -ENOMEM;
        nd->exists = true;
    } else if (strncmp(s, "d.", 2) == 0 && parse_hex(s + 2, '.', &ino, &rest) &&
               parse_hex(rest + 1, '\0', &n, &rest)) {
        if (grow((void **)&w->stripes, &w->cap_stripes, w->n_stripes, sizeof(*w->stripes)) < 0)
            return -ENOMEM;
        w->stripes[w->n_stripes++] = (struct stripe){ino, n};
    } else if (strncmp(s, "l.", 2) == 0 && parse_hex(s + 2, '\0', &ino, &rest)) {
        if (grow((void **)&w->locks, &w->cap_locks, w->n_locks, sizeof(uint64_t)) < 0)
            return -ENOMEM;
        w->locks[w->n_locks++] = ino;
    } else if (strncmp(s, "s.", 2) == 0 && parse_hex(s + 2, '\0', &ino, &rest)) {
        if (grow((void **)&w->sessions, &w->cap_sessions, w->n_sessions, sizeof(uint64_t)) < 0)
            return -ENOMEM;
        w->sessions[w->n_sessions++] = ino;
    } else if (strncmp(s, "intent.", 7) == 0 && parse_hex(s + 7, '\0', &ino, &rest)) {
        if (grow((void **)&w->intents, &w->cap_intents, w->n_intents, sizeof(uint64_t)) < 0)
            return -ENOMEM;
        w->intents[w->n_intents++] = ino;
    }
    return 0;
}

static int list_all(struct walk *w)
{
    struct cairn_list_cursor cur;
    int r = 0;

    memset(&cur, 0, sizeof(cur));
    while (r == 0 && !cur.done)
        r = cairn_list(w->fs->c, w->fs->pool, &cur, 0, list_one, w);
    return r;
}

/* ---- step 1: intents ---- */

/* Entry @name of @dir (absent: *@has false). */
static int entry_get(struct cairn_fs *fs, uint64_t dir, const char *name, uint8_t *dent,
                     bool *has)
{
    char oid[CAIRN__FS_OID_MAX];
    size_t len = 0;
    struct cairn_op *op = cairn_op_create();
    int r;

    cairn__fs_oid_inode(oid, fs->vol, dir);
    r = cairn__fs_run(fs, oid, op,
                      op ? cairn_op_omap_get(op, name, strlen(name), dent, CAIRN__FS_DENT_LEN + 1,
                                             &len)
                         : 0);
    *has = r == 0 && len == CAIRN__FS_DENT_LEN;
    return r == -ENODATA || r == -ENOENT || r == -ERANGE || r == 0 ? 0 : r;
}

static int entry_cas(struct cairn_fs *fs, uint64_t dir, const char *name, const uint8_t *expect,
                     const uint8_t *value)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn_op *op = cairn_op_create();
    int r = op ? cairn_op_assert_exists(op) : 0;

    if (r == 0)
        r = cairn_op_omap_cas(op, name, strlen(name), expect, expect ? CAIRN__FS_DENT_LEN : 0,
                              value, value ? CAIRN__FS_DENT_LEN : 0);
    cairn__fs_oid_inode(oid, fs->vol, dir);
    return cairn__fs_run(fs, oid, op, r);
}

static int set_parent_fn(struct cairn_fs_attr *a, void *arg)
{
    a->parent = *(const uint64_t *)arg;
    return 0;
}

/* Finishes or undoes intent @id. */
static int intent_fix(struct walk *w, uint64_t id)
{
    char oid[CAIRN__FS_OID_MAX];
    uint8_t buf[INTENT_MAX + 1], want[CAIRN__FS_DENT_LEN], dent[CAIRN__FS_DENT_LEN + 1];
    struct cairn__fs_intent in;
    size_t len = 0;
    bool has;
    int r;

    cairn__fs_oid_intent(oid, w->fs->vol, id);
    if ((r = cairn_read(w->fs->c, w->fs->pool, oid, 0, sizeof(buf), buf, &len)) < 0)
        return r == -ENOENT ? 0 : r;
    w->rep->intents++;
    if (!w->repair)
        return 0;
    if (cairn__fs_intent_decode(buf, len, &in) == 0) {
        cairn__fs_dent_encode(in.ino, in.type, want);
        if ((r = entry_get(w->fs, in.dst, in.dst_name, dent, &has)) < 0)
            return r;
        if (has && memcmp(dent, want, CAIRN__FS_DENT_LEN) == 0) { /* forward */
            r = entry_cas(w->fs, in.src, in.src_name, want, NULL);
            if (r < 0 && r != -ECANCELED && r != -ENOENT)
                return r;
            if (S_ISDIR(in.type)) {
                r = cairn__fs_attr_update(w->fs, in.ino, set_parent_fn, &in.dst, NULL);
                if (r < 0 && r != -ENOENT)
                    return r;
            }
        } /* else back: nothing but the intent was written */
    }
    if ((r = cairn_remove(w->fs->c, w->fs->pool, oid)) < 0 && r != -ENOENT)
        return r;
    w->rep->repaired++;
    return 0;
}

/* ---- step 3: the walk ---- */

struct queue {
    uint64_t *q;
    size_t head, n, cap;
};

static int entry_visit(struct walk *w, struct queue *q, uint64_t dir, const struct cairn_kv *kv)
{
    uint64_t ino = 0;
    uint32_t type = 0;
    struct node *nd;
    bool bad = kv->key_len == 0 || kv->key_len > CAIRN_FS_NAME_MAX ||
               cairn__fs_dent_decode(kv->value, kv->value_len, &ino, &type) < 0;

    w->rep->entries++;
    nd = bad ? NULL : node_find(w, ino, false);
    if (nd && nd->exists && !(S_ISDIR(type) && nd->found_in)) {
        nd->refs++;
        if (S_ISDIR(type)) {
            nd->found_in = dir;
            nd->is_dir = true;
            node_find(w, dir, false)->subdirs++;
            if (grow((void **)&q->q, &q->cap, q->n, sizeof(uint64_t)) < 0)
                return -ENOMEM;
            q->q[q->n++] = ino;
        }
        return 0;
    }
    w->rep->dangling++;
    if (!w->repair)
        return 0;
    char oid[CAIRN__FS_OID_MAX];
    struct cairn_op *op = cairn_op_create();
    cairn__fs_oid_inode(oid, w->fs->vol, dir);
    int r = cairn__fs_run(w->fs, oid, op, op ? cairn_op_omap_rm(op, kv->key, kv->key_len) : 0);
    if (r == 0)
        w->rep->repaired++;
    return r;
}

static int dir_walk(struct walk *w, struct queue *q, uint64_t dir)
{
    char oid[CAIRN__FS_OID_MAX], after[CAIRN_OMAP_KEY_MAX];
    size_t after_len = 0;
    bool more = true;
    int r = 0;

    cairn__fs_oid_inode(oid, w->fs->vol, dir);
    w->rep->directories++;
    while (r == 0 && more) {
        struct cairn_kv_list *list = NULL;
        struct cairn_op *op = cairn_op_create();
        r = cairn__fs_run(w->fs, oid, op,
                          op ? cairn_op_omap_list(op, after_len ? after : NULL, after_len, PAGE,
                                                  &list)
                             : 0);
        if (r < 0)
            return r;
        more = list->more && list->n > 0;
        for (size_t i = 0; r == 0 && i < list->n; i++) {
            r = entry_visit(w, q, dir, &list->kv[i]);
            after_len = list->kv[i].key_len < sizeof(after) ? list->kv[i].key_len : 0;
            memcpy(after, list->kv[i].key, after_len);
        }
        cairn_kv_list_free(list);
    }
    return r;
}

static int walk_tree(struct walk *w)
{
    struct queue q = {0};
    struct node *root = node_find(w, CAIRN_FS_ROOT_INO, false);
    int r = 0;

    if (!root || !root->exists)
        return -EIO;
    root->is_dir = true;
    root->refs = 1;
    root->found_in = CAIRN_FS_ROOT_INO;
    if (grow((void **)&q.q, &q.cap, 0, sizeof(uint64_t)) < 0)
        return -ENOMEM;
    q.q[q.n++] = CAIRN_FS_ROOT_INO;
    while (r == 0 && q.head < q.n)
        r = dir_walk(w, &q, q.q[q.head++]);
    free(q.q);
    return r;
}

/* ---- step 4: inodes ---- */

struct fix_arg {
    uint32_t nlink;
    uint64_t parent;
};

static int fix_fn(struct cairn_fs_attr *a, void *arg)
{
    const struct fix_arg *f = arg;

    a->nlink = f->nlink;
    if (S_ISDIR(a->mode))
        a->parent = f->parent;
    return 0;
}

/* Inode @nd, read with result @r into @rd. */
static int inode_check(struct walk *w, struct node *nd, int r,
                       const struct cairn__fs_inode_rd *rd)
{
    struct cairn__fs_inode in;
    struct fix_arg f;

    if (r == 0)
        r = cairn__fs_inode_finish(rd, nd->ino, &in);
    else if (r == -ENODATA || r == -ERANGE)
        r = -EIO;
    if (r == -ENOENT)
        return 0;
    w->rep->inodes++;
    if (nd->refs == 0 || r == -EIO) { /* unreachable, or damaged beyond use */
        w->rep->orphans++;
        if (!w->repair)
            return 0;
        if ((r = cairn__fs_inode_destroy(w->fs, nd->ino, r == 0 ? in.a.size : 0)) == 0)
            w->rep->repaired++;
        return r;
    }
    if (r < 0)
        return r;
    nd->read = true;
    nd->stripes = in.a.size / CAIRN_FS_STRIPE_BYTES + (in.a.size % CAIRN_FS_STRIPE_BYTES != 0);
    f.nlink = nd->is_dir ? 2 + nd->subdirs : nd->refs;
    f.parent = nd->found_in;
    if (in.a.nlink == f.nlink && (!S_ISDIR(in.a.mode) || in.a.parent == f.parent))
        return 0;
    w->rep->bad_nlink++;
    if (!w->repair)
        return 0;
    if ((r = cairn__fs_attr_update(w->fs, nd->ino, fix_fn, &f, NULL)) == 0)
        w->rep->repaired++;
    return r;
}

/* Inode reads, READ_WINDOW at a time in flight (async ops): a volume's
 * inodes are read in about 1/READ_WINDOW of the round trips. */
#define READ_WINDOW 64u

struct read_slot {
    struct read_batch *b;
    struct node *nd;
    struct cairn__fs_inode_rd rd;
    int result;
};

struct read_batch {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned pending;
    struct read_slot slot[READ_WINDOW];
};

/* Loop thread: only records the result (repairs are synchronous calls). */
static void read_done(int result, struct cairn_op *op, void *arg)
{
    struct read_slot *s = arg;

    cairn_op_destroy(op);
    pthread_mutex_lock(&s->b->lock);
    s->result = result;
    s->b->pending--;
    pthread_cond_signal(&s->b->cond);
    pthread_mutex_unlock(&s->b->lock);
}

static void read_start(struct walk *w, struct read_batch *b, struct read_slot *s)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn_op *op = cairn_op_create();
    int r = op ? cairn__fs_inode_steps(op, &s->rd) : -ENOMEM;

    s->b = b;
    cairn__fs_oid_inode(oid, w->fs->vol, s->nd->ino);
    pthread_mutex_lock(&b->lock);
    b->pending++;
    pthread_mutex_unlock(&b->lock);
    if (r == 0)
        r = cairn_op_exec_async(w->fs->c, w->fs->pool, oid, op, read_done, s);
    if (r < 0) {
        cairn_op_destroy(op);
        s->result = r;
        pthread_mutex_lock(&b->lock);
        b->pending--;
        pthread_mutex_unlock(&b->lock);
    }
}

static int inodes_check(struct walk *w)
{
    struct read_batch *b = calloc(1, sizeof(*b));
    size_t i = 0;
    int r = 0;

    if (!b)
        return -ENOMEM;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, NULL);
    while (r == 0 && i < w->cap) {
        unsigned n = 0;
        for (; i < w->cap && n < READ_WINDOW; i++)
            if (w->nodes[i].ino && w->nodes[i].exists) {
                b->slot[n].nd = &w->nodes[i];
                read_start(w, b, &b->slot[n++]);
            }
        pthread_mutex_lock(&b->lock);
        while (b->pending > 0)
            pthread_cond_wait(&b->cond, &b->lock);
        pthread_mutex_unlock(&b->lock);
        for (unsigned k = 0; k < n; k++) {
            int rr = inode_check(w, b->slot[k].nd, b->slot[k].result, &b->slot[k].rd);
            if (r == 0)
                r = rr;
        }
    }
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
    free(b);
    return r;
}

static int stripes_check(struct walk *w)
{
    char oid[CAIRN__FS_OID_MAX];

    for (size_t i = 0; i < w->n_stripes; i++) {
        /* A stripe past the size: what a write cut off by a crash left. */
        const struct node *nd = node_find(w, w->stripes[i].ino, false);
        if (nd && nd->exists && (!nd->read || w->stripes[i].n < nd->stripes))
            continue;
        w->rep->orphans++;
        if (!w->repair)
            continue;
        cairn__fs_oid_data(oid, w->fs->vol, w->stripes[i].ino, w->stripes[i].n);
        int r = cairn_remove(w->fs->c, w->fs->pool, oid);
        if (r < 0 && r != -ENOENT)
            return r;
        w->rep->repaired++;
    }
    return 0;
}

/* Counts (and with repair removes) an object left behind. */
static int leftover(struct walk *w, const char *oid)
{
    w->rep->orphans++;
    if (!w->repair)
        return 0;
    int r = cairn_remove(w->fs->c, w->fs->pool, oid);
    if (r < 0 && r != -ENOENT)
        return r;
    w->rep->repaired++;
    return 0;
}

/* Lock objects of inodes that are gone, and sessions of clients that died
 * (no heartbeat within the lease; nobody uses the volume during a check). */
static int locks_check(struct walk *w)
{
    char oid[CAIRN__FS_OID_MAX];
    int r = 0;

    for (size_t i = 0; r == 0 && i < w->n_locks; i++) {
        const struct node *nd = node_find(w, w->locks[i], false);
        if (nd && nd->exists && nd->read)
            continue;
        cairn__fs_oid_locks(oid, w->fs->vol, w->locks[i]);
        r = leftover(w, oid);
    }
    for (size_t i = 0; r == 0 && i < w->n_sessions; i++) {
        bool alive = false;
        if ((r = cairn__fs_session_alive(w->fs, w->sessions[i], &alive)) < 0 || alive)
            continue;
        cairn__fs_oid_session(oid, w->fs->vol, w->sessions[i]);
        r = leftover(w, oid);
    }
    return r;
}

static int check_run(struct walk *w)
{
    int r = list_all(w);

    for (size_t i = 0; r == 0 && i < w->n_intents; i++)
        r = intent_fix(w, w->intents[i]);
    if (r < 0)
        return r;
    /* The intents' repairs changed the tree: list it afresh. */
    w->n_stripes = 0;
    w->n_intents = 0;
    w->n_locks = 0;
    w->n_sessions = 0;
    free(w->nodes);
    w->nodes = NULL;
    w->cap = w->used = 0;
    if ((r = list_all(w)) < 0 || (r = walk_tree(w)) < 0)
        return r;
    if ((r = inodes_check(w)) < 0 || (r = stripes_check(w)) < 0)
        return r;
    return locks_check(w);
}

int cairn_fs_check(struct cairn *c, int32_t pool, const char *name, bool repair,
                   struct cairn_fs_check_report *report)
{
    struct walk w = {.repair = repair};
    struct cairn_fs_check_report rep = {0};
    int r = cairn_fs_open(c, pool, name, &w.fs);

    if (r < 0)
        return r;
    w.rep = &rep;
    w.prefix_len =
        (size_t)snprintf(w.prefix, sizeof(w.prefix), "fs.%016" PRIx64 ".", w.fs->vol);
    r = check_run(&w);
    free(w.nodes);
    free(w.stripes);
    free(w.intents);
    free(w.locks);
    free(w.sessions);
    cairn_fs_close(w.fs);
    if (r == 0)
        *report = rep;
    return r;
}
