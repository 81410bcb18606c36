/* PG commands (cairn_pg_scrub in client/cairn_admin.h): asks a PG's primary
 * to scrub or deep-scrub it with PROTO_MSG_OSD_PG_CMD through the objecter
 * (objecter.c), which places, resends and times out the request like a
 * listing. A scrub may outlast one attempt: the resend attaches to the scrub
 * already running on the OSD, so the request is bounded by the connection's
 * timeout rather than client_op_timeout. */
#include "client/cairn_admin.h"
#include "client/internal.h"
#include "protocol/frame.h"
#include "protocol/msg_types.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pgcmd_req {
    struct cairn__req req; /* first: req.call is the sync call */
    struct proto_osd_pg_cmd wire;
    struct cairn_scrub_result out; /* the answer, filled on the loop thread */
};

static int pgcmd_encode(struct cairn__req *req, uint64_t epoch, uint32_t pg, uint8_t **meta,
                        size_t *meta_len, const void **data, size_t *data_len, void **owned)
{
    struct pgcmd_req *pr = (struct pgcmd_req *)req;

    pr->wire.epoch = epoch;
    pr->wire.pool = req->pool;
    pr->wire.pg = pg;
    *data = NULL;
    *data_len = 0;
    *owned = NULL;
    return proto_osd_pg_cmd_encode(&pr->wire, meta, meta_len);
}

static int pgcmd_reply(struct cairn__req *req, struct proto_frame *f, uint64_t *epoch)
{
    struct pgcmd_req *pr = (struct pgcmd_req *)req;
    struct proto_osd_pg_cmd_reply reply;

    int r = proto_osd_pg_cmd_reply_decode(f->meta, f->hdr.meta_len, &reply);
    if (r < 0) {
        snprintf(req->why, sizeof(req->why), "osd.%d sent a malformed scrub reply (%s)", req->osd,
                 strerror(-r));
        return -EIO;
    }
    if (reply.result == -ESTALE) {
        *epoch = reply.epoch;
    } else if (reply.result == -EBUSY && !reply.message[0]) {
        snprintf(req->why, sizeof(req->why), "pg %d.%x is not active+clean", req->pool, req->pg);
    } else if (reply.result < 0) {
        snprintf(req->why, sizeof(req->why), "%s", reply.message);
    } else {
        pr->out.objects = reply.objects;
        pr->out.inconsistent = reply.inconsistent;
        pr->out.repaired = reply.repaired;
        pr->out.duration_ms = reply.duration_ms;
    }
    return reply.result;
}

static void pgcmd_done(struct cairn__req *req, int result)
{
    cairn__call_done(req->c, &req->call, result);
}

static const struct cairn__req_ops pgcmd_req_ops = {
    .encode = pgcmd_encode, .reply = pgcmd_reply, .done = pgcmd_done};

static void pgcmd_fn(struct cairn *c, struct cairn__msg *msg)
{
    cairn__req_submit(c, &((struct pgcmd_req *)msg)->req);
}

int cairn_pg_scrub(struct cairn *c, int32_t pool, uint32_t pg, bool deep,
                   struct cairn_scrub_result *out)
{
    struct pgcmd_req *pr;

    if (!c || !out)
        return -EINVAL;
    if (pool < 0)
        return -ENOENT;
    if (!(pr = calloc(1, sizeof(*pr))))
        return -ENOMEM;
    pr->req.ops = &pgcmd_req_ops;
    pr->req.type = PROTO_MSG_OSD_PG_CMD;
    pr->req.pool = pool;
    pr->req.pg = pg;
    pr->req.timeout_ms = c->timeout_ms;
    proto_osd_pg_cmd_init(&pr->wire);
    pr->wire.op = deep ? PROTO_OSD_PG_DEEP_SCRUB : PROTO_OSD_PG_SCRUB;
    int r = cairn__call_run(c, &pr->req.call, pgcmd_fn);
    cairn__set_reason(c, r, pr->req.why);
    if (r == 0)
        *out = pr->out;
    free(pr);
    return r;
}
