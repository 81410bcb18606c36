/* Fuzz target for the monitor command codec (protocol/mon.c). Each input is
 * decoded as a MonCommand, a MonReply and a MapRequest. A command that
 * decodes must satisfy the decoder's promises (valid op, id >= -1, strings
 * terminated within their buffers) and survive encode + decode unchanged.
 * Any crash, leak, sanitizer report or abort() is a bug. Built by
 * tests/fuzz/CMakeLists.txt as a libFuzzer binary or a replay executable. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static void check_cmd(const struct proto_mon_cmd *c)
{
    if (!proto_mon_op_is_valid(c->op) || c->id < -1)
        abort();
    if (!terminated(c->name, sizeof(c->name)) || !terminated(c->key, sizeof(c->key)) ||
        !terminated(c->value, sizeof(c->value)))
        abort();
}

/* Decoded commands re-encode to something that decodes to the same fields. */
static void round_trip(const struct proto_mon_cmd *c)
{
    struct proto_mon_cmd again;
    uint8_t *buf;
    size_t len;

    if (proto_mon_cmd_encode(c, &buf, &len) != 0)
        abort();
    proto_mon_cmd_init(&again, PROTO_MON_OP_NONE);
    if (proto_mon_cmd_decode(buf, len, &again) != 0)
        abort();
    free(buf);
    if (again.op != c->op || again.id != c->id || strcmp(again.name, c->name) != 0 ||
        strcmp(again.key, c->key) != 0 || strcmp(again.value, c->value) != 0 ||
        again.size != c->size || again.min_size != c->min_size || again.pg_num != c->pg_num ||
        again.failure_domain != c->failure_domain || again.weight != c->weight ||
        memcmp(again.uuid, c->uuid, sizeof(c->uuid)) != 0 || again.stamp_ns != c->stamp_ns)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_mon_cmd cmd;
    struct proto_mon_reply *reply = malloc(sizeof(*reply));
    uint64_t epoch;

    int r = proto_mon_cmd_decode(data, size, &cmd);
    if (r == 0) {
        check_cmd(&cmd);
        round_trip(&cmd);
    } else if (r != -EBADMSG && r != -EINVAL) {
        abort();
    }
    if (reply) {
        r = proto_mon_reply_decode(data, size, reply);
        if (r == 0 && (reply->result > 0 || !terminated(reply->text, sizeof(reply->text)) ||
                       reply->status.n_quorum > PROTO_MAP_MAX_MONS))
            abort();
        free(reply);
    }
    (void)proto_mon_map_request_decode(data, size, &epoch);
    return 0;
}
