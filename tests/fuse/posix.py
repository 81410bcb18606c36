#!/usr/bin/python3
"""POSIX behaviour of a Cairn FUSE mount, with exact errnos.

usage: posix.py MNT MNT2 [CASE...]

MNT and MNT2 mount the same volume (MNT2 is used only by the two-mount
cases). Every case works in its own directory under MNT. Prints one line
per case and exits 1 when any failed. Run as root: the unprivileged cases
fork a child that drops to uid/gid 65534.
"""
import ctypes
import errno
import os
import stat
import subprocess
import sys
import time
import traceback

NOBODY = 65534
GiB = 1 << 30
MiB = 1 << 20
ATTR_WAIT_S = 15  # well past the mounts' 1 s attribute/entry timeouts


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def expect_errno(want, fn, *args, **kw):
    """fn(*args) must fail with errno @want (one value or a tuple)."""
    wants = want if isinstance(want, tuple) else (want,)
    try:
        fn(*args, **kw)
    except OSError as e:
        if e.errno not in wants:
            raise Fail("%s%r: errno %s, want %s" % (
                fn.__name__, args, errno.errorcode.get(e.errno, e.errno),
                "/".join(errno.errorcode[w] for w in wants)))
        return
    raise Fail("%s%r succeeded, want %s" % (
        fn.__name__, args, "/".join(errno.errorcode[w] for w in wants)))


def write_file(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode=0o644):
    fd = os.open(path, flags, mode)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    finally:
        os.close(fd)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def pread_exact(path, off, n):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, n, off)
    finally:
        os.close(fd)


def wait_until(fn, what, deadline_s=ATTR_WAIT_S):
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        try:
            last = fn()
            if last is True:
                return
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise Fail("%s (last: %r)" % (what, last))


_libc = ctypes.CDLL(None, use_errno=True)


def renameat2(src, dst, flags):
    AT_FDCWD = -100
    rc = _libc.renameat2(AT_FDCWD, src.encode(), AT_FDCWD, dst.encode(), ctypes.c_uint(flags))
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), src)


# ---- cases: each takes its own empty directory D (and MNT2's view of it) ----

def case_enoent(d, d2):
    expect_errno(errno.ENOENT, os.stat, d + "/missing")
    expect_errno(errno.ENOENT, os.open, d + "/missing", os.O_RDONLY)
    expect_errno(errno.ENOENT, os.unlink, d + "/missing")
    expect_errno(errno.ENOENT, os.rmdir, d + "/missing")
    expect_errno(errno.ENOENT, os.mkdir, d + "/missing/sub")
    expect_errno(errno.ENOENT, os.rename, d + "/missing", d + "/other")


def case_eexist(d, d2):
    write_file(d + "/f", b"x")
    os.mkdir(d + "/dir")
    expect_errno(errno.EEXIST, os.open, d + "/f", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    expect_errno(errno.EEXIST, os.mkdir, d + "/dir")
    expect_errno(errno.EEXIST, os.mkdir, d + "/f")
    expect_errno(errno.EEXIST, os.symlink, "t", d + "/f")
    expect_errno(errno.EEXIST, os.link, d + "/f", d + "/f")
    # O_CREAT without O_EXCL opens what is there, keeping its data.
    fd = os.open(d + "/f", os.O_RDWR | os.O_CREAT, 0o600)
    check(os.read(fd, 10) == b"x", "O_CREAT on an existing file lost its data")
    os.close(fd)


def case_enotempty(d, d2):
    os.makedirs(d + "/a/b")
    expect_errno(errno.ENOTEMPTY, os.rmdir, d + "/a")
    os.rmdir(d + "/a/b")
    os.rmdir(d + "/a")
    check(not os.path.exists(d + "/a"), "rmdir left the directory")


def case_eisdir(d, d2):
    os.mkdir(d + "/dir")
    expect_errno(errno.EISDIR, os.unlink, d + "/dir")
    expect_errno(errno.EISDIR, os.open, d + "/dir", os.O_WRONLY)
    expect_errno(errno.EISDIR, os.open, d + "/dir", os.O_RDWR)
    write_file(d + "/f", b"")
    expect_errno(errno.EISDIR, os.rename, d + "/f", d + "/dir")


def case_enotdir(d, d2):
    write_file(d + "/f", b"data")
    os.mkdir(d + "/dir")
    expect_errno(errno.ENOTDIR, os.stat, d + "/f/x")
    expect_errno(errno.ENOTDIR, os.open, d + "/f/x", os.O_WRONLY | os.O_CREAT)
    expect_errno(errno.ENOTDIR, os.mkdir, d + "/f/x")
    expect_errno(errno.ENOTDIR, os.rmdir, d + "/f")
    expect_errno(errno.ENOTDIR, os.listdir, d + "/f")
    expect_errno(errno.ENOTDIR, os.rename, d + "/dir", d + "/f")


def case_eloop(d, d2):
    os.symlink("b", d + "/a")
    os.symlink("a", d + "/b")
    expect_errno(errno.ELOOP, os.open, d + "/a", os.O_RDONLY)
    expect_errno(errno.ELOOP, os.stat, d + "/a")
    check(stat.S_ISLNK(os.lstat(d + "/a").st_mode), "lstat of a loop is not a symlink")


def case_enametoolong(d, d2):
    expect_errno(errno.ENAMETOOLONG, os.open, d + "/" + "n" * 256, os.O_WRONLY | os.O_CREAT)
    expect_errno(errno.ENAMETOOLONG, os.mkdir, d + "/" + "n" * 256)
    expect_errno(errno.ENAMETOOLONG, os.stat, d + "/" + "n" * 256)
    write_file(d + "/" + "m" * 255, b"ok")
    check(read_file(d + "/" + "m" * 255) == b"ok", "a 255-byte name does not work")


def case_regular(d, d2):
    data = os.urandom(3 * MiB + 12345)  # spans requests and not stripe-aligned
    write_file(d + "/f", data)
    check(read_file(d + "/f") == data, "read back differs")
    check(os.stat(d + "/f").st_size == len(data), "size")
    # Overwrite in the middle.
    fd = os.open(d + "/f", os.O_WRONLY)
    os.pwrite(fd, b"MIDDLE", MiB)
    os.close(fd)
    check(pread_exact(d + "/f", MiB - 2, 10) == data[MiB - 2:MiB] + b"MIDDLE" +
          data[MiB + 6:MiB + 8], "overwrite")
    # Read past the end: short, then empty.
    check(pread_exact(d + "/f", len(data) - 5, 100) == data[-5:], "short read at the end")
    check(pread_exact(d + "/f", len(data) + 10, 100) == b"", "read past the end")


def case_sparse(d, d2):
    fd = os.open(d + "/s", os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, b"tail", 10 * MiB)
    os.close(fd)
    check(os.stat(d + "/s").st_size == 10 * MiB + 4, "sparse size")
    check(pread_exact(d + "/s", 5 * MiB, 4096) == bytes(4096), "a hole reads as zeros")
    check(pread_exact(d + "/s", 10 * MiB - 2, 6) == b"\0\0tail", "data after the hole")
    # Past 4 GiB: 64-bit offsets all the way down.
    fd = os.open(d + "/big", os.O_RDWR | os.O_CREAT, 0o644)
    os.lseek(fd, 5 * GiB, os.SEEK_SET)
    os.write(fd, b"X")
    os.close(fd)
    check(os.stat(d + "/big").st_size == 5 * GiB + 1, "> 4 GiB sparse size")
    check(pread_exact(d + "/big", 5 * GiB, 1) == b"X", "the byte past 4 GiB")
    check(pread_exact(d + "/big", 4 * GiB, 8192) == bytes(8192), "zeros at 4 GiB")
    check(pread_exact(d + "/big", 0, 16) == bytes(16), "zeros at 0")


def case_append(d, d2):
    write_file(d + "/a", b"start\n")
    fd1 = os.open(d + "/a", os.O_WRONLY | os.O_APPEND)
    fd2 = os.open(d + "/a", os.O_WRONLY | os.O_APPEND)
    os.write(fd1, b"one\n")
    os.write(fd2, b"two\n")   # appends after "one", not at fd2's open-time end
    os.write(fd1, b"three\n")
    os.close(fd1)
    os.close(fd2)
    check(read_file(d + "/a") == b"start\none\ntwo\nthree\n",
          "O_APPEND: %r" % read_file(d + "/a"))
    fd = os.open(d + "/a", os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"end")
    os.close(fd)
    check(read_file(d + "/a").endswith(b"three\nend"), "O_APPEND write")


def case_trunc(d, d2):
    write_file(d + "/t", b"x" * 100000)
    fd = os.open(d + "/t", os.O_WRONLY | os.O_TRUNC)
    check(os.fstat(fd).st_size == 0, "O_TRUNC: fstat size")
    os.write(fd, b"new")
    os.close(fd)
    check(read_file(d + "/t") == b"new", "O_TRUNC then write")
    os.truncate(d + "/t", 10)
    check(read_file(d + "/t") == b"new" + bytes(7), "truncate to extend reads zeros")
    os.truncate(d + "/t", 2)
    check(read_file(d + "/t") == b"ne", "truncate to shrink")
    fd = os.open(d + "/t", os.O_RDWR)
    os.ftruncate(fd, 0)
    os.pwrite(fd, b"z", 5)
    os.close(fd)
    check(read_file(d + "/t") == bytes(5) + b"z", "ftruncate then write past the end")
    # Shrinking across a stripe boundary and growing again: old data gone.
    write_file(d + "/u", b"y" * (5 * MiB))
    os.truncate(d + "/u", MiB)
    os.truncate(d + "/u", 6 * MiB)
    check(pread_exact(d + "/u", 4 * MiB, 4096) == bytes(4096), "data beyond a shrink came back")


def case_hardlink(d, d2):
    write_file(d + "/f", b"linked")
    os.mkdir(d + "/sub")
    os.link(d + "/f", d + "/sub/g")
    a, b = os.stat(d + "/f"), os.stat(d + "/sub/g")
    check(a.st_ino == b.st_ino, "a hard link has another inode")
    check(a.st_nlink == 2, "st_nlink %d after link, want 2" % a.st_nlink)
    os.unlink(d + "/f")
    b = os.stat(d + "/sub/g")
    check(b.st_nlink == 1, "st_nlink %d after unlink, want 1" % b.st_nlink)
    check(read_file(d + "/sub/g") == b"linked", "data after unlinking the other name")
    expect_errno(errno.EPERM, os.link, d + "/sub", d + "/sub2")
    # Directory link counts: 2 + subdirectories.
    check(os.stat(d + "/sub").st_nlink == 2, "an empty directory's st_nlink")
    os.mkdir(d + "/sub/x")
    check(os.stat(d + "/sub").st_nlink == 3, "st_nlink after mkdir of a subdirectory")


def case_unlink_open(d, d2):
    write_file(d + "/u", b"still here")
    fd = os.open(d + "/u", os.O_RDWR)
    os.unlink(d + "/u")
    expect_errno(errno.ENOENT, os.stat, d + "/u")
    check("u" not in os.listdir(d), "the unlinked name is still listed")
    check(os.pread(fd, 100, 0) == b"still here", "read through an unlinked file")
    os.pwrite(fd, b"!", 10)
    check(os.fstat(fd).st_size == 11, "fstat of an unlinked file")
    os.close(fd)
    wait_until(lambda: os.listdir(d) == [], "the hidden name outlived the last close: %r" %
               os.listdir(d))
    # A file with another link is just unlinked.
    write_file(d + "/a", b"two names")
    os.link(d + "/a", d + "/b")
    fd = os.open(d + "/a", os.O_RDONLY)
    os.unlink(d + "/a")
    check(os.listdir(d) == ["b"], "unlink of one of two links: %r" % os.listdir(d))
    os.close(fd)
    check(os.listdir(d) == ["b"], "after close: %r" % os.listdir(d))


def case_symlink(d, d2):
    write_file(d + "/target", b"pointed")
    os.symlink("target", d + "/rel")
    os.symlink(d + "/target", d + "/abs")
    os.symlink("nowhere", d + "/dangling")
    check(os.readlink(d + "/rel") == "target", "readlink")
    check(stat.S_ISLNK(os.lstat(d + "/rel").st_mode), "lstat type")
    check(os.lstat(d + "/rel").st_size == len("target"), "a symlink's size is its length")
    check(read_file(d + "/rel") == b"pointed", "through a relative symlink")
    check(read_file(d + "/abs") == b"pointed", "through an absolute symlink")
    expect_errno(errno.ENOENT, os.stat, d + "/dangling")
    expect_errno(errno.EINVAL, os.readlink, d + "/target")
    long_target = "t" * 4000
    os.symlink(long_target, d + "/long")
    check(os.readlink(d + "/long") == long_target, "a 4000-byte target")


def case_rename(d, d2):
    write_file(d + "/a", b"A")
    write_file(d + "/b", b"B")
    os.rename(d + "/a", d + "/b")  # over an existing target
    check(read_file(d + "/b") == b"A", "rename over a file")
    check(not os.path.exists(d + "/a"), "the old name is still there")
    os.makedirs(d + "/x/y")
    os.mkdir(d + "/z")
    os.rename(d + "/b", d + "/x/y/b")  # across directories: never EXDEV
    check(read_file(d + "/x/y/b") == b"A", "rename across directories")
    os.rename(d + "/x", d + "/z/x")  # a directory, into another
    check(read_file(d + "/z/x/y/b") == b"A", "rename of a directory")
    check(os.stat(d + "/z").st_nlink == 3, "the new parent's st_nlink")
    check(os.stat(d).st_nlink == 3, "the old parent's st_nlink")
    expect_errno(errno.EINVAL, os.rename, d + "/z", d + "/z/x/y/inside")
    expect_errno(errno.EINVAL, os.rename, d + "/z", d + "/z/x")
    os.mkdir(d + "/empty")
    expect_errno(errno.ENOTEMPTY, os.rename, d + "/empty", d + "/z")
    os.mkdir(d + "/e2")
    os.rename(d + "/empty", d + "/e2")  # over an empty directory
    check(not os.path.exists(d + "/empty") and os.path.isdir(d + "/e2"), "dir over empty dir")
    write_file(d + "/c", b"C")
    write_file(d + "/e", b"E")
    expect_errno(errno.EEXIST, renameat2, d + "/c", d + "/e", 1)  # RENAME_NOREPLACE
    renameat2(d + "/c", d + "/n", 1)
    check(read_file(d + "/n") == b"C", "RENAME_NOREPLACE to a free name")
    expect_errno(errno.EINVAL, renameat2, d + "/n", d + "/e", 2)  # RENAME_EXCHANGE
    os.rename(d + "/n", d + "/n")  # onto itself: a no-op
    check(read_file(d + "/n") == b"C", "rename onto itself")
    os.link(d + "/n", d + "/n2")
    os.rename(d + "/n", d + "/n2")  # hard links of one inode: a no-op, both stay
    check(os.path.exists(d + "/n") and os.path.exists(d + "/n2"), "rename of hard links")


def case_special(d, d2):
    os.mkfifo(d + "/fifo", 0o640)
    st = os.lstat(d + "/fifo")
    check(stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640, "mkfifo")
    os.mknod(d + "/null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    st = os.lstat(d + "/null")
    check(stat.S_ISCHR(st.st_mode), "mknod type")
    check((os.major(st.st_rdev), os.minor(st.st_rdev)) == (1, 3), "mknod rdev")
    os.mknod(d + "/plain", 0o644)  # no type: a regular file
    check(stat.S_ISREG(os.lstat(d + "/plain").st_mode), "mknod of a regular file")


def case_attrs(d, d2):
    write_file(d + "/f", b"attrs")
    os.chmod(d + "/f", 0o4751)
    check(stat.S_IMODE(os.stat(d + "/f").st_mode) == 0o4751, "chmod")
    os.chown(d + "/f", 1234, 5678)
    st = os.stat(d + "/f")
    check((st.st_uid, st.st_gid) == (1234, 5678), "chown")
    os.utime(d + "/f", ns=(1000000123, 2000000456))
    st = os.stat(d + "/f")
    check(st.st_atime_ns == 1000000123, "atime ns %d" % st.st_atime_ns)
    check(st.st_mtime_ns == 2000000456, "mtime ns %d" % st.st_mtime_ns)
    before = time.time_ns()
    time.sleep(0.01)
    os.utime(d + "/f")  # UTIME_NOW for both
    st = os.stat(d + "/f")
    check(st.st_mtime_ns >= before - 2 * 10**9, "utime now: mtime %d" % st.st_mtime_ns)
    # touch -m: utimensat with UTIME_OMIT for atime.
    atime = st.st_atime_ns
    r = subprocess.run(["touch", "-m", "-d", "@3.000000789", d + "/f"], capture_output=True,
                       text=True)
    check(r.returncode == 0, "touch -m: %s" % r.stderr.strip())
    st = os.stat(d + "/f")
    check(st.st_mtime_ns == 3000000789, "touch -m: mtime %d" % st.st_mtime_ns)
    check(st.st_atime_ns == atime, "UTIME_OMIT changed atime")
    ctime = st.st_ctime_ns
    time.sleep(0.02)
    os.chmod(d + "/f", 0o600)
    check(os.stat(d + "/f").st_ctime_ns > ctime, "chmod did not move ctime")


def case_write_mtime(d, d2):
    """Pending (client/fs_data.c refreshes mtime at most once a second per
    inode, and an explicit utime does not reset that): write(2) must mark
    mtime for update every time (POSIX), also right after a utime."""
    write_file(d + "/f", b"first")
    os.utime(d + "/f", ns=(1000000123, 3000000789))
    write_file(d + "/f", b"more", os.O_WRONLY | os.O_APPEND)
    m = os.stat(d + "/f").st_mtime_ns
    check(m > 3000000789, "a write after utime left mtime at %d" % m)
    time.sleep(0.3)
    before = time.time_ns()
    write_file(d + "/f", b"again", os.O_WRONLY | os.O_APPEND)
    m = os.stat(d + "/f").st_mtime_ns
    check(m >= before - 10**7, "a second write within 1 s left mtime %.3f s old" %
          ((before - m) / 1e9))


def case_fallocate(d, d2):
    fd = os.open(d + "/fa", os.O_RDWR | os.O_CREAT, 0o644)
    os.posix_fallocate(fd, 0, MiB)
    check(os.fstat(fd).st_size == MiB, "posix_fallocate size")
    check(os.pread(fd, 4096, MiB - 4096) == bytes(4096), "allocated range reads zeros")
    os.pwrite(fd, b"\xff" * (64 * 1024), 0)
    os.close(fd)
    r = subprocess.run(["fallocate", "-p", "-o", "4096", "-l", "8192", d + "/fa"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "fallocate -p: %s" % r.stderr.strip())
    check(os.stat(d + "/fa").st_size == MiB, "punching a hole changed the size")
    got = pread_exact(d + "/fa", 0, 16384)
    check(got == b"\xff" * 4096 + bytes(8192) + b"\xff" * 4096, "punched range")


def case_xattr(d, d2):
    write_file(d + "/f", b"")
    os.setxattr(d + "/f", "user.color", b"blue")
    os.setxattr(d + "/f", "user.empty", b"")
    check(os.getxattr(d + "/f", "user.color") == b"blue", "getxattr")
    check(os.getxattr(d + "/f", "user.empty") == b"", "an empty value")
    check(sorted(os.listxattr(d + "/f")) == ["user.color", "user.empty"],
          "listxattr %r" % os.listxattr(d + "/f"))
    expect_errno(errno.EEXIST, os.setxattr, d + "/f", "user.color", b"red", os.XATTR_CREATE)
    expect_errno(errno.ENODATA, os.setxattr, d + "/f", "user.none", b"x", os.XATTR_REPLACE)
    os.setxattr(d + "/f", "user.color", b"red", os.XATTR_REPLACE)
    check(os.getxattr(d + "/f", "user.color") == b"red", "XATTR_REPLACE")
    big = os.urandom(60000)
    os.setxattr(d + "/f", "user.big", big)
    check(os.getxattr(d + "/f", "user.big") == big, "a 60000-byte value")
    os.removexattr(d + "/f", "user.color")
    expect_errno(errno.ENODATA, os.getxattr, d + "/f", "user.color")
    expect_errno(errno.ENODATA, os.removexattr, d + "/f", "user.color")
    os.mkdir(d + "/dir")
    os.setxattr(d + "/dir", "user.on_dir", b"1")
    check(os.getxattr(d + "/dir", "user.on_dir") == b"1", "xattr on a directory")


def case_statfs(d, d2):
    sv = os.statvfs(d)
    check(sv.f_bsize > 0 and sv.f_frsize > 0, "block size")
    check(sv.f_blocks > 0, "f_blocks 0")
    check(sv.f_bfree <= sv.f_blocks and sv.f_bavail <= sv.f_blocks, "free > total")
    check(sv.f_namemax == 255, "f_namemax %d" % sv.f_namemax)


def case_fsync(d, d2):
    fd = os.open(d + "/f", os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, b"durable")
    os.fsync(fd)
    os.fdatasync(fd)
    os.close(fd)
    dfd = os.open(d, os.O_RDONLY)
    os.fsync(dfd)
    os.close(dfd)
    check(read_file(d + "/f") == b"durable", "after fsync")


def case_readdir(d, d2):
    n = 1500  # several kernel pages of entries, with and without plus
    names = set("entry-%05d-%s" % (i, "x" * (i % 40)) for i in range(n))
    for name in names:
        os.close(os.open(d + "/" + name, os.O_WRONLY | os.O_CREAT, 0o644))
    os.mkdir(d + "/subdir")
    got = os.listdir(d)
    check(len(got) == n + 1, "listdir: %d entries, want %d" % (len(got), n + 1))
    check(set(got) == names | {"subdir"}, "listdir names differ")
    kinds = {e.name: e.is_dir(follow_symlinks=False) for e in os.scandir(d)}
    check(kinds["subdir"] and not kinds[next(iter(names))], "d_type")
    # seekdir back to a telldir from long ago (an offset the handle no
    # longer remembers) continues with the same entry.
    seq = libc_listing(d, 1000, 120)
    check(seq[0] == seq[1], "seekdir to an old telldir: %r then %r" % seq)
    # "." and ".." come first, as getdents sees them.
    out = subprocess.run(["ls", "-f", d], capture_output=True, text=True).stdout.split("\n")
    check(out[:2] == [".", ".."], "ls -f starts with %r" % out[:2])


class _Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]


def libc_listing(path, upto, mark):
    """Reads @path with readdir(3) to entry @upto, having taken telldir at
    entry @mark; seekdir back there. Returns (the entry read after @mark the
    first time, the entry read after seekdir)."""
    libc = _libc
    libc.opendir.restype = ctypes.c_void_p
    libc.readdir64.restype = ctypes.POINTER(_Dirent)
    libc.readdir64.argtypes = [ctypes.c_void_p]
    libc.telldir.restype = ctypes.c_long
    libc.telldir.argtypes = [ctypes.c_void_p]
    libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
    libc.closedir.argtypes = [ctypes.c_void_p]
    dirp = libc.opendir(path.encode())
    check(dirp, "opendir %s" % path)
    try:
        pos, after_mark = None, None
        for i in range(upto):
            ent = libc.readdir64(dirp)
            check(bool(ent), "readdir ended at %d" % i)
            if i == mark:
                after_mark = ent.contents.d_name
            if i == mark - 1:
                pos = libc.telldir(dirp)
        libc.seekdir(dirp, pos)
        ent = libc.readdir64(dirp)
        check(bool(ent), "readdir after seekdir")
        return after_mark, ent.contents.d_name
    finally:
        libc.closedir(dirp)


def case_nonroot(d, d2):
    os.chmod(d, 0o755)
    write_file(d + "/secret", b"s", mode=0o600)
    os.mkdir(d + "/open", 0o777)
    os.chmod(d + "/open", 0o777)
    os.mkdir(d + "/sticky")
    os.chmod(d + "/sticky", 0o1777)
    write_file(d + "/sticky/roots", b"r")
    os.chmod(d + "/sticky/roots", 0o666)
    write_file(d + "/readonly", b"r", mode=0o644)
    os.chmod(d + "/readonly", 0o644)

    def child():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        expect_errno(errno.EACCES, os.open, d + "/secret", os.O_RDONLY)
        expect_errno(errno.EACCES, os.open, d + "/readonly", os.O_WRONLY)
        expect_errno(errno.EACCES, os.open, d + "/new", os.O_WRONLY | os.O_CREAT, 0o644)
        expect_errno(errno.EACCES, os.mkdir, d + "/newdir")
        expect_errno(errno.EACCES, os.unlink, d + "/readonly")
        expect_errno(errno.EPERM, os.chmod, d + "/readonly", 0o777)
        expect_errno(errno.EPERM, os.chown, d + "/open", NOBODY, NOBODY)
        expect_errno(errno.EPERM, os.utime, d + "/readonly", ns=(1, 1))
        expect_errno((errno.EPERM, errno.EACCES), os.unlink, d + "/sticky/roots")
        # What an ordinary user may do in a world-writable directory.
        write_file(d + "/open/mine", b"m")
        st = os.stat(d + "/open/mine")
        check((st.st_uid, st.st_gid) == (NOBODY, NOBODY), "owner of a new file")
        os.chmod(d + "/open/mine", 0o600)
        os.utime(d + "/open/mine", ns=(5, 6))
        os.mkdir(d + "/open/mydir")
        os.rename(d + "/open/mine", d + "/open/mydir/mine")
        os.unlink(d + "/open/mydir/mine")
        os.rmdir(d + "/open/mydir")
        check(read_file(d + "/readonly") == b"r", "reading a 0644 file")

    run_as_child(child)


def run_as_child(fn):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        msg, code = b"", 0
        try:
            fn()
        except Exception as e:  # report any failure to the parent
            msg, code = ("%s: %s" % (type(e).__name__, e)).encode(), 1
        os.write(w, msg)
        os._exit(code)
    os.close(w)
    msg = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        msg += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
          "as uid %d: %s" % (NOBODY, msg.decode() or "exit status %d" % status))


def case_readahead(d, d2):
    """A reader's read-ahead window never hides a write: one made through
    the same mount is seen at once, and a file another client grows is
    read past its old end once the attributes time out (tail -f)."""
    p = d + "/ra"
    data = bytes(range(256)) * (32 * 1024)  # 8 MiB
    write_file(p, data)
    fd = os.open(p, os.O_RDONLY)
    try:
        check(os.pread(fd, 128 * 1024, 0) == data[:128 * 1024], "first read")
        patch = b"P" * 4096
        wfd = os.open(p, os.O_WRONLY)
        try:
            os.pwrite(wfd, patch, 1 << 20)
        finally:
            os.close(wfd)
        check(os.pread(fd, 4096, 1 << 20) == patch, "a write through this mount read back stale")
        rest = os.pread(fd, 64 * 1024, (1 << 20) + 4096)
        check(rest == data[(1 << 20) + 4096:(1 << 20) + 4096 + 64 * 1024], "read after the patch")
    finally:
        os.close(fd)
    # Growth by the other client, seen through a descriptor open here.
    q = d + "/grow"
    write_file(q, b"a" * 100000)
    fd = os.open(q, os.O_RDONLY)
    try:
        check(os.read(fd, 1 << 20) == b"a" * 100000, "before the growth")
        with open(d2 + "/grow", "ab") as f:
            f.write(b"b" * 5000)
        wait_until(lambda: os.read(fd, 1 << 20) == b"b" * 5000 or None,
                   "the growth by the other mount never became readable")
    finally:
        os.close(fd)


def case_read_close(d, d2):
    """Short reads answered from the read-ahead window while the file is
    closed at once, many times: the reply must not race the release."""
    p = d + "/rc"
    write_file(p, b"x" * 1000)
    for _ in range(1000):
        fd = os.open(p, os.O_RDONLY)
        try:
            check(os.read(fd, 1001) == b"x" * 1000, "short read")
        finally:
            os.close(fd)


def case_two_mounts(d, d2):
    data = os.urandom(MiB + 77)
    write_file(d + "/shared", data)
    wait_until(lambda: read_file(d2 + "/shared") == data, "mnt2 does not read mnt's file")
    # Close-to-open for a change of an existing file: new content, new size.
    data2 = os.urandom(2 * MiB + 5)
    write_file(d + "/shared", data2)
    wait_until(lambda: read_file(d2 + "/shared") == data2, "mnt2 reads the old content")
    wait_until(lambda: os.stat(d2 + "/shared").st_size == len(data2), "mnt2's size")
    # Names: created, renamed and removed on mnt2, seen on mnt.
    write_file(d2 + "/from2", b"two")
    wait_until(lambda: read_file(d + "/from2") == b"two", "mnt does not see mnt2's file")
    os.rename(d2 + "/from2", d2 + "/renamed")
    wait_until(lambda: not os.path.exists(d + "/from2") and os.path.exists(d + "/renamed"),
               "mnt does not see the rename")
    os.unlink(d + "/renamed")
    wait_until(lambda: not os.path.exists(d2 + "/renamed"), "mnt2 still sees a removed file")
    os.setxattr(d + "/shared", "user.k", b"v")
    check(os.getxattr(d2 + "/shared", "user.k") == b"v", "xattr via mnt2")


CASES = [(name[5:], fn) for name, fn in list(globals().items()) if name.startswith("case_")]


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    mnt, mnt2, only = sys.argv[1], sys.argv[2], set(sys.argv[3:])
    unknown = only - {n for n, _ in CASES}
    if unknown:
        print("unknown case(s): %s" % " ".join(sorted(unknown)), file=sys.stderr)
        return 2
    base = "posix-%d" % os.getpid()
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
            fn(d, d2)
            print("ok   %-14s %.1fs" % (name, time.monotonic() - t0), flush=True)
        except Exception as e:
            failed.append(name)
            print("FAIL %-14s %s: %s" % (name, type(e).__name__, e), flush=True)
            if not isinstance(e, (Fail, OSError)):
                traceback.print_exc()
    total = len(only) if only else len(CASES)
    print("%d/%d cases passed%s" % (total - len(failed), total,
                                    ": failed " + " ".join(failed) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
