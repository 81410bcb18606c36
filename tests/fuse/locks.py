#!/usr/bin/python3
"""Locks that hold across clients, through two mounts of one volume.

usage: locks.py MNT MNT2

fcntl record locks (lockf), F_GETLK, blocking waits, release on close and
on process death, and flock(), each taken by one process and contested by
another on the other mount (and on the same one). Prints one line per case;
exits 1 when any failed.
"""
import errno
import fcntl
import os
import select
import signal
import struct
import sys
import time
import traceback

GRANT_WAIT_S = 15   # a freed lock reaches a waiter well within this
BLOCKED_FOR_S = 1.0  # how long a contested waiter must stay blocked


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


class Holder:
    """A child process that opens @path, takes one lock and reports 'L' (got
    it) or 'E<errno>' on a pipe, then holds it until released or killed."""

    def __init__(self, path, kind, op, start=0, length=0):
        rd, self.wr_status = os.pipe()
        self.rd_cmd, wr = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(rd)
            os.close(wr)
            status = b"L"
            try:
                fd = os.open(path, os.O_RDWR)
                if kind == "flock":
                    fcntl.flock(fd, op)
                else:
                    fcntl.lockf(fd, op, length, start)
            except OSError as e:
                status = b"E%d" % e.errno
            os.write(self.wr_status, status)
            os.read(self.rd_cmd, 1)  # released: closing the fd drops the lock
            os._exit(0)
        os.close(self.wr_status)
        os.close(self.rd_cmd)
        self.rd, self.wr = rd, wr

    def status(self, timeout):
        """'L', an errno, or None while the child still waits."""
        ready, _, _ = select.select([self.rd], [], [], timeout)
        if not ready:
            return None
        s = os.read(self.rd, 16)
        return "L" if s == b"L" else int(s[1:])

    def release(self):
        os.write(self.wr, b"x")
        self.reap()

    def kill(self):
        os.kill(self.pid, signal.SIGKILL)
        self.reap()

    def reap(self):
        os.waitpid(self.pid, 0)
        os.close(self.rd)
        os.close(self.wr)


def held(path, kind, op, start=0, length=0):
    h = Holder(path, kind, op, start, length)
    s = h.status(GRANT_WAIT_S)
    if s != "L":
        h.kill()
        raise Fail("%s %s on %s: %r, want granted" % (kind, op, path, s))
    return h


def expect_busy(path, kind, op, start=0, length=0):
    """A non-blocking attempt from another process must fail with EAGAIN."""
    h = Holder(path, kind, op | (fcntl.LOCK_NB), start, length)
    s = h.status(GRANT_WAIT_S)
    h.release()
    check(s in (errno.EAGAIN, errno.EACCES),
          "%s %s [%d,+%d) on %s: %r, want EAGAIN" % (kind, op, start, length, path, s))


def expect_free(path, kind, op, start=0, length=0):
    h = Holder(path, kind, op | fcntl.LOCK_NB, start, length)
    s = h.status(GRANT_WAIT_S)
    h.release()
    check(s == "L", "%s %s [%d,+%d) on %s: %r, want granted" % (kind, op, start, length, path, s))


def expect_granted(path, kind, op, start=0, length=0):
    """A blocking attempt from another process is granted within the wait.
    For flock after another process closed its file: FUSE sends that
    release in the background, so a LOCK_NB attempt may come first."""
    h = held(path, kind, op, start, length)
    h.release()


def mkfile(d, name):
    p = os.path.join(d, name)
    with open(p, "wb") as f:
        f.write(b"x" * 4096)
    return p


# ---- cases: each gets a directory under MNT and the same one under MNT2 ----

def case_exclusive(d, d2):
    p = mkfile(d, "f")
    p2 = os.path.join(d2, "f")
    a = held(p, "posix", fcntl.LOCK_EX)
    expect_busy(p2, "posix", fcntl.LOCK_EX)
    expect_busy(p2, "posix", fcntl.LOCK_SH)
    expect_busy(p, "posix", fcntl.LOCK_EX)  # another process on the same mount
    a.release()
    expect_free(p2, "posix", fcntl.LOCK_EX)


def case_shared(d, d2):
    p = mkfile(d, "f")
    p2 = os.path.join(d2, "f")
    a = held(p, "posix", fcntl.LOCK_SH)
    b = held(p2, "posix", fcntl.LOCK_SH)
    expect_busy(p, "posix", fcntl.LOCK_EX)
    expect_busy(p2, "posix", fcntl.LOCK_EX)
    a.release()
    expect_busy(p, "posix", fcntl.LOCK_EX)
    b.release()
    expect_free(p, "posix", fcntl.LOCK_EX)


def case_ranges(d, d2):
    p = mkfile(d, "f")
    p2 = os.path.join(d2, "f")
    a = held(p, "posix", fcntl.LOCK_EX, 0, 100)
    b = held(p2, "posix", fcntl.LOCK_EX, 100, 100)
    expect_busy(p2, "posix", fcntl.LOCK_EX, 50, 100)
    expect_busy(p2, "posix", fcntl.LOCK_SH, 199, 1)
    expect_free(p2, "posix", fcntl.LOCK_EX, 200, 0)  # 200 to the end of file
    a.release()
    b.release()
    # One process locks [0, 300) and unlocks the middle: the lock splits.
    fd = os.open(p, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX, 300, 0)
        fcntl.lockf(fd, fcntl.LOCK_UN, 100, 100)
        expect_free(p2, "posix", fcntl.LOCK_EX, 100, 100)
        expect_busy(p2, "posix", fcntl.LOCK_SH, 99, 1)
        expect_busy(p2, "posix", fcntl.LOCK_SH, 200, 1)
        # Downgrade the head to a read lock: readers may share it now.
        fcntl.lockf(fd, fcntl.LOCK_SH, 100, 0)
        expect_free(p2, "posix", fcntl.LOCK_SH, 0, 100)
        expect_busy(p2, "posix", fcntl.LOCK_EX, 0, 1)
        expect_busy(p2, "posix", fcntl.LOCK_SH, 250, 1)
    finally:
        os.close(fd)
    expect_free(p2, "posix", fcntl.LOCK_EX, 0, 0)


FLOCK_FMT = "@hhqqi"


def case_getlk(d, d2):
    p = mkfile(d, "f")
    p2 = os.path.join(d2, "f")
    fd = os.open(p, os.O_RDWR)
    fd2 = os.open(p2, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX, 10, 10)
        # The same process sees no conflict with itself.
        q = struct.pack(FLOCK_FMT, fcntl.F_WRLCK, os.SEEK_SET, 0, 100, 0)
        t = struct.unpack(FLOCK_FMT, fcntl.fcntl(fd, fcntl.F_GETLK, q))
        check(t[0] == fcntl.F_UNLCK, "own lock reported as a conflict: %r" % (t,))
        h = os.fork()
        if h == 0:
            code = 1
            try:
                t = struct.unpack(FLOCK_FMT, fcntl.fcntl(fd2, fcntl.F_GETLK, q))
                code = 0 if t[:4] == (fcntl.F_WRLCK, os.SEEK_SET, 10, 10) else 2
                if code:
                    print("F_GETLK from the other mount: %r" % (t,), flush=True)
                q2 = struct.pack(FLOCK_FMT, fcntl.F_RDLCK, os.SEEK_SET, 20, 0, 0)
                t = struct.unpack(FLOCK_FMT, fcntl.fcntl(fd2, fcntl.F_GETLK, q2))
                if t[0] != fcntl.F_UNLCK:
                    print("F_GETLK past the lock: %r" % (t,), flush=True)
                    code = 3
            finally:
                os._exit(code)
        _, st = os.waitpid(h, 0)
        check(os.waitstatus_to_exitcode(st) == 0, "F_GETLK child failed")
    finally:
        os.close(fd)
        os.close(fd2)


def case_blocking(d, d2):
    p = mkfile(d, "f")
    p2 = os.path.join(d2, "f")
    a = held(p, "posix", fcntl.LOCK_EX)
    b = Holder(p2, "posix", fcntl.LOCK_EX)
    s = b.status(BLOCKED_FOR_S)
    if s is not None:
        a.release()
        b.kill()
        raise Fail("a contested blocking lock returned %r" % s)
    a.release()
    s = b.status(GRANT_WAIT_S)
    b.release()
    check(s == "L", "the waiter was not granted the freed lock: %r" % s)


def case_interrupt(d, d2):
    """A signal ends a blocked F_SETLKW with EINTR (the request is interrupted)."""
    p = mkfile(d, "f")
    p2 = os.path.join(d2, "f")
    a = held(p, "posix", fcntl.LOCK_EX)
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rd)
        def interrupted(*_):
            raise InterruptedError(errno.EINTR, "interrupted")  # else Python retries (PEP 475)
        signal.signal(signal.SIGUSR1, interrupted)
        fd = os.open(p2, os.O_RDWR)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            os.write(wr, b"L")
        except OSError as e:
            os.write(wr, b"E%d" % e.errno)
        os._exit(0)
    os.close(wr)
    try:
        ready, _, _ = select.select([rd], [], [], BLOCKED_FOR_S)
        check(not ready, "a contested blocking lock returned")
        os.kill(pid, signal.SIGUSR1)
        ready, _, _ = select.select([rd], [], [], GRANT_WAIT_S)
        check(ready, "the blocked lock did not end on a signal")
        s = os.read(rd, 16)
        check(s == b"E%d" % errno.EINTR, "after a signal: %r, want EINTR" % s)
    finally:
        os.waitpid(pid, 0)
        os.close(rd)
        a.release()
    expect_free(p2, "posix", fcntl.LOCK_EX)


def case_close(d, d2):
    """POSIX: closing any descriptor of the file drops the process's locks."""
    p = mkfile(d, "f")
    p2 = os.path.join(d2, "f")
    fd = os.open(p, os.O_RDWR)
    other = os.open(p, os.O_RDONLY)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    expect_busy(p2, "posix", fcntl.LOCK_EX)
    os.close(other)
    try:
        expect_free(p2, "posix", fcntl.LOCK_EX)
    finally:
        os.close(fd)


def case_death(d, d2):
    p = mkfile(d, "f")
    p2 = os.path.join(d2, "f")
    a = held(p, "posix", fcntl.LOCK_EX)
    f = held(p, "flock", fcntl.LOCK_EX)
    expect_busy(p2, "posix", fcntl.LOCK_EX)
    expect_busy(p2, "flock", fcntl.LOCK_EX)
    a.kill()
    f.kill()
    expect_free(p2, "posix", fcntl.LOCK_EX)  # flush on close is synchronous
    expect_granted(p2, "flock", fcntl.LOCK_EX)


def case_flock(d, d2):
    p = mkfile(d, "f")
    p2 = os.path.join(d2, "f")
    a = held(p, "flock", fcntl.LOCK_EX)
    expect_busy(p2, "flock", fcntl.LOCK_EX)
    expect_busy(p2, "flock", fcntl.LOCK_SH)
    expect_busy(p, "flock", fcntl.LOCK_SH)
    expect_free(p2, "posix", fcntl.LOCK_EX)  # the kinds never conflict (Linux)
    a.release()
    a = held(p, "flock", fcntl.LOCK_SH)
    b = held(p2, "flock", fcntl.LOCK_SH)
    expect_busy(p2, "flock", fcntl.LOCK_EX)
    a.release()
    b.release()
    # Conversion and explicit unlock on one open file (blocking: the
    # releases of a and b may still be on their way).
    fd = os.open(p, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        fcntl.flock(fd, fcntl.LOCK_EX)
        expect_busy(p2, "flock", fcntl.LOCK_SH)
        fcntl.flock(fd, fcntl.LOCK_UN)
        expect_free(p2, "flock", fcntl.LOCK_EX)
    finally:
        os.close(fd)


CASES = [(name[5:], fn) for name, fn in list(globals().items()) if name.startswith("case_")]


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    mnt, mnt2, only = sys.argv[1], sys.argv[2], set(sys.argv[3:])
    base = "locks-%d" % os.getpid()
    os.mkdir(os.path.join(mnt, base))
    failed = []
    for name, fn in CASES:
        if only and name not in only:
            continue
        d = os.path.join(mnt, base, name)
        d2 = os.path.join(mnt2, base, name)
        t0 = time.monotonic()
        try:
            os.mkdir(d)
            deadline = time.monotonic() + GRANT_WAIT_S
            while not os.path.isdir(d2):  # the other mount's entry cache
                check(time.monotonic() < deadline, "%s never appeared on MNT2" % d2)
                time.sleep(0.05)
            fn(d, d2)
            print("ok   %-10s %.1fs" % (name, time.monotonic() - t0), flush=True)
        except Exception as e:
            failed.append(name)
            print("FAIL %-10s %s: %s" % (name, type(e).__name__, e), flush=True)
            if not isinstance(e, (Fail, OSError)):
                traceback.print_exc()
    total = len(only) if only else len(CASES)
    print("%d/%d cases passed%s" % (total - len(failed), total,
                                    ": failed " + " ".join(failed) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
