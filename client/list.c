/* Object listing (cairn_list in client/cairn.h): walks a pool's PGs in
 * order, asking each PG's primary for a page of names with
 * PROTO_MSG_OSD_LIST through the objecter (objecter.c), which places,
 * resends and times out the request like an op. The caller's callback runs
 * on the caller's thread, between pages. */
#include "client/internal.h"
#include "protocol/frame.h"
#include "protocol/monc.h"
#include "protocol/msg_types.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_PAGE_DEFAULT PROTO_OSD_LIST_MAX

/* One page of one PG. */
struct list_req {
    struct cairn__req req; /* first: req.call is the sync call */
    struct proto_osd_list wire;
    /* The answer, filled on the loop thread. */
    char **names;
    uint32_t n_names;
    bool more;
    uint32_t pg_num; /* the pool's PG count in the map of the answer */
};

static int list_encode(struct cairn__req *req, uint64_t epoch, uint32_t pg, uint8_t **meta,
                       size_t *meta_len, const void **data, size_t *data_len, void **owned)
{
    struct list_req *lr = (struct list_req *)req;

    lr->wire.epoch = epoch;
    lr->wire.pool = req->pool;
    lr->wire.pg = pg;
    *data = NULL;
    *data_len = 0;
    *owned = NULL;
    return proto_osd_list_encode(&lr->wire, meta, meta_len);
}

static void names_free(char **names, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Copies the names of @reply, which must come after @after in byte order. */
static int names_take(struct list_req *lr, const struct proto_osd_list_reply *reply)
{
    uint32_t max = lr->wire.max ? lr->wire.max : PROTO_OSD_LIST_MAX;

    if (reply->n_names > max)
        return -EIO;
    if (reply->n_names && !(lr->names = calloc(reply->n_names, sizeof(*lr->names))))
        return -ENOMEM;
    for (uint32_t i = 0; i < reply->n_names; i++) {
        const char *prev = i ? reply->names[i - 1] : lr->wire.after;
        int r = strcmp(reply->names[i], prev) <= 0 ? -EIO : 0;
        if (r == 0 && !(lr->names[i] = strdup(reply->names[i])))
            r = -ENOMEM;
        if (r < 0) {
            names_free(lr->names, i);
            lr->names = NULL;
            return r;
        }
    }
    lr->n_names = reply->n_names;
    lr->more = reply->more;
    return 0;
}

static int list_reply(struct cairn__req *req, struct proto_frame *f, uint64_t *epoch)
{
    struct list_req *lr = (struct list_req *)req;
    struct proto_osd_list_reply reply;
    const struct proto_map_pool *pool;

    int r = proto_osd_list_reply_decode(f->meta, f->hdr.meta_len, &reply);
    if (r < 0) {
        snprintf(req->why, sizeof(req->why), "osd.%d sent a malformed listing (%s)", req->osd,
                 strerror(-r));
        return -EIO;
    }
    if (reply.result == -ESTALE)
        *epoch = reply.epoch;
    r = reply.result < 0 ? reply.result : names_take(lr, &reply);
    if (r == -EIO)
        snprintf(req->why, sizeof(req->why), "osd.%d listed names out of order", req->osd);
    proto_osd_list_reply_release(&reply);
    pool = proto_map_pool(proto_monc_map(req->c->monc), req->pool);
    lr->pg_num = pool ? pool->pg_num : 0;
    return r;
}

static void list_done(struct cairn__req *req, int result)
{
    cairn__call_done(req->c, &req->call, result);
}

static const struct cairn__req_ops list_req_ops = {
    .encode = list_encode, .reply = list_reply, .done = list_done};

static void list_fn(struct cairn *c, struct cairn__msg *msg)
{
    cairn__req_submit(c, &((struct list_req *)msg)->req);
}

/* Asks for the page of cursor->pg after cursor->after, up to @max names. */
static int page_fetch(struct cairn *c, int32_t pool, const struct cairn_list_cursor *cur,
                      unsigned max, struct list_req *lr)
{
    memset(lr, 0, sizeof(*lr));
    lr->req.ops = &list_req_ops;
    lr->req.type = PROTO_MSG_OSD_LIST;
    lr->req.pool = pool;
    lr->req.pg = cur->pg;
    proto_osd_list_init(&lr->wire);
    snprintf(lr->wire.after, sizeof(lr->wire.after), "%s", cur->after);
    lr->wire.max = max > PROTO_OSD_LIST_MAX ? PROTO_OSD_LIST_MAX : max;
    int r = cairn__call_run(c, &lr->req.call, list_fn);
    cairn__set_reason(c, r, lr->req.why);
    return r;
}

int cairn_list(struct cairn *c, int32_t pool, struct cairn_list_cursor *cursor, unsigned max,
               cairn_list_fn fn, void *arg)
{
    struct list_req *lr;
    unsigned given = 0;
    int r = 0;

    if (!c || !cursor || !fn || strnlen(cursor->after, sizeof(cursor->after)) > CAIRN_OID_MAX)
        return -EINVAL;
    if (pool < 0)
        return -ENOENT;
    if (max == 0)
        max = LIST_PAGE_DEFAULT;
    if (!(lr = malloc(sizeof(*lr))))
        return -ENOMEM;
    while (r == 0 && !cursor->done && given < max) {
        if ((r = page_fetch(c, pool, cursor, max - given, lr)) < 0)
            break;
        uint32_t i = 0;
        for (; i < lr->n_names && r == 0; i++) {
            if ((r = fn(lr->names[i], arg)) == 0) {
                snprintf(cursor->after, sizeof(cursor->after), "%s", lr->names[i]);
                given++;
            }
        }
        if (r == 0 && !lr->more) {
            cursor->pg++;
            cursor->after[0] = '\0';
            cursor->done = cursor->pg >= lr->pg_num;
        }
        names_free(lr->names, lr->n_names);
    }
    free(lr);
    return r;
}
