#!/usr/bin/python3
"""Randomized model test of a Cairn FUSE mount: every operation runs on the
mount and on a directory of the local disk, and both must agree.

usage: model.py MNT LOCAL [--ops N] [--seed S] [--mtimes FILE]
       model.py --compare MNT LOCAL [--mtimes FILE]

Each step applies one random operation (create, write, append, truncate,
read, mkdir, rmdir, unlink, rename, link, symlink, readlink, chmod, utime,
xattrs, operations on missing paths) to MNT and to LOCAL (both start empty)
and compares the outcome (the result, or the same errno) and the state of
the paths it touched (type, mode, owner, size, nlink, content, symlink
target, listing of their directories). Every ~200 steps and at the end the
whole trees are compared (also hard-link groups, user.* xattrs and the
mtimes the test set with utime). The seed is printed first; --seed replays
(default: $CAIRN_SEED, else random). --mtimes FILE records the mtimes set
explicitly, for --compare, which only compares MNT's tree with LOCAL's (a
second mount after the run). Exit 1 on the first disagreement. Run as root.
"""
import ctypes
import errno
import hashlib
import os
import random
import stat
import sys
import time
import json

MiB = 1 << 20
STRIPE = 4 * MiB
MAX_NAMES = 200
MAX_DEPTH = 6          # path components of any entry
MAX_BIG = 2            # files over 1 MiB at a time (they are slow to compare)
FULL_EVERY = 200
NAMES = ["a", "b", "c", "d", "e", "f", "g", "h", "x" * 60, "\u00e9t\u00e9"]
FILE_MODES = [0o644, 0o600, 0o755, 0o640, 0o777, 0o444, 0o4755, 0o2750, 0o1644]
DIR_MODES = [0o755, 0o700, 0o777, 0o555, 0o1777, 0o2755, 0o000]
XNAMES = ["user.a", "user.b", "user.long." + "k" * 40]


class Mismatch(Exception):
    pass


_libc = ctypes.CDLL(None, use_errno=True)


def renameat2(src, dst, flags):
    rc = _libc.renameat2(-100, os.fsencode(src), -100, os.fsencode(dst), ctypes.c_uint(flags))
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), src)


# ---- the operations: fn(root, *args) on one side; paths are relative ----

def J(root, rel):
    return os.path.join(root, rel) if rel else root


def op_create(root, p, mode, flags):
    os.close(os.open(J(root, p), os.O_WRONLY | os.O_CREAT | flags, mode))


def op_write(root, p, off, data):
    fd = os.open(J(root, p), os.O_WRONLY)
    try:
        return os.pwrite(fd, data, off)
    finally:
        os.close(fd)


def op_append(root, p, data):
    fd = os.open(J(root, p), os.O_WRONLY | os.O_APPEND)
    try:
        n = os.write(fd, data)
        return n, os.fstat(fd).st_size
    finally:
        os.close(fd)


def op_truncate(root, p, size):
    os.truncate(J(root, p), size)


def op_read(root, p, off, n):
    fd = os.open(J(root, p), os.O_RDONLY)
    try:
        return os.pread(fd, n, off)
    finally:
        os.close(fd)


def op_mkdir(root, p, mode):
    os.mkdir(J(root, p), mode)


def op_rmdir(root, p):
    os.rmdir(J(root, p))


def op_unlink(root, p):
    os.unlink(J(root, p))


def op_rename(root, a, b):
    os.rename(J(root, a), J(root, b))


def op_rename_noreplace(root, a, b):
    renameat2(J(root, a), J(root, b), 1)


def op_link(root, a, b):
    os.link(J(root, a), J(root, b), follow_symlinks=False)


def op_symlink(root, target, p):
    os.symlink(target, J(root, p))


def op_readlink(root, p):
    return os.readlink(J(root, p))


def op_chmod(root, p, mode):
    os.chmod(J(root, p), mode)


def op_utime(root, p, atime_ns, mtime_ns):
    os.utime(J(root, p), ns=(atime_ns, mtime_ns))


def op_setxattr(root, p, name, value, flags):
    os.setxattr(J(root, p), name, value, flags)


def op_removexattr(root, p, name):
    os.removexattr(J(root, p), name)


def op_getxattr(root, p, name):
    return os.getxattr(J(root, p), name)


def op_listxattr(root, p):
    return sorted(n for n in os.listxattr(J(root, p)) if n.startswith("user."))


def op_stat(root, p):
    st = os.stat(J(root, p))
    return stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_nlink


def op_listdir(root, p):
    return sorted(os.listdir(J(root, p)))


# Which arguments of each op are paths.
PATH_ARGS = {op_create: (0,), op_write: (0,), op_append: (0,), op_truncate: (0,),
             op_read: (0,), op_mkdir: (0,), op_rmdir: (0,), op_unlink: (0,),
             op_rename: (0, 1), op_rename_noreplace: (0, 1), op_link: (0, 1),
             op_symlink: (1,), op_readlink: (0,), op_chmod: (0,), op_utime: (0,),
             op_setxattr: (0,), op_removexattr: (0,), op_getxattr: (0,), op_listxattr: (0,),
             op_stat: (0,), op_listdir: (0,)}


# The ops after which the content of the files they name is compared (the
# others cannot change it; the whole-tree checks read everything).
CONTENT_OPS = {op_create, op_write, op_append, op_truncate, op_rename, op_rename_noreplace,
               op_link, op_symlink}

# The ops that add or remove names: their directories' listings are compared.
NAME_OPS = {op_create, op_mkdir, op_rmdir, op_unlink, op_rename, op_rename_noreplace, op_link,
            op_symlink}


def outcome(fn, root, args):
    try:
        return ("ok", fn(root, *args))
    except OSError as e:
        return ("err", errno.errorcode.get(e.errno, e.errno))


# ---- state of one side ----

def lstate(root, rel, ranges=None, content=True):
    """What lstat, readlink and (with @content) the content (all of it, or
    @ranges of it) say about @rel, or the errno."""
    path = J(root, rel)
    try:
        st = os.lstat(path)
    except OSError as e:
        return ("err", errno.errorcode.get(e.errno, e.errno))
    kind = stat.S_IFMT(st.st_mode)
    s = {"type": kind, "mode": oct(stat.S_IMODE(st.st_mode)), "uid": st.st_uid,
         "gid": st.st_gid, "nlink": st.st_nlink}
    if kind != stat.S_IFDIR:
        s["size"] = st.st_size
    if kind == stat.S_IFLNK:
        s["target"] = os.readlink(path)
    elif kind == stat.S_IFREG and content:
        with open(path, "rb") as f:
            if ranges is None:
                s["sha"] = hashlib.sha1(f.read()).hexdigest()
            else:
                parts = []
                for off, n in ranges:
                    f.seek(off)
                    parts.append(f.read(n))
                s["ranges"] = hashlib.sha1(b"|".join(parts)).hexdigest()
    return s


def user_xattrs(path):
    try:
        names = sorted(n for n in os.listxattr(path, follow_symlinks=False)
                       if n.startswith("user."))
        return {n: os.getxattr(path, n, follow_symlinks=False).hex() for n in names}
    except OSError as e:
        return ("err", errno.errorcode.get(e.errno, e.errno))


def tree(root):
    """Every entry below @root: rel -> state (with xattrs), and the hard-link
    groups (sets of names sharing an inode)."""
    out, inos = {}, {}
    todo = [""]
    while todo:
        d = todo.pop()
        for e in sorted(os.scandir(J(root, d)), key=lambda e: e.name):
            rel = os.path.join(d, e.name) if d else e.name
            s = lstate(root, rel)
            s["xattrs"] = user_xattrs(J(root, rel))
            st = os.lstat(J(root, rel))
            s["mtime_ns"] = st.st_mtime_ns
            out[rel] = s
            inos.setdefault(st.st_ino, []).append(rel)
            if e.is_dir(follow_symlinks=False):
                todo.append(rel)
    groups = sorted(sorted(g) for g in inos.values() if len(g) > 1)
    return out, groups


def compare_trees(mnt, local, mtimes):
    """Whole-tree comparison; @mtimes: rel -> mtime_ns the test set."""
    (a, ga), (b, gb) = tree(mnt), tree(local)
    if set(a) != set(b):
        raise Mismatch("names differ: only on the mount %s, only local %s" %
                       (sorted(set(a) - set(b))[:10], sorted(set(b) - set(a))[:10]))
    for rel in sorted(a):
        sa, sb = dict(a[rel]), dict(b[rel])
        ma, mb = sa.pop("mtime_ns"), sb.pop("mtime_ns")
        if sa != sb:
            raise Mismatch("%r differs: mount %r, local %r" % (rel, sa, sb))
        if rel in mtimes and not (ma == mb == mtimes[rel]):
            raise Mismatch("%r: mtime %d on the mount, %d local, %d set by utime" %
                           (rel, ma, mb, mtimes[rel]))
    if ga != gb:
        raise Mismatch("hard-link groups differ: mount %r, local %r" % (ga, gb))
    return len(a)


# ---- the random walk ----

class Model:
    def __init__(self, mnt, local, rng):
        self.mnt, self.local, self.rng = mnt, local, rng
        self.mtime_set = {}   # local ino -> mtime_ns set by utime, until changed
        self.counts = {}
        self.fresh = 0
        self.steps = 0
        self.scan()

    def scan(self):
        """The local tree: rel -> (type, size); depth of each directory."""
        self.entries = {}
        self.by_kind = self.names = None
        todo = [""]
        while todo:
            d = todo.pop()
            for e in os.scandir(J(self.local, d)):
                rel = os.path.join(d, e.name) if d else e.name
                st = e.stat(follow_symlinks=False)
                self.entries[rel] = (stat.S_IFMT(st.st_mode), st.st_size)
                if stat.S_ISDIR(st.st_mode):
                    todo.append(rel)

    def of(self, kind):
        """The entries of type @kind, sorted (cached until they change)."""
        if self.by_kind is None:
            self.by_kind = {}
            for r in sorted(self.entries):
                self.by_kind.setdefault(self.entries[r][0], []).append(r)
        return self.by_kind.get(kind, [])

    def dirs(self):
        return [""] + self.of(stat.S_IFDIR)

    def height(self, rel):
        """Depth of the deepest entry below @rel, counted from @rel."""
        pre = rel + "/"
        return max([r.count("/") - rel.count("/") for r in self.entries if r.startswith(pre)],
                   default=0)

    def depth(self, rel):
        return rel.count("/") + 1 if rel else 0

    def new_name(self, kind=None):
        """A name in a directory (taken or not), within the depth bound."""
        r = self.rng
        for _ in range(20):
            d = r.choice(self.dirs())
            if self.depth(d) < MAX_DEPTH:
                return J(d, r.choice(NAMES)) if d else r.choice(NAMES)
        return r.choice(NAMES)

    def missing(self):
        """A path that does not exist (or runs through a file)."""
        r = self.rng
        self.fresh += 1
        d = r.choice(self.dirs())
        files = self.of(stat.S_IFREG)
        choice = r.randrange(3)
        if choice == 0 or not files:
            return J(d, "missing-%d" % self.fresh) if d else "missing-%d" % self.fresh
        if choice == 1:
            return "no-such-dir-%d/%s" % (self.fresh, r.choice(NAMES))
        return r.choice(files) + "/" + r.choice(NAMES)

    def any_path(self):
        r = self.rng
        x = r.random()
        if self.names is None:
            self.names = sorted(self.entries)
        if x < 0.7 and self.names:
            return r.choice(self.names)
        if x < 0.9:
            return self.new_name()
        return self.missing()

    def pick(self, kind):
        """An entry of @kind most of the time, else any path."""
        cands = self.of(kind)
        if cands and self.rng.random() < 0.85:
            return self.rng.choice(cands)
        return self.any_path()

    def data(self, n):
        return self.rng.randbytes(n)

    def big_files(self):
        return sum(1 for t, s in self.entries.values() if t == stat.S_IFREG and s > MiB)

    # Each generator returns (fn, args, touched paths, content ranges or None).

    def g_create(self):
        r = self.rng
        flags = r.choice([os.O_EXCL, os.O_EXCL, 0, os.O_TRUNC])
        return op_create, (self.new_name(), r.choice(FILE_MODES), flags), None

    def g_write(self):
        r = self.rng
        p = self.pick(stat.S_IFREG)
        size = self.entries.get(p, (0, 0))[1]
        x = r.random()
        if x < 0.05 and self.big_files() < MAX_BIG:  # across the 4 MiB stripe boundary
            off, n = STRIPE - r.randint(1, 5000), r.randint(1, 10000)
        elif x < 0.2 and size < MiB:  # sparse, beyond the end
            off, n = size + r.randint(1, 200000), r.randint(1, 4096)
        elif x < 0.3 and size < MiB:
            off, n = 0, r.randint(1, 65536)
        else:
            off, n = r.randint(0, min(size, 4 * MiB) + 1000), r.randint(1, 8192)
        return op_write, (p, off, self.data(n)), [(max(0, off - 4096), n + 8192)]

    def g_append(self):
        n = self.rng.randint(1, 5000)
        return op_append, (self.pick(stat.S_IFREG), self.data(n)), None

    def g_truncate(self):
        r = self.rng
        p = self.pick(stat.S_IFREG)
        size = self.entries.get(p, (0, 0))[1]
        x = r.random()
        if x < 0.03 and self.big_files() < MAX_BIG:
            new = STRIPE + r.randint(-3000, 3000)
        elif x < 0.15:
            new = 0
        elif x < 0.55:
            new = r.randint(0, size)
        else:
            new = min(size + r.randint(1, 100000), size * 2 + 100000) if size < MiB else \
                r.randint(0, size)
        return op_truncate, (p, new), [(max(0, min(size, new) - 4096), 16384)]

    def g_read(self):
        r = self.rng
        p = self.pick(stat.S_IFREG)
        size = self.entries.get(p, (0, 0))[1]
        return op_read, (p, r.randint(0, size + 100), r.randint(1, 70000)), None

    def g_mkdir(self):
        return op_mkdir, (self.new_name(), self.rng.choice(DIR_MODES)), None

    def g_rmdir(self):
        return op_rmdir, (self.pick(stat.S_IFDIR),), None

    def g_unlink(self):
        r = self.rng
        kind = r.choice([stat.S_IFREG, stat.S_IFREG, stat.S_IFLNK])
        return op_unlink, (self.pick(kind),), None

    def g_rename(self):
        r = self.rng
        x = r.random()
        dirs = self.of(stat.S_IFDIR)
        if x < 0.25:  # within a directory
            src = self.any_path()
            d = os.path.dirname(src)
            dst = J(d, r.choice(NAMES))
        elif x < 0.55:  # across directories
            src, dst = self.any_path(), self.new_name()
        elif x < 0.7:  # a file over a file
            src, dst = self.pick(stat.S_IFREG), self.pick(stat.S_IFREG)
        elif x < 0.8 and dirs:  # a directory over a directory (empty or not)
            src, dst = r.choice(dirs), r.choice(dirs)
        elif x < 0.87 and dirs:  # a directory into its own subtree: EINVAL
            src = r.choice(dirs)
            below = [d for d in dirs if d.startswith(src + "/")]
            dst = J(r.choice(below) if below else src, r.choice(NAMES))
        elif x < 0.93:
            return op_rename_noreplace, (self.any_path(), self.new_name()), None
        else:
            src, dst = self.any_path(), self.any_path()
        if src in self.entries and self.entries[src][0] == stat.S_IFDIR:
            if self.depth(os.path.dirname(dst)) + 1 + self.height(src) > MAX_DEPTH:
                dst = J(os.path.dirname(src), r.choice(NAMES))
        return op_rename, (src, dst), None

    def g_link(self):
        kind = self.rng.choice([stat.S_IFREG, stat.S_IFREG, stat.S_IFLNK, stat.S_IFDIR])
        return op_link, (self.pick(kind), self.new_name()), None

    def g_symlink(self):
        r = self.rng
        target = r.choice(NAMES + ["dangling", "x" * 300])
        return op_symlink, (target, self.new_name()), None

    def g_readlink(self):
        return op_readlink, (self.pick(stat.S_IFLNK),), None

    def g_chmod(self):
        r = self.rng
        p = self.pick(r.choice([stat.S_IFREG, stat.S_IFDIR]))
        modes = DIR_MODES if self.entries.get(p, (0,))[0] == stat.S_IFDIR else FILE_MODES
        return op_chmod, (p, r.choice(modes)), None

    def g_utime(self):
        r = self.rng
        t = lambda: r.randint(10**9, 2 * 10**9) * 10**9 + r.randint(0, 10**9 - 1)
        return op_utime, (self.pick(r.choice([stat.S_IFREG, stat.S_IFDIR])), t(), t()), None

    def g_setxattr(self):
        r = self.rng
        flags = r.choice([0, 0, os.XATTR_CREATE, os.XATTR_REPLACE])
        value = self.data(r.choice([0, 1, 10, 200, 1000]))
        p = self.pick(r.choice([stat.S_IFREG, stat.S_IFDIR]))
        return op_setxattr, (p, r.choice(XNAMES), value, flags), None

    def g_removexattr(self):
        r = self.rng
        return op_removexattr, (self.pick(stat.S_IFREG), r.choice(XNAMES)), None

    def g_getxattr(self):
        r = self.rng
        p = self.pick(r.choice([stat.S_IFREG, stat.S_IFDIR]))
        if r.random() < 0.5:
            return op_listxattr, (p,), None
        return op_getxattr, (p, r.choice(XNAMES)), None

    def g_missing(self):
        """Calls on paths that are not there (or run through a file)."""
        r = self.rng
        p, q = self.missing(), self.any_path()
        return r.choice([
            (op_stat, (p,)), (op_unlink, (p,)), (op_rmdir, (p,)), (op_rename, (p, q)),
            (op_link, (p, q)), (op_chmod, (p, 0o644)), (op_readlink, (p,)),
            (op_mkdir, (p + "/sub", 0o755)), (op_create, (p + "/f", 0o644, 0)),
            (op_truncate, (p, 0)), (op_setxattr, (p, "user.a", b"v", 0)),
            (op_listdir, (p,)), (op_read, (p, 0, 10)), (op_rename, (q, p + "/x")),
        ]) + (None,)

    WEIGHTS = [("create", 9), ("write", 12), ("append", 5), ("truncate", 6), ("read", 7),
               ("mkdir", 7), ("rmdir", 5), ("unlink", 7), ("rename", 14), ("link", 4),
               ("symlink", 4), ("readlink", 2), ("chmod", 4), ("utime", 4),
               ("setxattr", 5), ("removexattr", 3), ("getxattr", 3), ("missing", 6)]

    def next_op(self):
        r = self.rng
        names, weights = zip(*self.WEIGHTS)
        kind = r.choices(names, weights)[0]
        # Past 3/4 of the bound, removals take over more and more adds.
        full = (len(self.entries) - MAX_NAMES * 3 // 4) / (MAX_NAMES // 4)
        if kind in ("create", "mkdir", "symlink", "link") and r.random() < full:
            kind = r.choice(["unlink", "unlink", "rmdir"])
        fn, args, ranges = getattr(self, "g_" + kind)()
        return fn, args, ranges

    # ---- one step ----

    def touched(self, fn, args):
        """Paths an op names, and the directories whose listing it may change."""
        paths = [args[i] for i in PATH_ARGS[fn]]
        return paths, sorted({os.path.dirname(p) for p in paths})

    def invalidate_mtimes(self, paths, dirs):
        for rel in list(paths) + list(dirs):
            for follow in (False, True):
                try:
                    st = os.stat(J(self.local, rel), follow_symlinks=follow)
                except OSError:
                    continue
                self.mtime_set.pop(st.st_ino, None)

    def update(self, fn, paths, moved_dir):
        """Brings self.entries up to date after an op on @paths: a full scan
        after a directory moved (and now and then: symlinks create and write
        elsewhere), else just the named paths."""
        self.steps += 1
        self.by_kind = self.names = None
        if moved_dir or self.steps % 50 == 0:
            self.scan()
            return
        for p in paths:
            try:
                st = os.lstat(J(self.local, p))
                self.entries[p] = (stat.S_IFMT(st.st_mode), st.st_size)
            except OSError:
                self.entries.pop(p, None)

    def step(self, fn, args, ranges):
        paths, dirs = self.touched(fn, args)
        moved_dir = fn in (op_rename, op_rename_noreplace) and \
            self.entries.get(args[0], (0,))[0] == stat.S_IFDIR
        keeps_mtime = fn in (op_read, op_readlink, op_chmod, op_stat, op_listdir,
                             op_setxattr, op_removexattr, op_getxattr, op_listxattr)
        if not keeps_mtime:
            self.invalidate_mtimes(paths, dirs)
        got = outcome(fn, self.mnt, args)
        want = outcome(fn, self.local, args)
        if got != want:
            raise Mismatch("outcome: mount %s, local %s" % (short(got), short(want)))
        self.counts[want[0] if want[0] == "ok" else want[1]] = \
            self.counts.get(want[0] if want[0] == "ok" else want[1], 0) + 1
        if not keeps_mtime:
            self.invalidate_mtimes(paths, dirs)
        if fn is op_utime and want[0] == "ok":
            st = os.stat(J(self.local, args[0]))
            self.mtime_set[st.st_ino] = args[2]
            sm = os.stat(J(self.mnt, args[0]))
            if (sm.st_atime_ns, sm.st_mtime_ns) != args[1:]:
                raise Mismatch("times after utime: atime %d mtime %d on the mount" %
                               (sm.st_atime_ns, sm.st_mtime_ns))
        for p in paths:
            a = self.path_state(self.mnt, p, ranges, fn)
            b = self.path_state(self.local, p, ranges, fn)
            if a != b:
                raise Mismatch("state of %r: mount %r, local %r" % (p, a, b))
        for d in dirs if fn in NAME_OPS else ():
            a, b = outcome(op_listdir, self.mnt, (d,)), outcome(op_listdir, self.local, (d,))
            if a != b:
                raise Mismatch("listing of %r: mount %r, local %r" % (d, a, b))
        if not keeps_mtime:
            self.update(fn, paths, moved_dir)

    def path_state(self, root, p, ranges, fn):
        """lstate of @p; files over 256 KiB (locally) only in @ranges and
        their first and last 64 KiB; with xattrs after xattr calls."""
        try:
            size = os.lstat(J(self.local, p)).st_size
        except OSError:
            size = 0
        rng = None
        if size > 256 * 1024:
            rng = (ranges or []) + [(0, 65536), (size - 65536, 65536)]
        s = lstate(root, p, rng, content=fn in CONTENT_OPS)
        if fn in (op_setxattr, op_removexattr) and isinstance(s, dict):
            s["xattrs"] = user_xattrs(J(root, p))
        return s

    def mtimes_by_path(self):
        """rel -> mtime_ns for the entries whose mtime the test set last."""
        out = {}
        for rel in self.entries:
            st = os.lstat(J(self.local, rel))
            if st.st_ino in self.mtime_set:
                out[rel] = self.mtime_set[st.st_ino]
        return out


def short(o):
    s = repr(o)
    return s if len(s) < 300 else s[:300] + "..."


def describe(fn, args):
    return "%s(%s)" % (fn.__name__[3:], ", ".join(
        ("<%d bytes>" % len(a)) if isinstance(a, bytes) else repr(a) for a in args))


def run(mnt, local, ops, seed, mtimes_file):
    rng = random.Random(seed)
    os.umask(0o022)
    m = Model(mnt, local, rng)
    t0 = time.monotonic()
    history, fulls, max_names = [], 0, 0
    for i in range(1, ops + 1):
        fn, args, ranges = m.next_op()
        history.append("%5d %s" % (i, describe(fn, args)))
        try:
            m.step(fn, args, ranges)
            if i % FULL_EVERY == 0 or i == ops:
                compare_trees(mnt, local, m.mtimes_by_path())
                fulls += 1
        except Mismatch as e:
            print("\n".join(history[-25:]))
            print("FAIL at op %d (seed %d): %s: %s" % (i, seed, describe(fn, args), e))
            return 1
        max_names = max(max_names, len(m.entries))
    if mtimes_file:
        with open(mtimes_file, "w") as f:
            json.dump(m.mtimes_by_path(), f)
    errs = sorted((k, v) for k, v in m.counts.items() if k != "ok")
    print("model: seed %d: %d ops (%d ok; errors %s), %d full-tree checks, up to %d names, "
          "%d at the end, %.1f s" % (seed, ops, m.counts.get("ok", 0),
                                     " ".join("%s=%d" % kv for kv in errs), fulls, max_names,
                                     len(m.entries), time.monotonic() - t0))
    return 0


def main():
    args = sys.argv[1:]
    opts = {"--ops": "3000", "--seed": os.environ.get("CAIRN_SEED"), "--mtimes": None}
    compare_only = "--compare" in args
    args = [a for a in args if a != "--compare"]
    pos = []
    while args:
        a = args.pop(0)
        if a in opts and args:
            opts[a] = args.pop(0)
        elif a.startswith("-"):
            print(__doc__, file=sys.stderr)
            return 2
        else:
            pos.append(a)
    if len(pos) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    mnt, local = pos
    if compare_only:
        mtimes = {}
        if opts["--mtimes"]:
            with open(opts["--mtimes"]) as f:
                mtimes = json.load(f)
        try:
            n = compare_trees(mnt, local, mtimes)
        except Mismatch as e:
            print("FAIL: %s and %s differ: %s" % (mnt, local, e))
            return 1
        print("model: %s matches %s: %d entries, %d mtimes set by utime" %
              (mnt, local, n, len(mtimes)))
        return 0
    seed = int(opts["--seed"]) if opts["--seed"] else random.SystemRandom().randrange(2**32)
    print("model: seed %d (replay with --seed %d)" % (seed, seed), flush=True)
    return run(mnt, local, int(opts["--ops"]), seed, opts["--mtimes"])


if __name__ == "__main__":
    sys.exit(main())
