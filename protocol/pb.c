/* Helpers shared by the protobuf codecs of protocol/ (mon.c, osd_op.c). */
#include "protocol/internal.h"

#include <errno.h>
#include <stdlib.h>

#include <protobuf-c/protobuf-c.h>

int proto__pb_pack(const struct ProtobufCMessage *m, uint8_t **buf, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return -ENOMEM;
    protobuf_c_message_pack(m, p);
    *buf = p;
    *len = n;
    return 0;
}
