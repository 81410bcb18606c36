/* Wire message types: the u16 `type` of a frame (protocol/frame.h). A number,
 * once used on the wire, is never renumbered or reused for another meaning.
 *
 *       1..99     connection handshake; handled inside the messenger, never
 *                 handed to the application (protocol/msgr.c)
 *     100..199    monitor: map subscriptions, boot, failure reports, commands
 *     200..299    OSD client operations
 *     300..399    OSD peering, replication, recovery and scrub
 *     400..64999  free for later areas (add a range here first)
 *   65000..65535  tests and experiments; never sent by a shipped daemon
 *
 * Each area appends its types to this enum next to its base value. */
#ifndef CAIRN_PROTOCOL_MSG_TYPES_H
#define CAIRN_PROTOCOL_MSG_TYPES_H

enum proto_msg_type {
    /* Handshake (docs/protocol.md): metadata is protocol/handshake.proto. */
    PROTO_MSG_HELLO = 1,
    PROTO_MSG_AUTH = 2,
    PROTO_MSG_AUTH_RESULT = 3,

    /* The first type the messenger delivers to the application; requests,
     * one-way messages and replies must use a type at or above it. */
    PROTO_MSG_APP_MIN = 100,

    PROTO_MSG_MON_BASE = 100,
    /* Monitor service (protocol/mon.h; metadata in protocol/mon.proto). */
    PROTO_MSG_MON_COMMAND = 101,     /* request: MonCommand; reply: MonReply */
    PROTO_MSG_MON_GET_MAP = 102,     /* request: MapRequest; reply: MonReply + encoded map as data */
    PROTO_MSG_MON_SUBSCRIBE = 103,   /* request: MapRequest; reply MonReply, then MAP_UPDATEs */
    PROTO_MSG_MON_MAP_UPDATE = 104,  /* one-way, monitor to subscriber: data = encoded map */
    PROTO_MSG_MON_STATUS = 105,      /* request: empty; reply: MonReply with status filled */
    PROTO_MSG_MON_BEACON = 106,      /* one-way, OSD to monitor: I am alive (MonCommand OSD_BEACON) */
    PROTO_MSG_MON_RAFT = 107,        /* one-way, monitor to monitor: one Raft message */
    PROTO_MSG_MON_FORWARD = 108,     /* request, follower to leader: a client's MonCommand */
    PROTO_MSG_MON_PG_STATS = 109,    /* request: empty; reply: MonReply + PgStatsReply as data
                                        (the leader's; a follower relays it, or answers
                                        -ENODATA when it cannot) */
    PROTO_MSG_OSD_OP_BASE = 200,
    /* OSD client operations (protocol/osd_op.h; metadata in protocol/osd_op.proto). */
    PROTO_MSG_OSD_OP = 201,          /* request: OsdOp + write payloads; reply: OsdOpReply +
                                        read data */
    PROTO_MSG_OSD_LIST = 202,        /* request: OsdList; reply: OsdListReply */
    PROTO_MSG_OSD_PG_CMD = 203,      /* request: OsdPgCmd; reply: OsdPgCmdReply */
    PROTO_MSG_PEERING_BASE = 300,
    PROTO_MSG_OSD_PING = 301,        /* request, OSD to OSD: OsdPing; reply: OsdPing (echo) */
    PROTO_MSG_OSD_PEER = 302,        /* request, OSD to OSD: OsdPeer (+ data); reply: OsdPeer (+ data)
                                        (protocol/osd_peer.h) */

    PROTO_MSG_TEST_MIN = 65000,
};

#endif
