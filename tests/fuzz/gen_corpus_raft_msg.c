/* Writes the seed corpus of the raft_msg fuzz target (fuzz_raft_msg.c): an
 * append with three entries, a vote response, a snapshot with voters and
 * data, one file each, in the target's input layout (u16 meta length,
 * metadata, data section). Not built by default; after a wire change run:
 *   cc -I. tests/fuzz/gen_corpus_raft_msg.c BUILD/protocol/libcairn_protocol.a \
 *      BUILD/common/libcairn_common.a -lprotobuf-c -o /tmp/gen && /tmp/gen
 * tests/fuzz/corpus/raft_msg */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "protocol/raft_wire.h"

static int write_msg(const char *dir, const char *name, const struct proto_raft_msg *m)
{
    char path[4096];
    uint8_t *meta, *data;
    size_t ml, dl;
    int r = 1;

    if (proto_raft_msg_encode(m, &meta, &ml, &data, &dl) != 0 || ml > 0xffff)
        return 1;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    uint8_t hdr[2] = {(uint8_t)ml, (uint8_t)(ml >> 8)};
    if (fp && fwrite(hdr, 1, 2, fp) == 2 && fwrite(meta, 1, ml, fp) == ml &&
        (dl == 0 || fwrite(data, 1, dl, fp) == dl))
        r = 0;
    if (!fp || fclose(fp) != 0 || r)
        perror(path);
    free(meta);
    free(data);
    return r;
}

int main(int argc, char **argv)
{
    static const uint8_t conf[] = {3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
                                   0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    struct proto_raft_entry ents[3] = {
        {.index = 8, .term = 2, .type = 0, .len = 9, .data = "\x08\x01\x12\x03rbd\x18\x03"},
        {.index = 9, .term = 3, .type = 2},
        {.index = 10, .term = 3, .type = 1, .len = 28, .data = conf},
    };
    struct proto_raft_msg app = {.type = PROTO_RAFT_MSG_APP,
                                 .from = 1,
                                 .to = 2,
                                 .term = 3,
                                 .log_term = 2,
                                 .index = 7,
                                 .commit = 6,
                                 .n_entries = 3,
                                 .entries = ents};
    struct proto_raft_msg resp = {.type = 4,
                                  .from = 3,
                                  .to = 1,
                                  .term = 9,
                                  .reject = true,
                                  .reject_hint = 4,
                                  .log_term = 2,
                                  .index = 12};
    struct proto_raft_msg snap = {.type = PROTO_RAFT_MSG_SNAP,
                                  .from = 1,
                                  .to = 4,
                                  .term = 5,
                                  .has_snapshot = true,
                                  .snapshot = {.index = 100,
                                               .term = 4,
                                               .n_voters = 3,
                                               .voters = {1, 2, 3},
                                               .len = 16,
                                               .data = "snapshot-bytes.."}};
    int r = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    r |= write_msg(argv[1], "append.bin", &app);
    r |= write_msg(argv[1], "vote-resp.bin", &resp);
    r |= write_msg(argv[1], "snapshot.bin", &snap);
    return r;
}
