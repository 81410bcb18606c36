/* The file system (client/fs.h): volumes, inode numbers, the encoded
 * attribute record and its compare-and-set updates, getattr, setattr,
 * access, extended attributes and statfs. Names are in fs_dir.c, data in
 * fs_data.c, the check in fs_check.c; the encodings are described at the
 * top of fs_internal.h.
 *
 * Every attribute change is a compare-and-set on the whole "attr" record
 * (cmpxattr on the old bytes, then setxattr), retried a bounded number of
 * times, so concurrent setattr/link/unlink from different clients never
 * lose one another's update. */
#include "client/cairn_admin.h"
#include "client/fs_internal.h"
#include "common/bytes.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define VOLUMES_OID "fs.volumes"
#define VOLREC_LEN 17u
#define XATTR_PREFIX "x."

/* ---- names, encodings, helpers ---- */

void cairn__fs_oid_super(char *buf, uint64_t vol)
{
    snprintf(buf, CAIRN__FS_OID_MAX, "fs.%016" PRIx64 ".super", vol);
}

void cairn__fs_oid_inode(char *buf, uint64_t vol, uint64_t ino)
{
    snprintf(buf, CAIRN__FS_OID_MAX, "fs.%016" PRIx64 ".i.%" PRIx64, vol, ino);
}

void cairn__fs_oid_data(char *buf, uint64_t vol, uint64_t ino, uint64_t stripe)
{
    snprintf(buf, CAIRN__FS_OID_MAX, "fs.%016" PRIx64 ".d.%" PRIx64 ".%" PRIx64, vol, ino,
             stripe);
}

void cairn__fs_oid_intent(char *buf, uint64_t vol, uint64_t id)
{
    snprintf(buf, CAIRN__FS_OID_MAX, "fs.%016" PRIx64 ".intent.%016" PRIx64, vol, id);
}

static int run_c(struct cairn *c, int32_t pool, const char *oid, struct cairn_op *op, int built)
{
    int r = !op ? -ENOMEM : built < 0 ? built : cairn_op_exec(c, pool, oid, op);

    cairn_op_destroy(op);
    return r;
}

int cairn__fs_run(struct cairn_fs *fs, const char *oid, struct cairn_op *op, int built)
{
    return run_c(fs->c, fs->pool, oid, op, built);
}

int64_t cairn__fs_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool volume_name_is_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > CAIRN_FS_VOLUME_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return false;
    }
    return true;
}

void cairn__fs_attr_encode(const struct cairn_fs_attr *a, uint8_t *p)
{
    p[0] = 1;
    cairn_put_le(p + 1, a->mode, 4);
    cairn_put_le(p + 5, a->uid, 4);
    cairn_put_le(p + 9, a->gid, 4);
    cairn_put_le(p + 13, a->nlink, 4);
    cairn_put_le64(p + 17, a->rdev);
    cairn_put_le64(p + 25, (uint64_t)a->atime_ns);
    cairn_put_le64(p + 33, (uint64_t)a->mtime_ns);
    cairn_put_le64(p + 41, (uint64_t)a->ctime_ns);
    cairn_put_le64(p + 49, a->parent);
}

int cairn__fs_attr_decode(const uint8_t *p, size_t len, struct cairn_fs_attr *a)
{
    uint32_t type;

    if (len != CAIRN__FS_ATTR_LEN || p[0] != 1)
        return -EIO;
    a->mode = (uint32_t)cairn_get_le(p + 1, 4);
    a->uid = (uint32_t)cairn_get_le(p + 5, 4);
    a->gid = (uint32_t)cairn_get_le(p + 9, 4);
    a->nlink = (uint32_t)cairn_get_le(p + 13, 4);
    a->rdev = cairn_get_le64(p + 17);
    a->atime_ns = (int64_t)cairn_get_le64(p + 25);
    a->mtime_ns = (int64_t)cairn_get_le64(p + 33);
    a->ctime_ns = (int64_t)cairn_get_le64(p + 41);
    a->parent = cairn_get_le64(p + 49);
    type = a->mode & S_IFMT;
    if (type != S_IFREG && type != S_IFDIR && type != S_IFLNK && type != S_IFIFO &&
        type != S_IFSOCK && type != S_IFCHR && type != S_IFBLK)
        return -EIO;
    if ((a->mode & ~(uint32_t)(S_IFMT | 07777)) != 0)
        return -EIO;
    return 0;
}

int cairn__fs_inode_steps(struct cairn_op *op, struct cairn__fs_inode_rd *rd)
{
    int r = cairn_op_getxattr(op, "attr", rd->attr, sizeof(rd->attr), &rd->attr_len);

    if (r == 0)
        r = cairn_op_getxattr(op, "size", rd->size, sizeof(rd->size), &rd->size_len);
    return r < 0 ? r
                 : cairn_op_getxattr(op, "wtime", rd->wtime, sizeof(rd->wtime), &rd->wtime_len);
}

/* The times callers see (fs_internal.h, "wtime"): a data or entry change
 * after the last attribute update moves mtime and ctime. */
static void times_apply(struct cairn_fs_attr *a, int64_t wtime)
{
    if (wtime > a->ctime_ns)
        a->mtime_ns = a->ctime_ns = wtime;
}

int cairn__fs_inode_finish(const struct cairn__fs_inode_rd *rd, uint64_t ino,
                           struct cairn__fs_inode *in)
{
    int r = cairn__fs_attr_decode(rd->attr, rd->attr_len, &in->a);

    if (r < 0 || rd->size_len != 8 || rd->wtime_len != 8)
        return -EIO;
    memcpy(in->raw, rd->attr, CAIRN__FS_ATTR_LEN);
    in->a.ino = ino;
    in->a.size = cairn_get_le64(rd->size);
    if (in->a.size > CAIRN_FS_FILE_MAX)
        return -EIO;
    times_apply(&in->a, (int64_t)cairn_get_le64(rd->wtime));
    return 0;
}

int cairn__fs_inode_create_steps(struct cairn_op *op, const struct cairn_fs_attr *a,
                                 const char *target, uint8_t rec[CAIRN__FS_ATTR_LEN])
{
    int r = cairn_op_create_object(op, true);

    cairn__fs_attr_encode(a, rec);
    if (r == 0)
        r = cairn_op_setxattr(op, "attr", rec, CAIRN__FS_ATTR_LEN);
    if (r == 0) /* absent before: these set the values */
        r = cairn_op_set_if_greater(op, "size", a->size, NULL);
    if (r == 0)
        r = cairn_op_set_if_greater(op, "wtime", 0, NULL);
    if (r == 0 && target)
        r = cairn_op_write_full(op, target, strlen(target));
    return r;
}

int cairn__fs_wtime_step(struct cairn_op *op)
{
    return cairn_op_set_if_greater(op, "wtime", (uint64_t)cairn__fs_now_ns(), NULL);
}

int cairn__fs_inode_read(struct cairn_fs *fs, uint64_t ino, struct cairn__fs_inode *in)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn__fs_inode_rd rd;
    struct cairn_op *op = cairn_op_create();
    int r;

    if (ino == 0)
        return -ENOENT;
    cairn__fs_oid_inode(oid, fs->vol, ino);
    r = cairn__fs_run(fs, oid, op, op ? cairn__fs_inode_steps(op, &rd) : 0);
    if (r == -ENODATA || r == -ERANGE)
        return -EIO;
    return r < 0 ? r : cairn__fs_inode_finish(&rd, ino, in);
}

int cairn__fs_attr_update(struct cairn_fs *fs, uint64_t ino, cairn__fs_attr_fn fn, void *arg,
                          struct cairn_fs_attr *out)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn__fs_inode in;
    uint8_t rec[CAIRN__FS_ATTR_LEN];

    cairn__fs_oid_inode(oid, fs->vol, ino);
    for (int tries = 0; tries < CAIRN__FS_TRIES; tries++) {
        int r = cairn__fs_inode_read(fs, ino, &in);
        if (r < 0)
            return r;
        if ((r = fn(&in.a, arg)) < 0)
            return r;
        cairn__fs_attr_encode(&in.a, rec);
        struct cairn_op *op = cairn_op_create();
        r = op ? cairn_op_cmpxattr(op, "attr", in.raw, sizeof(in.raw)) : 0;
        if (r == 0)
            r = cairn_op_setxattr(op, "attr", rec, sizeof(rec));
        r = cairn__fs_run(fs, oid, op, r);
        if (r == -ECANCELED)
            continue;
        if (r == 0 && out)
            *out = in.a;
        return r;
    }
    return -EAGAIN;
}

bool cairn__fs_may(const struct cairn_fs_cred *cred, const struct cairn_fs_attr *a, int mask)
{
    uint32_t bits;

    if (!cred || cred->uid == 0) {
        /* Root needs an x bit somewhere to execute, but may search dirs. */
        return !(mask & X_OK) || S_ISDIR(a->mode) || (a->mode & 0111);
    }
    if (cred->uid == a->uid) {
        bits = (a->mode >> 6) & 7;
    } else {
        bool in_group = cred->gid == a->gid;
        for (size_t i = 0; !in_group && i < cred->ngroups; i++)
            in_group = cred->groups[i] == a->gid;
        bits = in_group ? (a->mode >> 3) & 7 : a->mode & 7;
    }
    return ((unsigned)mask & 7u & ~bits) == 0;
}

static bool cred_in_group(const struct cairn_fs_cred *cred, uint32_t gid)
{
    if (cred->gid == gid)
        return true;
    for (size_t i = 0; i < cred->ngroups; i++)
        if (cred->groups && cred->groups[i] == gid)
            return true;
    return false;
}

int cairn__fs_ino_alloc(struct cairn_fs *fs, uint64_t *ino)
{
    char oid[CAIRN__FS_OID_MAX];
    int64_t end = 0;
    int r = 0;

    pthread_mutex_lock(&fs->lock);
    if (fs->ino_next >= fs->ino_end) {
        struct cairn_op *op = cairn_op_create();
        cairn__fs_oid_super(oid, fs->vol);
        r = op ? cairn_op_assert_exists(op) : 0;
        if (r == 0)
            r = cairn_op_counter_add(op, "next_ino", CAIRN__FS_INO_BATCH, &end);
        r = cairn__fs_run(fs, oid, op, r);
        if (r == 0 && end <= CAIRN__FS_INO_BATCH)
            r = -EIO;
        if (r == 0) {
            fs->ino_next = (uint64_t)end - CAIRN__FS_INO_BATCH;
            fs->ino_end = (uint64_t)end;
        }
    }
    if (r == 0)
        *ino = fs->ino_next++;
    pthread_mutex_unlock(&fs->lock);
    return r;
}

static int drop_one(struct cairn_fs_attr *a, void *arg)
{
    (void)arg;
    if (a->nlink > 0)
        a->nlink--;
    if (S_ISDIR(a->mode))
        a->nlink = 0; /* a directory has exactly one name */
    a->ctime_ns = cairn__fs_now_ns();
    return 0;
}

int cairn__fs_drop_link(struct cairn_fs *fs, uint64_t ino)
{
    struct cairn_fs_attr a;
    int r = cairn__fs_attr_update(fs, ino, drop_one, NULL, &a);

    if (r == -ENOENT)
        return 0; /* someone else finished the removal */
    if (r < 0 || a.nlink > 0)
        return r;
    return cairn__fs_inode_destroy(fs, ino, a.size);
}

/* ---- volumes ---- */

struct volrec {
    uint64_t id;
    int64_t created_s;
};

static int volrec_decode(const uint8_t *p, size_t len, struct volrec *v)
{
    if (len != VOLREC_LEN || p[0] != 1)
        return -EIO;
    v->id = cairn_get_le64(p + 1);
    v->created_s = (int64_t)cairn_get_le64(p + 9);
    return v->id ? 0 : -EIO;
}

static int volume_get(struct cairn *c, int32_t pool, const char *name, struct volrec *v)
{
    uint8_t buf[VOLREC_LEN + 1];
    size_t len = 0;
    struct cairn_op *op = cairn_op_create();
    int r = run_c(c, pool, VOLUMES_OID, op,
                  op ? cairn_op_omap_get(op, name, strlen(name), buf, sizeof(buf), &len) : 0);

    if (r == -ENODATA)
        return -ENOENT;
    if (r == -ERANGE)
        return -EIO;
    return r < 0 ? r : volrec_decode(buf, len, v);
}

/* The super object and the root directory of volume @id, each created
 * exclusively. */
static int volume_init(struct cairn *c, int32_t pool, uint64_t id)
{
    char oid[CAIRN__FS_OID_MAX];
    uint8_t next[8], rec[CAIRN__FS_ATTR_LEN];
    int64_t now = cairn__fs_now_ns();
    struct cairn_fs_attr root = {.mode = S_IFDIR | 0755, .nlink = 2, .atime_ns = now,
                                 .mtime_ns = now, .ctime_ns = now, .parent = CAIRN_FS_ROOT_INO};
    struct cairn_op *op = cairn_op_create();
    int r = op ? cairn_op_create_object(op, true) : 0;

    cairn_put_le64(next, CAIRN_FS_ROOT_INO + 1);
    if (r == 0)
        r = cairn_op_setxattr(op, "next_ino", next, 8);
    cairn__fs_oid_super(oid, id);
    if ((r = run_c(c, pool, oid, op, r)) < 0)
        return r;
    op = cairn_op_create();
    r = op ? cairn__fs_inode_create_steps(op, &root, NULL, rec) : 0;
    cairn__fs_oid_inode(oid, id, CAIRN_FS_ROOT_INO);
    return run_c(c, pool, oid, op, r);
}

struct purge {
    char prefix[CAIRN__FS_OID_MAX];
    size_t prefix_len;
    char **names;
    size_t n, cap;
};

static int purge_add(const char *name, void *arg)
{
    struct purge *p = arg;

    if (strncmp(name, p->prefix, p->prefix_len) != 0)
        return 0;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        char **names = realloc(p->names, cap * sizeof(*names));
        if (!names)
            return -ENOMEM;
        p->names = names;
        p->cap = cap;
    }
    if (!(p->names[p->n] = strdup(name)))
        return -ENOMEM;
    p->n++;
    return 0;
}

/* Removes every object whose name starts with "fs.VOL.". */
static int volume_purge(struct cairn *c, int32_t pool, uint64_t id)
{
    struct cairn_list_cursor cur;
    struct purge p = {0};
    struct cairn__fs_batch b;
    int r = 0;

    memset(&cur, 0, sizeof(cur));
    p.prefix_len = (size_t)snprintf(p.prefix, sizeof(p.prefix), "fs.%016" PRIx64 ".", id);
    while (r == 0 && !cur.done)
        r = cairn_list(c, pool, &cur, 0, purge_add, &p);
    cairn__fs_batch_init(&b, c, pool);
    for (size_t i = 0; i < p.n; i++) {
        if (r == 0)
            r = cairn__fs_batch_remove(&b, p.names[i]);
        free(p.names[i]);
    }
    int rr = cairn__fs_batch_finish(&b);
    free(p.names);
    return r < 0 ? r : rr;
}

int cairn_fs_create(struct cairn *c, int32_t pool, const char *name)
{
    struct volrec v;
    uint8_t rec[VOLREC_LEN];
    uint64_t id = 0;
    int r;

    if (!volume_name_is_valid(name))
        return -EINVAL;
    if ((r = volume_get(c, pool, name, &v)) != -ENOENT)
        return r == 0 || r == -EIO ? -EEXIST : r;
    while (id == 0)
        if (getrandom(&id, sizeof(id), 0) != sizeof(id))
            return -EIO;
    if ((r = volume_init(c, pool, id)) < 0)
        goto out_purge;
    rec[0] = 1;
    cairn_put_le64(rec + 1, id);
    cairn_put_le64(rec + 9, (uint64_t)(cairn__fs_now_ns() / 1000000000));
    struct cairn_op *op = cairn_op_create();
    r = run_c(c, pool, VOLUMES_OID, op,
              op ? cairn_op_omap_cas(op, name, strlen(name), NULL, 0, rec, sizeof(rec)) : 0);
    if (r == 0)
        return 0;
    if (r == -ECANCELED)
        r = -EEXIST;
out_purge:
    volume_purge(c, pool, id);
    return r;
}

int cairn_fs_remove(struct cairn *c, int32_t pool, const char *name)
{
    struct volrec v;
    uint8_t rec[VOLREC_LEN + 1];
    size_t len = 0;
    int r;

    if (!volume_name_is_valid(name))
        return -ENOENT;
    if ((r = volume_get(c, pool, name, &v)) < 0)
        return r;
    /* Objects first: a crash part way leaves the record, so rm can run again. */
    if ((r = volume_purge(c, pool, v.id)) < 0)
        return r;
    struct cairn_op *op = cairn_op_create();
    r = op ? cairn_op_omap_get(op, name, strlen(name), rec, sizeof(rec), &len) : 0;
    if (r == 0)
        r = cairn_op_omap_rm(op, name, strlen(name));
    r = run_c(c, pool, VOLUMES_OID, op, r);
    return r == -ENODATA ? -ENOENT : r;
}

int cairn_fs_list(struct cairn *c, int32_t pool, cairn_fs_list_fn fn, void *arg)
{
    char after[CAIRN_OMAP_KEY_MAX + 1] = "", name[CAIRN_FS_VOLUME_NAME_MAX + 1];
    size_t after_len = 0;
    struct cairn_kv_list *list = NULL;
    bool more = true;
    int r = 0;

    while (r == 0 && more) {
        struct cairn_op *op = cairn_op_create();
        r = run_c(c, pool, VOLUMES_OID, op,
                  op ? cairn_op_omap_list(op, after_len ? after : NULL, after_len, 0, &list)
                     : 0);
        if (r == -ENOENT)
            return 0; /* no volume was ever created */
        if (r < 0)
            return r;
        more = list->more && list->n > 0;
        for (size_t i = 0; r == 0 && i < list->n; i++) {
            struct cairn_kv *kv = &list->kv[i];
            struct volrec v;
            if (kv->key_len > CAIRN_OMAP_KEY_MAX) {
                r = -EIO;
                break;
            }
            after_len = kv->key_len;
            memcpy(after, kv->key, after_len);
            if (kv->key_len > CAIRN_FS_VOLUME_NAME_MAX || memchr(kv->key, '\0', kv->key_len))
                continue; /* not a name create could have made */
            memcpy(name, kv->key, kv->key_len);
            name[kv->key_len] = '\0';
            if (volrec_decode(kv->value, kv->value_len, &v) < 0)
                v.created_s = 0; /* listed anyway so that rm can still remove it */
            r = fn(name, v.created_s, arg);
        }
        cairn_kv_list_free(list);
        list = NULL;
    }
    return r;
}

int cairn_fs_open(struct cairn *c, int32_t pool, const char *name, struct cairn_fs **out)
{
    struct volrec v;
    struct cairn_fs *fs;
    int r;

    if (!volume_name_is_valid(name))
        return -ENOENT;
    if ((r = volume_get(c, pool, name, &v)) < 0)
        return r;
    if (!(fs = calloc(1, sizeof(*fs))))
        return -ENOMEM;
    fs->c = c;
    fs->pool = pool;
    fs->vol = v.id;
    pthread_mutex_init(&fs->lock, NULL);
    cairn__fs_locks_init(fs);
    *out = fs;
    return 0;
}

void cairn_fs_close(struct cairn_fs *fs)
{
    if (!fs)
        return;
    cairn__fs_locks_fini(fs);
    pthread_mutex_destroy(&fs->lock);
    free(fs);
}

/* ---- attributes ---- */

int cairn_fs_getattr(struct cairn_fs *fs, uint64_t ino, struct cairn_fs_attr *out)
{
    struct cairn__fs_inode in;
    int r = cairn__fs_inode_read(fs, ino, &in);

    if (r == 0)
        *out = in.a;
    return r;
}

int cairn_fs_access(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t ino,
                    int mask)
{
    struct cairn__fs_inode in;
    int r = cairn__fs_inode_read(fs, ino, &in);

    if (r < 0)
        return r;
    return cairn__fs_may(cred, &in.a, mask) ? 0 : -EACCES;
}

struct setattr_arg {
    const struct cairn_fs_cred *cred;
    const struct cairn_fs_attr *attr;
    unsigned to_set;
};

static bool is_owner(const struct cairn_fs_cred *cred, const struct cairn_fs_attr *a)
{
    return !cred || cred->uid == 0 || cred->uid == a->uid;
}

/* chmod and chown, POSIX's rules. */
static int set_owner_mode(struct cairn_fs_attr *a, const struct setattr_arg *s)
{
    const struct cairn_fs_cred *cred = s->cred;
    bool root = !cred || cred->uid == 0;

    if (s->to_set & (CAIRN_FS_SET_UID | CAIRN_FS_SET_GID)) {
        bool uid_change = (s->to_set & CAIRN_FS_SET_UID) && s->attr->uid != a->uid;
        bool gid_change = (s->to_set & CAIRN_FS_SET_GID) && s->attr->gid != a->gid;
        if (!root && (uid_change || !is_owner(cred, a)))
            return -EPERM;
        if (!root && gid_change && !cred_in_group(cred, s->attr->gid))
            return -EPERM;
        if (s->to_set & CAIRN_FS_SET_UID)
            a->uid = s->attr->uid;
        if (s->to_set & CAIRN_FS_SET_GID)
            a->gid = s->attr->gid;
        if (!S_ISDIR(a->mode))
            a->mode &= ~(uint32_t)(S_ISUID | S_ISGID);
    }
    if (s->to_set & CAIRN_FS_SET_MODE) {
        if (!is_owner(cred, a))
            return -EPERM;
        uint32_t mode = s->attr->mode & 07777;
        /* A non-root owner outside the file's group may not set setgid. */
        if (!root && !cred_in_group(cred, a->gid))
            mode &= ~(uint32_t)S_ISGID;
        a->mode = (a->mode & S_IFMT) | mode;
    }
    return 0;
}

static int set_times(struct cairn_fs_attr *a, const struct setattr_arg *s, int64_t now)
{
    unsigned explicit = s->to_set & (CAIRN_FS_SET_ATIME | CAIRN_FS_SET_MTIME);
    unsigned to_now = s->to_set & (CAIRN_FS_SET_ATIME_NOW | CAIRN_FS_SET_MTIME_NOW);

    if (explicit & ~(to_now >> 6)) {
        if (!is_owner(s->cred, a))
            return -EPERM;
    } else if (to_now && !is_owner(s->cred, a) && !cairn__fs_may(s->cred, a, W_OK)) {
        return -EACCES;
    }
    if (s->to_set & CAIRN_FS_SET_ATIME_NOW)
        a->atime_ns = now;
    else if (s->to_set & CAIRN_FS_SET_ATIME)
        a->atime_ns = s->attr->atime_ns;
    if (s->to_set & CAIRN_FS_SET_MTIME_NOW)
        a->mtime_ns = now;
    else if (s->to_set & CAIRN_FS_SET_MTIME)
        a->mtime_ns = s->attr->mtime_ns;
    return 0;
}

static int setattr_apply(struct cairn_fs_attr *a, void *arg)
{
    const struct setattr_arg *s = arg;
    int64_t now = cairn__fs_now_ns();
    int r = set_owner_mode(a, s);

    if (r == 0 && (s->to_set & (CAIRN_FS_SET_ATIME | CAIRN_FS_SET_MTIME |
                                CAIRN_FS_SET_ATIME_NOW | CAIRN_FS_SET_MTIME_NOW)))
        r = set_times(a, s, now);
    if (r == 0 && (s->to_set & CAIRN_FS_SET_SIZE) &&
        !(s->to_set & (CAIRN_FS_SET_MTIME | CAIRN_FS_SET_MTIME_NOW)))
        a->mtime_ns = now;
    a->ctime_ns = now;
    return r;
}

int cairn_fs_setattr(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t ino,
                     const struct cairn_fs_attr *attr, unsigned to_set,
                     struct cairn_fs_attr *out)
{
    struct setattr_arg s = {.cred = cred, .attr = attr, .to_set = to_set};
    struct cairn__fs_inode in;
    struct cairn_fs_attr a;
    int r;

    if (to_set & CAIRN_FS_SET_SIZE) {
        if ((r = cairn__fs_inode_read(fs, ino, &in)) < 0)
            return r;
        if (S_ISDIR(in.a.mode))
            return -EISDIR;
        if (!S_ISREG(in.a.mode))
            return -EINVAL;
        if (attr->size > CAIRN_FS_FILE_MAX)
            return -EFBIG;
        if (!cairn__fs_may(cred, &in.a, W_OK))
            return -EACCES;
        if ((r = cairn__fs_truncate(fs, ino, attr->size)) < 0)
            return r;
    }
    if ((r = cairn__fs_attr_update(fs, ino, setattr_apply, &s, &a)) < 0)
        return r;
    if (to_set & CAIRN_FS_SET_SIZE)
        a.size = attr->size;
    if (out) {
        /* The size lives in its own xattr: read it back with the rest. */
        if ((r = cairn__fs_inode_read(fs, ino, &in)) < 0)
            return r;
        *out = in.a;
    }
    return 0;
}

/* ---- extended attributes ---- */

/* "x.NAME" for an allowed @name: -EOPNOTSUPP outside user., security.,
 * trusted.; -EPERM for trusted. by non-root; -ERANGE when too long. */
static int xattr_key(const struct cairn_fs_cred *cred, const char *name, char *key, bool write)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0)
        return -EINVAL;
    if (n + 2 > CAIRN_XATTR_NAME_MAX)
        return -ERANGE;
    if (strncmp(name, "user.", 5) != 0 && strncmp(name, "security.", 9) != 0 &&
        strncmp(name, "trusted.", 8) != 0)
        return -EOPNOTSUPP;
    if (strncmp(name, "trusted.", 8) == 0 && cred && cred->uid != 0)
        return write ? -EPERM : -ENODATA;
    snprintf(key, CAIRN_XATTR_NAME_MAX + 1, XATTR_PREFIX "%s", name);
    return 0;
}

static int xattr_write(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t ino,
                       const char *name, const void *value, size_t len, int flags, bool rm)
{
    char key[CAIRN_XATTR_NAME_MAX + 1], oid[CAIRN__FS_OID_MAX];
    struct cairn__fs_inode in;
    size_t old_len = 0;
    void *old = NULL;
    int r = xattr_key(cred, name, key, true);

    if (r < 0)
        return r;
    if (!rm && len > CAIRN_FS_XATTR_VALUE_MAX)
        return -E2BIG;
    if ((r = cairn__fs_inode_read(fs, ino, &in)) < 0)
        return r;
    if (!is_owner(cred, &in.a) && !cairn__fs_may(cred, &in.a, W_OK))
        return -EACCES;
    if ((rm || (flags & XATTR_REPLACE)) && !(old = malloc(CAIRN_VALUE_MAX)))
        return -ENOMEM;
    cairn__fs_oid_inode(oid, fs->vol, ino);
    struct cairn_op *op = cairn_op_create();
    r = op ? cairn_op_assert_exists(op) : 0;
    /* The getxattr step makes an absent attribute fail the op (-ENODATA). */
    if (r == 0 && old)
        r = cairn_op_getxattr(op, key, old, CAIRN_VALUE_MAX, &old_len);
    if (r == 0 && (flags & XATTR_CREATE) && !rm)
        r = cairn_op_cmpxattr(op, key, NULL, 0);
    if (r == 0)
        r = rm ? cairn_op_rmxattr(op, key) : cairn_op_setxattr(op, key, value, len);
    r = cairn__fs_run(fs, oid, op, r);
    free(old);
    return r == -ECANCELED ? -EEXIST : r;
}

int cairn_fs_setxattr(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t ino,
                      const char *name, const void *value, size_t len, int flags)
{
    if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
        return -EINVAL;
    return xattr_write(fs, cred, ino, name, value, len, flags, false);
}

int cairn_fs_removexattr(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t ino,
                         const char *name)
{
    return xattr_write(fs, cred, ino, name, NULL, 0, 0, true);
}

int cairn_fs_getxattr(struct cairn_fs *fs, uint64_t ino, const char *name, void *value,
                      size_t cap, size_t *len)
{
    char key[CAIRN_XATTR_NAME_MAX + 1], oid[CAIRN__FS_OID_MAX];
    size_t got = 0;
    void *buf;
    int r = xattr_key(NULL, name, key, false);

    if (r < 0)
        return r == -ERANGE ? -ENODATA : r;
    if (!(buf = malloc(CAIRN_VALUE_MAX)))
        return -ENOMEM;
    cairn__fs_oid_inode(oid, fs->vol, ino);
    struct cairn_op *op = cairn_op_create();
    r = cairn__fs_run(fs, oid, op, op ? cairn_op_getxattr(op, key, buf, CAIRN_VALUE_MAX, &got) : 0);
    if (r == 0 && got > CAIRN_FS_XATTR_VALUE_MAX)
        r = -EIO;
    if (r == 0 && cap > 0 && got > cap)
        r = -ERANGE;
    if (r == 0) {
        if (cap > 0)
            memcpy(value, buf, got);
        *len = got;
    }
    free(buf);
    return r;
}

int cairn_fs_listxattr(struct cairn_fs *fs, uint64_t ino, char *list, size_t cap, size_t *len)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn_kv_list *kvs = NULL;
    size_t need = 0;
    struct cairn_op *op = cairn_op_create();
    int r;

    cairn__fs_oid_inode(oid, fs->vol, ino);
    if ((r = cairn__fs_run(fs, oid, op, op ? cairn_op_getxattrs(op, &kvs) : 0)) < 0)
        return r;
    for (int pass = 0; pass < 2 && r == 0; pass++) {
        size_t at = 0;
        for (size_t i = 0; i < kvs->n; i++) {
            const struct cairn_kv *kv = &kvs->kv[i];
            if (kv->key_len <= 2 || memcmp(kv->key, XATTR_PREFIX, 2) != 0 ||
                memchr(kv->key, '\0', kv->key_len))
                continue;
            if (pass == 1) {
                memcpy(list + at, (const char *)kv->key + 2, kv->key_len - 2);
                list[at + kv->key_len - 2] = '\0';
            }
            at += kv->key_len - 1;
        }
        need = at;
        if (pass == 0 && (cap == 0 || need == 0))
            break;
        if (pass == 0 && need > cap)
            r = -ERANGE;
    }
    cairn_kv_list_free(kvs);
    if (r == 0)
        *len = need;
    return r;
}

/* ---- statfs ---- */

/* Sizes come from the OSDs' stores as their beacons report them
 * (cairn_cluster_usage: raw bytes over the up and in OSDs), divided by the
 * pool's replica count, since every byte written costs that many. Only
 * while no usage is known yet (a cluster just started, or older OSDs or
 * monitors) does each in OSD count its weight in TiB (the weight's
 * documented meaning), all of it free. Inode counts: the volume's next_ino
 * counter plus a fixed 2^30 free, since inodes are objects, not a table. */
int cairn_fs_statfs(struct cairn_fs *fs, struct statvfs *out)
{
    struct proto_map *map = NULL;
    char oid[CAIRN__FS_OID_MAX];
    uint8_t next[8];
    size_t next_len = 0;
    uint64_t weight = 0, replicas = 1, blocks, bfree, files = 0, total = 0, used = 0;
    bool known = cairn_cluster_usage(fs->c, &total, &used) == 0;
    int r = cairn_map_get(fs->c, &map);

    if (r < 0)
        return r;
    for (uint32_t i = 0; i < map->n_osds; i++)
        if (map->osds[i].exists && map->osds[i].in)
            weight += map->osds[i].weight;
    const struct proto_map_pool *p = proto_map_pool(map, fs->pool);
    if (p && p->size > 0)
        replicas = p->size;
    proto_map_destroy(map);
    if (known) {
        blocks = total / 4096 / replicas;
        bfree = (total - used) / 4096 / replicas;
    } else {
        /* weight is 16.16 TiB: bytes = weight << 24; blocks of 4 KiB = << 12. */
        blocks = bfree = (weight << 12) / replicas;
    }
    cairn__fs_oid_super(oid, fs->vol);
    struct cairn_op *op = cairn_op_create();
    r = cairn__fs_run(fs, oid, op, op ? cairn_op_getxattr(op, "next_ino", next, 8, &next_len) : 0);
    if (r == 0 && next_len == 8)
        files = cairn_get_le64(next);
    memset(out, 0, sizeof(*out));
    out->f_bsize = 4096;
    out->f_frsize = 4096;
    out->f_blocks = blocks;
    out->f_bfree = bfree;
    out->f_bavail = bfree;
    out->f_files = files + (1u << 30);
    out->f_ffree = 1u << 30;
    out->f_favail = 1u << 30;
    out->f_fsid = fs->vol;
    out->f_namemax = CAIRN_FS_NAME_MAX;
    return 0;
}
