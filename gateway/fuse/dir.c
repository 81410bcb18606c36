/* mount.cairn's directory handles: readdir and readdirplus paging.
 *
 * The library pages a directory by name ("entries after NAME"); the
 * kernel pages by the offsets we put in each entry. A handle keeps the
 * names of the entries of its last reply keyed by their offsets: the
 * kernel continues from one of them (the last, or an earlier one when the
 * caller's buffer filled mid-reply), so a listing of N entries costs N /
 * page-size library calls. Offsets: 1 and 2 are "." and "..", entries
 * count on from 3. An offset we no longer know (seekdir to an old
 * telldir) is found again by counting from the start: slow, but right. */
#include "gateway/fuse/internal.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIRST_OFF 3       /* the offset of the first real entry */
#define FETCH_MAX 1024u   /* entries asked from the library per reply */
/* The smallest entry in a reply (header plus an 8-byte name), to ask the
 * library for no more names than can fit. */
#define DIRENT_MIN 32u
#define DIRENTPLUS_MIN 160u
#define SKIP_PAGE 256u    /* entries per call when counting from the start */

struct ent {
    char *name;
    uint64_t ino;
    uint32_t mode; /* only the type bits */
};

struct ents {
    struct ent *v;
    unsigned n, cap;
    int err; /* collect's failure: it can only stop the walk, not fail it */
};

struct dirh {
    pthread_mutex_t lock; /* the kernel serialises a handle's readdirs; cheap insurance */
    struct ents last;     /* the entries of the last reply */
    off_t last_first_off; /* the offset of last.v[0] */
};

static void ents_clear(struct ents *es)
{
    for (unsigned i = 0; i < es->n; i++)
        free(es->v[i].name);
    free(es->v);
    *es = (struct ents){0};
}

/* The library's entry type: d_type values (DT_REG...) or st_mode type
 * bits; both become mode bits. */
static uint32_t type_mode(uint32_t type)
{
    return type > 15 ? (type & S_IFMT) : (uint32_t)DTTOIF(type);
}

static int collect(const char *name, uint64_t ino, uint32_t type, void *arg)
{
    struct ents *es = arg;

    if (es->n == es->cap) {
        unsigned cap = es->cap ? es->cap * 2 : 64;
        struct ent *v = realloc(es->v, cap * sizeof(*v));

        if (!v)
            return es->err = -ENOMEM;
        es->v = v;
        es->cap = cap;
    }
    es->v[es->n].name = strdup(name);
    if (!es->v[es->n].name)
        return es->err = -ENOMEM;
    es->v[es->n].ino = ino;
    es->v[es->n].mode = type_mode(type);
    es->n++;
    return 0;
}

/* Up to @max entries after @after into @es (emptied first). */
static int fetch(struct cairn_fs *fs, uint64_t ino, const char *after, unsigned max,
                 struct ents *es, bool *more)
{
    int rc;

    ents_clear(es);
    rc = cairn_fs_readdir(fs, ino, after, max, collect, es, more);
    if (rc >= 0 && es->err < 0)
        rc = es->err;
    return rc < 0 ? rc : 0;
}

/* The name of the @k-th entry (0-based) counted from the start into
 * *@name (malloc'd), for offsets the handle no longer knows. -ENOENT
 * when the directory is shorter now. */
static int nth_name(struct cairn_fs *fs, uint64_t ino, uint64_t k, char **name)
{
    struct ents es = {0};
    char *after = NULL;
    bool more = true;
    int rc = 0;

    while (rc == 0) {
        rc = fetch(fs, ino, after, SKIP_PAGE, &es, &more);
        if (rc == 0 && k < es.n) {
            free(after);
            after = es.v[k].name;
            es.v[k].name = NULL;
            break;
        }
        if (rc == 0 && (!more || es.n == 0))
            rc = -ENOENT;
        if (rc == 0) {
            k -= es.n;
            free(after);
            after = es.v[es.n - 1].name;
            es.v[es.n - 1].name = NULL;
        }
    }
    ents_clear(&es);
    if (rc < 0)
        free(after);
    else
        *name = after;
    return rc;
}

/* Where a reply for kernel offset @off starts: *@after (NULL: from the
 * first entry; malloc'd otherwise). */
static int resume_point(struct cairn_fs *fs, uint64_t ino, struct dirh *dh, off_t off,
                        char **after)
{
    *after = NULL;
    if (off < FIRST_OFF)
        return 0;
    if (off >= dh->last_first_off && off < dh->last_first_off + (off_t)dh->last.n) {
        *after = strdup(dh->last.v[off - dh->last_first_off].name);
        return *after ? 0 : -ENOMEM;
    }
    return nth_name(fs, ino, (uint64_t)(off - FIRST_OFF), after);
}

/* Appends one entry to the reply buffer; false when it does not fit. */
static bool add(fuse_req_t req, bool plus, char *buf, size_t size, size_t *used,
                const char *name, const struct cairn_fs_attr *a, off_t off)
{
    struct gw_fuse *g = gw_fuse_of(req);
    size_t need;

    if (plus) {
        struct fuse_entry_param e = {.ino = a->ino,
                                     .attr_timeout = g->attr_timeout_s,
                                     .entry_timeout = g->entry_timeout_s};

        gw_fuse_stat(a, &e.attr);
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            e.ino = 0; /* no entry for the kernel to cache, only the name */
        need = fuse_add_direntry_plus(req, buf + *used, size - *used, name, &e, off);
    } else {
        struct stat st = {.st_ino = a->ino, .st_mode = a->mode};

        need = fuse_add_direntry(req, buf + *used, size - *used, name, &st, off);
    }
    if (need > size - *used)
        return false;
    *used += need;
    return true;
}

/* Emits the fetched entries @es from offset @off on, as many as fit, and
 * moves those emitted into the handle for the next call (what is left in
 * @es is the caller's to free). */
static int emit(fuse_req_t req, bool plus, struct dirh *dh, struct ents *es, off_t off,
                char *buf, size_t size, size_t *used)
{
    struct cairn_fs *fs = gw_fuse_of(req)->fs;
    struct ents kept = {.v = calloc(es->n ? es->n : 1, sizeof(*kept.v)), .cap = es->n};
    int rc = kept.v ? 0 : -ENOMEM;

    for (unsigned i = 0; rc == 0 && i < es->n; i++) {
        struct ent *e = &es->v[i];
        struct cairn_fs_attr a = {.ino = e->ino, .mode = e->mode};

        if (plus) {
            rc = cairn_fs_getattr(fs, e->ino, &a);
            if (rc == -ENOENT) { /* removed since the listing: skip it */
                rc = 0;
                continue;
            }
            if (rc < 0) {
                if (kept.n > 0)
                    rc = 0; /* reply with what we have; the kernel asks again */
                break;
            }
        }
        if (!add(req, plus, buf, size, used, e->name, &a, off + kept.n))
            break;
        kept.v[kept.n++] = *e;
        e->name = NULL;
    }
    if (rc < 0) {
        ents_clear(&kept);
        return rc;
    }
    ents_clear(&dh->last);
    dh->last = kept;
    dh->last_first_off = off;
    return 0;
}

static unsigned fetch_max(size_t size, bool plus)
{
    size_t n = size / (plus ? DIRENTPLUS_MIN : DIRENT_MIN) + 1;

    return n < FETCH_MAX ? (unsigned)n : FETCH_MAX;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi, bool plus)
{
    struct cairn_fs *fs = gw_fuse_of(req)->fs;
    struct dirh *dh = (struct dirh *)(uintptr_t)fi->fh;
    struct cairn_fs_attr self = {.ino = ino, .mode = S_IFDIR};
    struct ents es = {0};
    char *buf = malloc(size), *after = NULL;
    size_t used = 0;
    bool more = false; /* unused: an empty reply tells the kernel the end */
    int rc = buf ? 0 : -ENOMEM;

    pthread_mutex_lock(&dh->lock);
    if (rc == 0 && off < 1 && add(req, plus, buf, size, &used, ".", &self, 1))
        off = 1;
    if (rc == 0 && off == 1 && add(req, plus, buf, size, &used, "..", &self, 2))
        off = 2;
    if (rc == 0 && off >= 2)
        rc = resume_point(fs, ino, dh, off, &after);
    if (rc == 0 && off >= 2)
        rc = fetch(fs, ino, after, fetch_max(size, plus), &es, &more);
    if (rc == 0 && off >= 2)
        rc = emit(req, plus, dh, &es, off < FIRST_OFF ? FIRST_OFF : off + 1, buf, size, &used);
    if (rc == -ENOENT && off >= FIRST_OFF)
        rc = 0; /* resuming past the end of a directory that shrank */
    pthread_mutex_unlock(&dh->lock);
    if (rc < 0)
        gw_fuse_reply_err(req, rc);
    else
        fuse_reply_buf(req, buf, used);
    ents_clear(&es);
    free(after);
    free(buf);
}

void gw_fuse_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, fi, false);
}

void gw_fuse_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                         struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, fi, true);
}

void gw_fuse_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct gw_fuse_cred cb;
    struct cairn_fs_attr a;
    struct dirh *dh;
    int rc = cairn_fs_getattr(gw_fuse_of(req)->fs, ino, &a);

    if (rc == 0 && !S_ISDIR(a.mode))
        rc = -ENOTDIR;
    /* Without default_permissions nothing else checks read permission. */
    if (rc == 0)
        rc = cairn_fs_access(gw_fuse_of(req)->fs, gw_fuse_cred(req, &cb), ino, R_OK);
    if (rc < 0) {
        gw_fuse_reply_err(req, rc);
        return;
    }
    dh = calloc(1, sizeof(*dh));
    if (!dh) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    pthread_mutex_init(&dh->lock, NULL);
    fi->fh = (uintptr_t)dh;
    fuse_reply_open(req, fi);
}

void gw_fuse_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct dirh *dh = (struct dirh *)(uintptr_t)fi->fh;

    (void)ino;
    ents_clear(&dh->last);
    pthread_mutex_destroy(&dh->lock);
    free(dh);
    fuse_reply_err(req, 0);
}
