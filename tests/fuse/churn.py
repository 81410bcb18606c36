#!/usr/bin/python3
"""Several mounts of one volume changing the same directories at once: the
tree is never corrupted and every mount sees the others' changes.

usage: churn.py TOP TOP [TOP...] --cairn BIN --conf FILE --workdir DIR
                [--per-mount N] [--seconds S] [--ops N] [--seed S]
                [--timeout S]
       churn.py worker N SEED HOME SECONDS OPS OUT TOP...   (run by the driver)

Each TOP is MOUNT/NAME: the same directory (not there yet) at the root of
volume "default", seen through a different mount. The driver makes it and
the shared directories s0..s3 in it, then runs --per-mount workers (2) on
each mount at once for --seconds (15) or --ops ops each (0: no limit),
each with its own seed (printed); their reports go to WORKDIR.
Worker N changes only names starting with "wN-", through its home mount,
but always inside the shared directories, so every directory sees
concurrent changes from every mount: creates with unique content, renames
of its files within and across directories (some over another of its
files), hard links, unlinks, mkdir of its own subdirectories, renames of
them (with their files) across the shared directories (some over another
of its empty subdirectories), rmdir. It keeps an exact model of its names
and checks it as it goes: listings of a shared directory through any
mount (listings always ask the cluster) and of its own subdirectories
show exactly its names; its files read back their content and link count
through its home mount. Any failed call fails the run, reported with the
worker, op number, call and errno.

After the workers: once the mounts' attribute and entry timeout
(--timeout, 1 s) has passed, the tree through each mount must be exactly
the union of the models: names, types, file contents, link counts of files
and directories, hard-link groups, the same inode numbers through every
mount. `cairn --json fs check default` (no repair) must report the volume
consistent (no orphans, dangling entries, bad link counts or intents) with
as many inodes, directories and entries as the walk of the whole volume.
The seed is printed first; --seed (or $CAIRN_SEED) replays every worker's
choices (not the interleaving); with --ops N every worker stops after N
ops, e.g. the op number a failure names.
"""
import errno
import json
import os
import random
import stat
import subprocess
import sys
import time

SHARED = ["s0", "s1", "s2", "s3"]
MAX_PATHS = 30          # a worker's file names at a time
MAX_DIRS = 3            # a worker's own subdirectories at a time
STOP_GRACE_S = 120      # past --seconds, for the workers to finish
VISIBLE_DEADLINE_S = 15
CONVERGE_DEADLINE_S = 10
CHECK_TIMEOUT_S = 120
KINDS = ["create", "rename", "rename_x", "rename_over", "link", "unlink", "mkdir",
         "rename_dir", "rename_dir_over", "rmdir", "list", "read"]


class Fail(Exception):
    pass


def content(n, fid, length):
    """File @fid of worker @n: its id, repeated to @length bytes."""
    unit = b"w%d-f%d;" % (n, fid)
    return (unit * (length // len(unit) + 1))[:length]


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno))


# ---- the worker ----

class Worker:
    """Worker @n's names and the ops on them. Paths are relative to TOP.
    files: path -> fid (hard links share a fid); sizes: fid -> length;
    dirs: the worker's own subdirectories (each directly in a shared one)."""

    def __init__(self, n, seed, home, tops):
        self.n, self.seed, self.home, self.tops = n, seed, home, tops
        self.top = tops[home]
        self.rng = random.Random(seed)
        self.pre = "w%d-" % n
        self.files, self.sizes, self.dirs = {}, {}, set()
        self.next_id = 1
        self.seq = 0           # ops started
        self.counts = dict.fromkeys(KINDS, 0)
        self.what = ""         # the call in progress, for the failure report

    def p(self, rel, top=None):
        return os.path.join(top or self.top, rel)

    def uid(self):
        self.next_id += 1
        return self.next_id - 1

    def new_name(self, kind):
        return "%s%s%d" % (self.pre, kind, self.uid())

    def all_dirs(self):
        return SHARED + sorted(self.dirs)

    def links(self, fid):
        return sorted(q for q, g in self.files.items() if g == fid)

    def call(self, what, fn, *args):
        self.what = what
        return fn(*args)

    # -- the changes --

    def create(self, d):
        fid = self.uid()
        rel = os.path.join(d, "%sf%d" % (self.pre, fid))
        length = self.rng.randint(1, 6000)
        data = content(self.n, fid, length)
        fd = self.call("open(%s, O_CREAT|O_EXCL|O_WRONLY)" % rel, os.open, self.p(rel),
                       os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            while data:
                data = data[self.call("write(%s)" % rel, os.write, fd, data):]
        finally:
            self.call("close(%s)" % rel, os.close, fd)
        self.files[rel] = fid
        self.sizes[fid] = length
        self.counts["create"] += 1

    def rename_file(self, src, dst, kind):
        self.call("rename(%s, %s)" % (src, dst), os.rename, self.p(src), self.p(dst))
        fid = self.files.pop(src)
        gone = self.files.get(dst)
        self.files[dst] = fid
        if gone is not None and gone not in self.files.values():
            del self.sizes[gone]
        self.counts[kind] += 1

    def link(self, src, dst):
        self.call("link(%s, %s)" % (src, dst), os.link, self.p(src), self.p(dst))
        self.files[dst] = self.files[src]
        self.counts["link"] += 1

    def unlink(self, rel):
        self.call("unlink(%s)" % rel, os.unlink, self.p(rel))
        fid = self.files.pop(rel)
        if fid not in self.files.values():
            del self.sizes[fid]
        self.counts["unlink"] += 1

    def mkdir(self, d):
        rel = os.path.join(d, self.new_name("d"))
        self.call("mkdir(%s)" % rel, os.mkdir, self.p(rel), 0o755)
        self.dirs.add(rel)
        self.counts["mkdir"] += 1

    def rename_dir(self, src, dst, kind):
        self.call("rename(%s, %s)" % (src, dst), os.rename, self.p(src), self.p(dst))
        self.dirs.discard(src)
        self.dirs.discard(dst)  # replaced: it was empty
        self.dirs.add(dst)
        pre = src + "/"
        for q in [q for q in self.files if q.startswith(pre)]:
            self.files[dst + "/" + q[len(pre):]] = self.files.pop(q)
        self.counts[kind] += 1

    def rmdir(self, d):
        pre = d + "/"
        for q in sorted(q for q in self.files if q.startswith(pre)):
            dst = os.path.join(self.rng.choice(SHARED), os.path.basename(q))
            self.rename_file(q, dst, "rename_x")
        self.call("rmdir(%s)" % d, os.rmdir, self.p(d))
        self.dirs.discard(d)
        self.counts["rmdir"] += 1

    # -- the checks --

    def listing(self):
        """A shared directory through any mount, or an own subdirectory
        through the home mount (another mount may still have its old
        place cached): exactly the names the model has there."""
        if self.dirs and self.rng.random() < 0.3:
            d, top = self.rng.choice(sorted(self.dirs)), self.top
        else:
            d, top = self.rng.choice(SHARED), self.rng.choice(self.tops)
        names = self.call("listdir(%s) through %s" % (d, top), os.listdir, self.p(d, top))
        got = {x for x in names if x.startswith(self.pre)}
        pre = d + "/"
        want = {q[len(pre):] for q in list(self.files) + list(self.dirs)
                if q.startswith(pre) and "/" not in q[len(pre):]}
        if got != want:
            raise Fail("listdir(%s) through %s: missing %s, extra %s" %
                       (d, top, sorted(want - got), sorted(got - want)))
        self.counts["list"] += 1

    def read(self, rel):
        fid = self.files[rel]
        st = self.call("lstat(%s)" % rel, os.lstat, self.p(rel))
        with self.call("open(%s)" % rel, open, self.p(rel), "rb") as f:
            data = self.call("read(%s)" % rel, f.read)
        want_nlink = len(self.links(fid))
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != want_nlink:
            raise Fail("lstat(%s): mode %o nlink %d, want a file with nlink %d" %
                       (rel, st.st_mode, st.st_nlink, want_nlink))
        if data != content(self.n, fid, self.sizes[fid]):
            raise Fail("read(%s): %d bytes %r..., want file %d's %d bytes" %
                       (rel, len(data), data[:32], fid, self.sizes[fid]))
        self.counts["read"] += 1

    # -- choosing --

    def step(self):
        rng, files = self.rng, sorted(self.files)
        x = rng.random()
        if len(files) < 4 or (x < 0.18 and len(files) < MAX_PATHS):
            return self.create(rng.choice(self.all_dirs()))
        if x < 0.26:
            return self.unlink(rng.choice(files))
        if x < 0.33:
            src = rng.choice(files)
            return self.rename_file(src, os.path.join(os.path.dirname(src),
                                                      self.new_name("r")), "rename")
        if x < 0.48:
            src = rng.choice(files)
            d = rng.choice([d for d in self.all_dirs() if d != os.path.dirname(src)])
            name = os.path.basename(src) if rng.random() < 0.5 else self.new_name("r")
            return self.rename_file(src, os.path.join(d, name), "rename_x")
        if x < 0.54:
            src = rng.choice(files)
            over = [q for q in files if self.files[q] != self.files[src]]
            if over:
                return self.rename_file(src, rng.choice(over), "rename_over")
        if x < 0.62 and len(files) < MAX_PATHS:
            src = rng.choice(files)
            return self.link(src, os.path.join(rng.choice(self.all_dirs()), self.new_name("l")))
        if x < 0.67 and len(self.dirs) < MAX_DIRS:
            return self.mkdir(rng.choice(SHARED))
        if x < 0.74 and self.dirs:
            src = rng.choice(sorted(self.dirs))
            others = [d for d in SHARED if d != os.path.dirname(src)]
            d = rng.choice(others) if rng.random() < 0.85 else os.path.dirname(src)
            name = os.path.basename(src) if d != os.path.dirname(src) and \
                rng.random() < 0.5 else self.new_name("d")
            return self.rename_dir(src, os.path.join(d, name), "rename_dir")
        if x < 0.76 and len(self.dirs) >= 2:
            src = rng.choice(sorted(self.dirs))
            empty = [d for d in sorted(self.dirs) if d != src and not
                     any(q.startswith(d + "/") for q in files)]
            if empty:
                return self.rename_dir(src, rng.choice(empty), "rename_dir_over")
        if x < 0.80 and self.dirs:
            return self.rmdir(rng.choice(sorted(self.dirs)))
        if x < 0.90:
            return self.listing()
        return self.read(rng.choice(files))

    def run(self, seconds, max_ops):
        end = time.monotonic() + seconds
        while time.monotonic() < end and (max_ops == 0 or self.seq < max_ops):
            self.seq += 1
            self.step()

    def report(self, error, t0):
        return {"n": self.n, "seed": self.seed, "home": self.home, "ops": self.seq,
                "seconds": round(time.monotonic() - t0, 2), "counts": self.counts,
                "files": {q: [f, self.sizes[f]] for q, f in self.files.items()},
                "dirs": sorted(self.dirs), "error": error}


def worker(args):
    n, seed, home, seconds, max_ops, out = (int(args[0]), int(args[1]), int(args[2]),
                                            float(args[3]), int(args[4]), args[5])
    w = Worker(n, seed, home, args[6:])
    sys.stdin.read(1)  # the driver's start signal: all workers begin together
    t0, error = time.monotonic(), None
    try:
        w.run(seconds, max_ops)
    except OSError as e:
        error = "op %d: %s failed: %s (%s)" % (w.seq, w.what, errname(e), e.strerror)
    except Fail as e:
        error = "op %d: %s" % (w.seq, e)
    with open(out + ".tmp", "w") as f:
        json.dump(w.report(error, t0), f)
    os.rename(out + ".tmp", out)
    return 1 if error else 0


# ---- the driver ----

def log(msg):
    print("churn: %s" % msg, flush=True)


def wait_for(cond, what, deadline_s):
    end = time.monotonic() + deadline_s
    while not cond():
        if time.monotonic() > end:
            raise Fail("timed out after %d s waiting for %s" % (deadline_s, what))
        time.sleep(0.05)


def expected(reports):
    """The union of the models: (dirs {path: nlink}, files {path: (key, bytes)},
    where key names the inode: "N:fid")."""
    dirs = {"": 2 + len(SHARED)}
    dirs.update({d: 2 for d in SHARED})
    files = {}
    for r in reports:
        for d in r["dirs"]:
            dirs[d] = 2
            dirs[os.path.dirname(d)] += 1
        for q, (fid, length) in r["files"].items():
            files[q] = ("%d:%d" % (r["n"], fid), content(r["n"], fid, length))
    return dirs, files


def walk(top):
    """What a mount shows under @top: ({path: (nlink, ino)} of directories,
    {path: (nlink, ino, bytes)} of files, [paths of anything else])."""
    st = os.lstat(top)
    dirs, files, other = {"": (st.st_nlink, st.st_ino)}, {}, []
    todo = [""]
    while todo:
        d = todo.pop()
        for name in os.listdir(os.path.join(top, d)):
            rel = os.path.join(d, name) if d else name
            path = os.path.join(top, rel)
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode):
                dirs[rel] = (st.st_nlink, st.st_ino)
                todo.append(rel)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    files[rel] = (st.st_nlink, st.st_ino, f.read())
            else:
                other.append("%s (mode %o)" % (rel, st.st_mode))
    return dirs, files, other


def compare(seen, want):
    """The differences between a walk and the model, as text (empty: none)."""
    (sd, sf, other), (wd, wf) = seen, want
    out = []
    if other:
        out.append("neither file nor directory: %s" % other[:5])
    if set(sd) != set(wd):
        out.append("directories missing %s, extra %s" %
                   (sorted(set(wd) - set(sd))[:5], sorted(set(sd) - set(wd))[:5]))
    bad = ["%s nlink %d, want %d" % (d or ".", sd[d][0], wd[d])
           for d in sorted(set(sd) & set(wd)) if sd[d][0] != wd[d]]
    if bad:
        out.append("directory link counts: %s" % bad[:5])
    if set(sf) != set(wf):
        out.append("files missing %s, extra %s" %
                   (sorted(set(wf) - set(sf))[:5], sorted(set(sf) - set(wf))[:5]))
    common = sorted(set(sf) & set(wf))
    bad = ["%s: %d bytes %r..., want %d bytes of %s" % (q, len(sf[q][2]), sf[q][2][:24],
                                                       len(wf[q][1]), wf[q][0])
           for q in common if sf[q][2] != wf[q][1]]
    if bad:
        out.append("contents: %s" % bad[:5])
    groups = {}
    for q in wf:
        groups.setdefault(wf[q][0], []).append(q)
    bad = ["%s nlink %d, want %d" % (q, sf[q][0], len(groups[wf[q][0]]))
           for q in common if sf[q][0] != len(groups[wf[q][0]])]
    if bad:
        out.append("file link counts: %s" % bad[:5])
    # Hard links share an inode; different files never do.
    inos = {}
    for q in common:
        inos.setdefault(sf[q][1], set()).add(wf[q][0])
    for key, qs in groups.items():
        if all(q in sf for q in qs) and len({sf[q][1] for q in qs}) != 1:
            out.append("the links of %s have different inodes: %s" %
                       (key, {q: sf[q][1] for q in qs}))
    bad = {ino: sorted(keys) for ino, keys in inos.items() if len(keys) > 1}
    if bad:
        out.append("different files share an inode: %s" % list(bad.items())[:3])
    return "; ".join(out)


def walk_compare(top, want):
    """(the walk or None, the differences from @want or the failed call)."""
    try:
        seen = walk(top)
    except OSError as e:
        return None, "the walk failed: %s on %s: %s" % (errname(e), e.filename, e.strerror)
    return seen, compare(seen, want)


def same_inodes(walks, tops):
    """Inode numbers are the cluster's: the same path has the same one
    through every mount."""
    (d0, f0, _), out = walks[0], []
    for (d, f, _), top in zip(walks[1:], tops[1:]):
        bad = [q for q in d0 if q in d and d[q][1] != d0[q][1]]
        bad += [q for q in f0 if q in f and f[q][1] != f0[q][1]]
        if bad:
            out.append("%s: %s" % (top, ["%s %d vs %d" % (q, (d.get(q) or f.get(q))[1],
                                                         (d0.get(q) or f0.get(q))[1])
                                        for q in bad[:5]]))
    if out:
        raise Fail("inode numbers differ between mounts: %s" % "; ".join(out))


def volume_counts(root):
    """(inodes, directories, entries) of the whole volume mounted at @root,
    as `fs check` counts them (the root is an inode and a directory)."""
    inodes, dirs, entries = {os.lstat(root).st_ino}, 1, 0
    todo = [root]
    while todo:
        d = todo.pop()
        for e in os.scandir(d):
            entries += 1
            st = e.stat(follow_symlinks=False)
            inodes.add(st.st_ino)
            if stat.S_ISDIR(st.st_mode):
                dirs += 1
                todo.append(e.path)
    return len(inodes), dirs, entries


class Driver:
    def __init__(self, tops, o):
        self.tops, self.o = tops, o
        self.procs = []   # (report path, Popen)

    def start(self, seed):
        rng = random.Random(seed)
        os.mkdir(self.tops[0])
        for d in SHARED:
            os.mkdir(os.path.join(self.tops[0], d))
        for top in self.tops[1:]:  # new names: no entry cache to wait out
            wait_for(lambda: all(os.path.isdir(os.path.join(top, d)) for d in SHARED),
                     "%s/s0..s3 to appear" % top, VISIBLE_DEADLINE_S)
        n = 0
        for home in range(len(self.tops)):
            for _ in range(self.o["per_mount"]):
                wseed = rng.randrange(2**32)
                out = os.path.join(self.o["workdir"], "churn-w%d.json" % n)
                log("worker %d on %s: seed %d" % (n, self.tops[home], wseed))
                p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "worker",
                                      str(n), str(wseed), str(home), str(self.o["seconds"]),
                                      str(self.o["ops"]), out] + self.tops,
                                     stdin=subprocess.PIPE)
                self.procs.append((out, p))
                n += 1

    def run_workers(self):
        """Starts them together; their reports once all ended."""
        for _, p in self.procs:
            p.stdin.write(b"g")
            p.stdin.close()
        deadline = time.monotonic() + self.o["seconds"] + STOP_GRACE_S
        for _, p in self.procs:
            try:
                p.wait(max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise Fail("worker pid %d still runs %d s past its end (a call hangs?)" %
                           (p.pid, STOP_GRACE_S))
        reports = []
        for out, p in self.procs:
            try:
                with open(out) as f:
                    reports.append(json.load(f))
            except (OSError, ValueError):
                raise Fail("a worker exited %d without a report (%s)" % (p.returncode, out))
        return reports

    def stop(self):
        for _, p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def converge(self, want, t_end):
        """Each mount's tree once the entries and attributes it cached during
        the run expired (the workers ended at @t_end; every cache entry was
        made before then, so it lasts until t_end + timeout at most). A
        mount that differs is polled on to say whether it catches up late."""
        ready = t_end + self.o["timeout"] + 0.25
        if time.monotonic() < ready:
            time.sleep(ready - time.monotonic())
        walks, problems = [], []
        for top in self.tops:
            t0 = time.monotonic()
            seen, diff = walk_compare(top, want)
            if diff:
                end, late = t0 + CONVERGE_DEADLINE_S, None
                while late is None and time.monotonic() < end:
                    time.sleep(0.2)
                    if not walk_compare(top, want)[1]:
                        late = time.monotonic() - t_end
                problems.append("%s, %.2f s after the workers ended: %s (%s)" % (
                    top, t0 - t_end, diff,
                    "it agreed %.2f s after the workers ended" % late if late else
                    "it still differed %d s later" % CONVERGE_DEADLINE_S))
                log("%s DIFFERS, walked %.2f s after the workers ended" % (top, t0 - t_end))
                continue
            walks.append(seen)
            log("%s: %d directories, %d files, walked %.2f s after the workers ended" %
                (top, len(seen[0]), len(seen[1]), t0 - t_end))
        if problems:
            raise Fail("the tree is not the union of the workers' models through " +
                       " | ".join(problems) + dead_mounts(self.tops))
        same_inodes(walks, self.tops)
        return walks

    def fs_check(self, root):
        cmd = [self.o["cairn"], "-c", self.o["conf"], "--json", "fs", "check", "default"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=CHECK_TIMEOUT_S)
        try:
            rep = json.loads(r.stdout)
        except ValueError:
            raise Fail("%s: exit %d, %s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
        log("fs check: " + " ".join("%s=%s" % (k, rep.get(k)) for k in (
            "inodes", "directories", "entries", "orphans", "dangling", "bad_nlink",
            "intents", "consistent")))
        bad = {k: rep[k] for k in ("orphans", "dangling", "bad_nlink", "intents") if rep[k]}
        if r.returncode != 0 or bad or not rep["consistent"]:
            raise Fail("fs check: exit %d, problems %r" % (r.returncode, bad))
        counts = volume_counts(root)
        if (rep["inodes"], rep["directories"], rep["entries"]) != counts:
            raise Fail("fs check counts %d inodes, %d directories, %d entries; the mount "
                       "shows %d, %d, %d" % ((rep["inodes"], rep["directories"],
                                             rep["entries"]) + counts))


def dead_mounts(tops):
    """Names the mounts whose mount.cairn is gone, for a failure report."""
    dead = []
    for top in tops:
        try:
            os.stat(os.path.dirname(top))
        except OSError as e:
            if e.errno in (errno.ENOTCONN, errno.ECONNABORTED):
                dead.append(os.path.dirname(top))
    return "; mount.cairn is gone from %s" % " ".join(dead) if dead else ""


def summary(reports, seconds):
    total = dict.fromkeys(KINDS, 0)
    for r in reports:
        for k, v in r["counts"].items():
            total[k] += v
    ops = sum(r["ops"] for r in reports)
    return ops, total, "%d ops by %d workers in %.1f s: %s" % (
        ops, len(reports), seconds, " ".join("%s=%d" % kv for kv in total.items()))


def parse(args):
    o = {"cairn": None, "conf": None, "workdir": None, "per_mount": 2, "seconds": 15.0,
         "ops": 0, "seed": os.environ.get("CAIRN_SEED"), "timeout": 1.0}
    conv = {"per_mount": int, "seconds": float, "ops": int, "timeout": float}
    tops = []
    while args:
        a = args.pop(0)
        k = a[2:].replace("-", "_")
        if not a.startswith("--"):
            tops.append(os.path.realpath(a))
        elif k in o and args:
            o[k] = conv.get(k, str)(args.pop(0))
        else:
            return None, None
    if len(tops) < 2 or not all(o[k] for k in ("cairn", "conf", "workdir")):
        return None, None
    return tops, o


def main():
    if sys.argv[1:2] == ["worker"]:
        return worker(sys.argv[2:])
    tops, o = parse(sys.argv[1:])
    if not tops:
        print(__doc__, file=sys.stderr)
        return 2
    seed = int(o["seed"]) if o["seed"] else random.SystemRandom().randrange(2**32)
    log("seed %d (replay the choices with --seed %d)" % (seed, seed))
    d = Driver(tops, o)
    t0 = time.monotonic()
    try:
        d.start(seed)
        reports = d.run_workers()
        t_end = time.monotonic()
        errors = ["worker %d (seed %d, on %s): %s" % (r["n"], r["seed"], tops[r["home"]],
                                                      r["error"])
                  for r in reports if r["error"]]
        if errors:
            raise Fail("; ".join(errors) + dead_mounts(tops))
        ops, total, line = summary(reports, t_end - t0)
        log(line)
        missing = [k for k in KINDS if total[k] == 0 and k != "rename_dir_over"]
        if missing:
            raise Fail("no %s in the whole run (too few ops: %d)" % (" ".join(missing), ops))
        d.converge(expected(reports), t_end)
        d.fs_check(os.path.dirname(tops[0]))
    except Fail as e:
        log("FAIL (seed %d): %s" % (seed, e))
        return 1
    finally:
        d.stop()
    log("ok: %d mounts agree, fs check consistent; %.1f s" % (len(tops), time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
