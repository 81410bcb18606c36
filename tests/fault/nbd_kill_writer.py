#!/usr/bin/python3
"""nbd_kill_writer: the client side of the cairn-nbd kill test (nbd_kill.sh).

    nbd_kill_writer.py URI --seconds T --seed S [--conns C] [--ranges N]
                       [--reconnect-s R] [--check-s K]

C threads, each with its own libnbd handle, overwrite N disjoint ranges of
the image (4 KiB to 64 KiB, each at a 64 KiB-aligned slot, so a range never
spans two data objects and one NBD write of it is atomic, docs/images.md)
while the script kills cairn-nbd with SIGKILL and restarts it. Range R
belongs to thread R % C. A round puts 1-4 of the thread's ranges in flight
at once (aio), each the next generation of that range, every 4 KiB block
stamped with (range, generation, block index) and a pattern derived from
them; some writes carry FUA, and a round with a plain write ends with a
flush. Per range the thread records the last generation attempted and the
last acknowledged: a FUA write's reply, or a plain write's reply followed
by a successful flush. A failed request or a dropped connection leaves
them as they are; the thread reconnects (within --reconnect-s) and goes on.

The invariant: a range holds exactly one generation g, every block whole,
with acked <= g <= attempted (g = 0, never written, only while acked = 0).
A thread checks it on its own ranges after every reconnect, before writing
on (a later generation would hide a lost one), and after T seconds every
range is checked through a fresh connection (which also catches a write
of a killed server landing late, over a newer one).
Exit 0 when it held for every range, 1 on a violation (one line each) or
when a thread could not reconnect in time or saw a request unanswered for
STUCK_S seconds, 2 on a usage error.
Needs Debian's /usr/bin/python3 with python3-libnbd.
"""
import argparse
import errno
import hashlib
import random
import struct
import sys
import threading
import time

import nbd

BLOCK = 4096
SLOT = 64 * 1024  # a range's slot; a divisor of the image's object size
MAGIC = 0x4E424B494C4C3031  # "NBKILL01"
STUCK_S = 60  # a request unanswered this long on a live connection fails the test
HDR = struct.Struct("<QQQQ")  # magic, range, generation, block index


def block(rng, gen, idx):
    """Block @idx of generation @gen of range @rng: a header, then a pattern."""
    hdr = HDR.pack(MAGIC, rng, gen, idx)
    seed = hashlib.sha256(hdr).digest()
    body = (seed * (BLOCK // len(seed) + 1))[: BLOCK - len(hdr)]
    return hdr + body


class Range:
    def __init__(self, rid, offset, nblocks):
        self.rid = rid
        self.offset = offset
        self.nblocks = nblocks
        self.acked = 0      # last generation acknowledged (FUA, or write + flush)
        self.attempted = 0  # last generation sent

    def data(self, gen):
        return b"".join(block(self.rid, gen, i) for i in range(self.nblocks))


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.writes = self.acked = self.fua = self.flushes = 0
        self.errors = self.reconnects = 0
        self.verified = self.violations = 0  # range checks, and failed ones
        self.failed = []  # threads that gave up

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)


def connect(uri, deadline):
    """A connected handle, retrying until @deadline (monotonic); None if late."""
    while True:
        h = nbd.NBD()
        try:
            h.connect_uri(uri)
            return h
        except nbd.Error:
            del h  # closes the handle
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)


class Stuck(Exception):
    pass


def wait_all(h, cookies, limit_s):
    """Waits for every cookie; returns {cookie: True/False (failed)}.
    Raises nbd.Error when the connection itself dies, Stuck when a request
    is still unanswered after @limit_s seconds."""
    deadline = time.monotonic() + limit_s
    done = {}
    while len(done) < len(cookies):
        for c in cookies:
            if c in done:
                continue
            try:
                if h.aio_command_completed(c):
                    done[c] = True
            except nbd.Error:
                done[c] = False
        if len(done) < len(cookies):
            if time.monotonic() >= deadline:
                raise Stuck("%d requests unanswered after %g s" % (len(cookies) - len(done), limit_s))
            h.poll(1000)
    return done


def round_on(h, rnd, mine, stats):
    """One round: 1-4 writes in flight, then a flush if any lacked FUA."""
    batch = rnd.sample(mine, min(len(mine), rnd.randint(1, 4)))
    cookies = {}
    for r in batch:
        gen = r.attempted + 1
        fua = rnd.random() < 0.4
        r.attempted = gen
        c = h.aio_pwrite(r.data(gen), r.offset, flags=nbd.CMD_FLAG_FUA if fua else 0)
        cookies[c] = (r, gen, fua)
        stats.add(writes=1)
    ok = wait_all(h, list(cookies), STUCK_S)
    pending = []
    for c, (r, gen, fua) in cookies.items():
        if not ok[c]:
            stats.add(errors=1)
        elif fua:
            r.acked = gen
            stats.add(acked=1, fua=1)
        else:
            pending.append((r, gen))
    if pending:
        c = h.aio_flush()
        if not wait_all(h, [c], STUCK_S)[c]:
            stats.add(errors=1)
            return  # the plain writes stay unacknowledged
        stats.add(flushes=1, acked=len(pending))
        for r, gen in pending:
            r.acked = max(r.acked, gen)


def worker(tid, args, mine, stats):
    rnd = random.Random(args.seed * 1000 + tid)
    until = time.monotonic() + args.seconds
    h = None
    need_verify = False
    while time.monotonic() < until:
        if h is None:
            h = connect(args.uri, time.monotonic() + args.reconnect_s)
            if h is None:
                stats.failed.append(tid)
                return
        try:
            if need_verify:
                # Right after a kill, before newer generations hide a loss.
                verify(h, mine, "after reconnecting (thread %d)" % tid, stats)
                need_verify = False
            round_on(h, rnd, mine, stats)
        except Stuck as e:
            print("nbd_kill_writer: thread %d: %s" % (tid, e), file=sys.stderr)
            stats.failed.append(tid)
            return
        except nbd.Error:
            stats.add(errors=1, reconnects=1)
            h = None  # closes the dead handle
            need_verify = True
    if h is not None:
        try:
            h.shutdown()
        except nbd.Error:
            pass


def read_range(h, r):
    """Range @r's bytes, read with a deadline (raises nbd.Error, Stuck)."""
    buf = nbd.Buffer(r.nblocks * BLOCK)
    c = h.aio_pread(buf, r.offset)
    if not wait_all(h, [c], STUCK_S)[c]:
        raise nbd.Error("read of range %d failed" % r.rid, errno.EIO)
    return bytes(buf.to_bytearray())


def verify(h, ranges, when, stats):
    """Checks the invariant on @ranges (none of them may have writes in
    flight from this process); prints one line per violation and returns
    their number."""
    bad = 0
    for r in ranges:
        buf = read_range(h, r)
        gens = set()
        whole = True
        for i in range(r.nblocks):
            b = buf[i * BLOCK:(i + 1) * BLOCK]
            if b == bytes(BLOCK):
                gens.add(0)
                continue
            magic, rid, gen, idx = HDR.unpack_from(b)
            gens.add(gen)
            if magic != MAGIC or rid != r.rid or idx != i or b != block(r.rid, gen, i):
                whole = False
        msg = None
        if not whole:
            msg = "a block is torn or foreign"
        elif len(gens) != 1:
            msg = "mixes generations %s" % sorted(gens)
        else:
            g = gens.pop()
            if g < r.acked or g > r.attempted or (g == 0 and r.acked):
                msg = "holds generation %d" % g
        if msg:
            bad += 1
            print("nbd_kill_writer: %s: range %d (offset %d, %d KiB): %s, acked %d, attempted %d"
                  % (when, r.rid, r.offset, r.nblocks * 4, msg, r.acked, r.attempted),
                  file=sys.stderr)
    stats.add(verified=len(ranges), violations=bad)
    return bad


def check(args, ranges, stats):
    """Reads every range back through a fresh connection."""
    h = connect(args.uri, time.monotonic() + args.check_s)
    if h is None:
        print("nbd_kill_writer: cannot connect for the check", file=sys.stderr)
        return len(ranges)
    bad = verify(h, ranges, "at the end", stats)
    h.shutdown()
    return bad


def main():
    p = argparse.ArgumentParser()
    p.add_argument("uri")
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--conns", type=int, default=4)
    p.add_argument("--ranges", type=int, default=128)
    p.add_argument("--reconnect-s", type=float, default=30)
    p.add_argument("--check-s", type=float, default=60)
    args = p.parse_args()

    rnd = random.Random(args.seed)
    h = connect(args.uri, time.monotonic() + args.check_s)
    if h is None:
        print("nbd_kill_writer: cannot connect to %s" % args.uri, file=sys.stderr)
        return 1
    slots = h.get_size() // SLOT
    h.shutdown()
    del h
    if args.ranges > slots:
        print("nbd_kill_writer: %d ranges do not fit %d slots" % (args.ranges, slots),
              file=sys.stderr)
        return 2
    # Spread the ranges over the image (and so over its objects and PGs).
    offsets = sorted(rnd.sample(range(slots), args.ranges))
    ranges = [Range(i, s * SLOT, rnd.randint(1, SLOT // BLOCK)) for i, s in enumerate(offsets)]

    stats = Stats()
    threads = [threading.Thread(target=worker,
                                args=(t, args, ranges[t::args.conns], stats))
               for t in range(args.conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("nbd_kill_writer: %d writes, %d acknowledged (%d FUA, %d flushes), "
          "%d failed requests, %d reconnects"
          % (stats.writes, stats.acked, stats.fua, stats.flushes, stats.errors,
             stats.reconnects))
    if stats.failed:
        print("nbd_kill_writer: threads %s could not reconnect within %g s or got stuck"
              % (sorted(stats.failed), args.reconnect_s), file=sys.stderr)
        return 1
    during = stats.violations
    bad = check(args, ranges, stats)
    print("nbd_kill_writer: %d range checks after reconnects: %d broke the invariant"
          % (stats.verified - len(ranges), during))
    print("nbd_kill_writer: checked %d ranges at the end (%d with acknowledged writes): "
          "%d broke the invariant" % (len(ranges), sum(r.acked > 0 for r in ranges), bad))
    return 1 if bad or during else 0


if __name__ == "__main__":
    sys.exit(main())
