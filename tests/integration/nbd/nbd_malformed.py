#!/usr/bin/python3
"""Malformed and hostile input to cairn-nbd over raw sockets (run by
nbd_malformed.sh): bad client flags, bad option magic, oversize options,
malformed option payloads, unknown options and exports, and in
transmission bad magic, out-of-range, oversize and unknown requests. Each
case asserts the reply the NBD spec names or a closed connection. Then the
options and requests the server answers from its control thread (open,
list, BLOCK_STATUS): pipelined behind each other and interleaved with I/O,
or abandoned by a client that closes before the answer.

With --drain MARKER instead: sends 16 writes of 1 MiB, creates MARKER
(the caller then sends SIGTERM to the server), and checks that every reply
that comes back is a success for a request it sent, before the server
closes the connection.

usage: nbd_malformed.py PORT EXPORT EXPORT_SIZE [--drain MARKER]"""
import socket
import struct
import sys

PORT, EXPORT, SIZE = int(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3])
IHAVEOPT = 0x49484156454F5054
REP_MAGIC = 0x0003E889045565A9
REQ_MAGIC = 0x25609513
SIMPLE, STRUCTURED = 0x67446698, 0x668E33EF
ACK, SERVER, INFO, META = 1, 2, 3, 4
ERR = lambda n: 0x80000000 | n
UNSUP, INVALID, UNKNOWN, TOO_BIG = ERR(1), ERR(3), ERR(6), ERR(9)
EINVAL, ENOSPC = 22, 28


def fail(msg):
    print("nbd_malformed.py: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def assert_closed(s, what):
    s.settimeout(10)
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return
    except ConnectionResetError:
        return
    except socket.timeout:
        fail(what + ": connection still open")


def connect(flags=3):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    magic, opt, hflags = struct.unpack(">QQH", recv_exact(s, 18))
    if magic != 0x4E42444D41474943 or opt != IHAVEOPT or hflags != 3:
        fail("bad greeting")
    s.sendall(struct.pack(">I", flags))
    return s


def send_opt(s, opt, data=b"", length=None):
    s.sendall(struct.pack(">QII", IHAVEOPT, opt, len(data) if length is None else length) + data)


def recv_rep(s, opt):
    magic, ropt, typ, length = struct.unpack(">QIII", recv_exact(s, 20))
    if magic != REP_MAGIC or ropt != opt:
        fail("bad option reply header %x %d" % (magic, ropt))
    return typ, recv_exact(s, length)


def expect_rep(s, opt, want, what):
    typ, _ = recv_rep(s, opt)
    if typ != want:
        fail("%s: reply %#x, want %#x" % (what, typ, want))


def info_payload(name, types=()):
    return struct.pack(">I", len(name)) + name + struct.pack(">H", len(types)) + \
        b"".join(struct.pack(">H", t) for t in types)


def go(s, structured=False):
    if structured:
        send_opt(s, 8)
        expect_rep(s, 8, ACK, "structured reply")
    send_opt(s, 7, info_payload(EXPORT))
    while True:
        typ, _ = recv_rep(s, 7)
        if typ == ACK:
            return
        if typ != INFO:
            fail("GO: reply %#x" % typ)


def request(s, typ, off, length, flags=0, cookie=1, magic=REQ_MAGIC, data=b""):
    s.sendall(struct.pack(">IHHQQI", magic, flags, typ, cookie, off, length) + data)


def simple_reply(s, cookie):
    magic, err, c = struct.unpack(">IIQ", recv_exact(s, 16))
    if magic != SIMPLE or c != cookie:
        fail("bad simple reply %x cookie %d" % (magic, c))
    return err


def handshake_cases():
    # unknown client flag: the server MUST close
    assert_closed(connect(flags=3 | 0x100), "unknown client flag")
    assert_closed(connect(flags=0), "no FIXED_NEWSTYLE")
    # bad option magic
    s = connect()
    s.sendall(struct.pack(">QII", 0x1122334455667788, 7, 0))
    assert_closed(s, "bad option magic")
    # oversize option: NBD_REP_ERR_TOO_BIG after its data, then still usable
    s = connect()
    send_opt(s, 7, b"\0" * 100000)
    expect_rep(s, 7, TOO_BIG, "oversize option")
    send_opt(s, 3)
    typ, _ = recv_rep(s, 3)
    while typ == SERVER:
        typ, _ = recv_rep(s, 3)
    if typ != ACK:
        fail("LIST after TOO_BIG: %#x" % typ)
    # far too large an option: closed without reading 4 GiB
    s = connect()
    send_opt(s, 7, length=0xFFFFFFF0)
    assert_closed(s, "4 GiB option")
    # oversize NBD_OPT_EXPORT_NAME has no error reply: closed
    s = connect()
    send_opt(s, 1, length=1 << 20)
    assert_closed(s, "oversize EXPORT_NAME")
    # malformed payloads, unknown options and exports: error replies
    s = connect()
    send_opt(s, 7, struct.pack(">I", 1000) + b"ab")
    expect_rep(s, 7, INVALID, "GO with a name longer than its payload")
    send_opt(s, 6, info_payload(EXPORT, (3,)) + b"x")
    expect_rep(s, 6, INVALID, "INFO with trailing bytes")
    send_opt(s, 7, info_payload(b"no-such-image"))
    expect_rep(s, 7, UNKNOWN, "GO of a missing export")
    send_opt(s, 7, info_payload(b""))
    expect_rep(s, 7, UNKNOWN, "GO of the default export")
    send_opt(s, 3, b"junk")
    expect_rep(s, 3, INVALID, "LIST with data")
    send_opt(s, 8, b"junk")
    expect_rep(s, 8, INVALID, "STRUCTURED_REPLY with data")
    send_opt(s, 10, struct.pack(">I", len(EXPORT)) + EXPORT + struct.pack(">I", 0))
    expect_rep(s, 10, INVALID, "SET_META_CONTEXT before STRUCTURED_REPLY")
    send_opt(s, 9, struct.pack(">I", 3) + b"ab")
    expect_rep(s, 9, INVALID, "truncated LIST_META_CONTEXT")
    send_opt(s, 5)
    expect_rep(s, 5, UNSUP, "STARTTLS")
    send_opt(s, 4242, b"whatever")
    expect_rep(s, 4242, UNSUP, "unknown option")
    send_opt(s, 2)
    expect_rep(s, 2, ACK, "ABORT")
    assert_closed(s, "after ABORT")
    # unknown export via EXPORT_NAME: closed
    s = connect()
    send_opt(s, 1, b"no-such-image")
    assert_closed(s, "EXPORT_NAME of a missing export")


def transmission_cases():
    # simple replies: errors the spec names, the connection stays up
    s = connect()
    go(s)
    request(s, 0, SIZE - 10, 20, cookie=2)
    if simple_reply(s, 2) != EINVAL:
        fail("read past the end: not EINVAL")
    request(s, 1, SIZE - 2, 4, cookie=3, data=b"abcd")
    if simple_reply(s, 3) != ENOSPC:
        fail("write past the end: not ENOSPC")
    request(s, 0, 0, 64 << 20, cookie=4)
    if simple_reply(s, 4) != EINVAL:
        fail("read over the maximum block size: not EINVAL")
    request(s, 4242, 0, 1, cookie=5)
    if simple_reply(s, 5) != EINVAL:
        fail("unknown command: not EINVAL")
    request(s, 0, 0, 1, flags=0x4000, cookie=6)
    if simple_reply(s, 6) != EINVAL:
        fail("unknown flag: not EINVAL")
    request(s, 7, 0, 4096, cookie=7)
    if simple_reply(s, 7) != EINVAL:
        fail("BLOCK_STATUS without a meta context: not EINVAL")
    request(s, 1, 4096, 3, cookie=8, data=b"xyz")
    if simple_reply(s, 8) != 0:
        fail("valid write failed")
    request(s, 0, 4096, 3, cookie=9)
    if simple_reply(s, 9) != 0 or recv_exact(s, 3) != b"xyz":
        fail("valid read failed")
    # a write whose payload we refuse to read: closed
    request(s, 1, 0, 0xFFFFFFFF, cookie=10)
    assert_closed(s, "4 GiB write")
    # structured: errors as NBD_REPLY_TYPE_ERROR chunks
    s = connect()
    go(s, structured=True)
    request(s, 0, SIZE, 1, cookie=11)
    magic, flags, typ, cookie, length = struct.unpack(">IHHQI", recv_exact(s, 20))
    body = recv_exact(s, length)
    if magic != STRUCTURED or not flags & 1 or typ != 32769 or cookie != 11 or \
            struct.unpack(">I", body[:4])[0] != EINVAL:
        fail("structured read past the end: %x %d %d %d" % (magic, flags, typ, cookie))
    # bad request magic: closed
    request(s, 0, 0, 1, magic=0xDEADBEEF)
    assert_closed(s, "bad request magic")
    # garbage then EOF in the middle of a write payload
    s = connect()
    go(s)
    request(s, 1, 0, 1000, cookie=12, data=b"x" * 10)
    s.close()


def chunk(s):
    magic, flags, typ, cookie, length = struct.unpack(">IHHQI", recv_exact(s, 20))
    if magic != STRUCTURED:
        fail("bad structured reply magic %x" % magic)
    return flags, typ, cookie, recv_exact(s, length)


def pipelined_options_case():
    # Options sent at once, without reading: answered in order, although
    # LIST, INFO and GO wait for the control thread.
    s = connect()
    meta = struct.pack(">I", len(EXPORT)) + EXPORT + struct.pack(">I", 1) + \
        struct.pack(">I", 15) + b"base:allocation"
    s.sendall(b"".join(struct.pack(">QII", IHAVEOPT, o, len(d)) + d for o, d in [
        (8, b""), (3, b""), (6, info_payload(EXPORT)), (7, info_payload(b"no-such-image")),
        (10, meta), (7, info_payload(EXPORT))]))
    expect_rep(s, 8, ACK, "pipelined STRUCTURED_REPLY")
    names = []
    typ, body = recv_rep(s, 3)
    while typ == SERVER:
        names.append(body[4:])
        typ, body = recv_rep(s, 3)
    if typ != ACK or EXPORT not in names:
        fail("pipelined LIST: %#x, %r" % (typ, names))
    typ, _ = recv_rep(s, 6)
    while typ == INFO:
        typ, _ = recv_rep(s, 6)
    if typ != ACK:
        fail("pipelined INFO: %#x" % typ)
    expect_rep(s, 7, UNKNOWN, "pipelined GO of a missing export")
    expect_rep(s, 10, META, "pipelined SET_META_CONTEXT")
    expect_rep(s, 10, ACK, "pipelined SET_META_CONTEXT")
    typ, _ = recv_rep(s, 7)
    while typ == INFO:
        typ, _ = recv_rep(s, 7)
    if typ != ACK:
        fail("pipelined GO: %#x" % typ)
    return s


def block_status_case(s):
    # BLOCK_STATUS among writes and reads: every request answered once.
    want = {}
    for i in range(16):
        request(s, 7, 0, SIZE, cookie=200 + i)
        want[200 + i] = "status"
        request(s, 1, i * 4096, 4096, cookie=300 + i, data=bytes([i]) * 4096)
        want[300 + i] = "write"
        request(s, 0, i * 4096, 4096, cookie=400 + i)
        want[400 + i] = "read"
    while want:
        flags, typ, cookie, body = chunk(s)
        kind = want.get(cookie)
        ok = {"status": typ == 5 and len(body) >= 12, "write": typ == 0,
              "read": typ == 1 and len(body) == 8 + 4096}.get(kind, False)
        if not ok or not flags & 1:
            fail("BLOCK_STATUS among I/O: cookie %d type %d flags %d" % (cookie, typ, flags))
        del want[cookie]
    # and one the client never waits for
    request(s, 7, 0, SIZE, cookie=500)
    s.close()


def abandoned_cases():
    # Clients gone while the control thread opens or lists for them.
    for i in range(8):
        s = connect()
        send_opt(s, 7 if i % 2 else 3, info_payload(EXPORT) if i % 2 else b"")
        s.close()
    s = connect()
    send_opt(s, 1, EXPORT)
    s.close()


def drain_case(marker):
    s = connect()
    go(s)
    data = b"\xa5" * (1 << 20)
    for i in range(16):
        request(s, 1, i << 20, len(data), cookie=100 + i, data=data)
    open(marker, "w").close()
    seen = set()
    s.settimeout(60)
    try:
        while True:
            cookie = None
            magic, err, cookie = struct.unpack(">IIQ", recv_exact(s, 16))
            if magic != SIMPLE or err != 0 or not 100 <= cookie < 116 or cookie in seen:
                fail("drain: reply %x err %d cookie %d" % (magic, err, cookie))
            seen.add(cookie)
    except EOFError:
        pass
    print("nbd_malformed.py: %d of 16 writes answered before the close" % len(seen))


if len(sys.argv) == 6 and sys.argv[4] == "--drain":
    drain_case(sys.argv[5])
else:
    handshake_cases()
    transmission_cases()
    block_status_case(pipelined_options_case())
    abandoned_cases()
    print("nbd_malformed.py: ok")
