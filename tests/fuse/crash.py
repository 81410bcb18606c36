#!/usr/bin/python3
"""kill -9 of mount.cairn in the middle of creates and cross-directory
renames: `cairn fs check --repair` must leave a consistent tree that lost
no acknowledged change.

usage: crash.py MNT WORKDIR --mount BIN --cairn BIN --conf FILE
                [--rounds N] [--seed S]
       crash.py worker MNT JOURNAL SEED     (run by the driver)

Each round the driver mounts volume "default" on MNT with `mount.cairn -f`
(its pid is ours), checks the tree against the journal, starts a worker
that loops over creates (unique content), renames of files across
directories (some over another file), renames of directories across
parents, mkdirs and unlinks, and kills mount.cairn with SIGKILL at a random
moment 0.3-2 s after the worker started (once the journal holds a few
acknowledged ops). The worker journals each op in WORKDIR/journal on the
local disk, fsync'd: "B" before the call, "A" once it returned. The driver
then waits for the worker to fail (ENOTCONN), unmounts the dead mount, runs
`cairn --json fs check default` (problems are logged), `--repair`, and the
check again, which must report a consistent volume. The next mount must
show exactly the acknowledged tree, the op in flight at the kill either
done or not (a create also as an empty file). The seed is printed first;
--seed (or $CAIRN_SEED) replays the choices, not the kill's timing.
A create left empty by the kill is extended and must read as zeros, not
as the bytes of the write the kill cut off.
"""
import errno
import json
import os
import random
import signal
import string
import subprocess
import sys
import time

MAX_FILES = 120
MAX_DIRS = 24
MAX_DEPTH = 4
MOUNT_DEADLINE_S = 30
WORKER_DEADLINE_S = 30


class Fail(Exception):
    pass


# ---- the model: what the journal says the tree is ----

class Tree:
    """dirs: id -> (parent id, name), the root is 0; files: id -> (dir id,
    name, content)."""

    def __init__(self):
        self.dirs = {0: (None, "")}
        self.files = {}
        self.next_id = 1

    def copy(self):
        t = Tree()
        t.dirs, t.files, t.next_id = dict(self.dirs), dict(self.files), self.next_id
        return t

    def path(self, did):
        parts = []
        while did:
            did, name = self.dirs[did]
            parts.append(name)
        return "/".join(reversed(parts))

    def fpath(self, fid):
        d, name, _ = self.files[fid]
        return "/".join(p for p in (self.path(d), name) if p)

    def depth(self, did):
        n = 0
        while did:
            did = self.dirs[did][0]
            n += 1
        return n

    def below(self, did):
        """@did and every directory under it."""
        out = {did}
        changed = True
        while changed:
            changed = False
            for d, (p, _) in self.dirs.items():
                if p in out and d not in out:
                    out.add(d)
                    changed = True
        return out

    def height(self, did):
        return max(self.depth(d) for d in self.below(did)) - self.depth(did)

    def apply(self, op, empty=False):
        k = op["op"]
        self.next_id = max(self.next_id, op.get("id", 0) + 1)
        if k == "create":
            self.files[op["id"]] = (op["dir"], op["name"], "" if empty else op["content"])
        elif k == "mkdir":
            self.dirs[op["id"]] = (op["parent"], op["name"])
        elif k == "rename_file":
            if op.get("replaces") is not None:
                del self.files[op["replaces"]]
            _, _, content = self.files[op["file"]]
            self.files[op["file"]] = (op["dir"], op["name"], content)
        elif k == "rename_dir":
            self.dirs[op["dir"]] = (op["parent"], op["name"])
        elif k == "unlink":
            del self.files[op["file"]]
        else:
            raise ValueError(k)

    def render(self):
        """(set of directory paths, {file path: content bytes})."""
        return ({self.path(d) for d in self.dirs if d},
                {self.fpath(f): c.encode() for f, (_, _, c) in self.files.items()})


def read_journal(path):
    recs = []
    try:
        with open(path) as f:
            for line in f:
                if line.endswith("\n"):
                    recs.append(json.loads(line))
    except FileNotFoundError:
        pass
    return recs


def replay(recs):
    """The tree after every resolved op, and the op still in flight (begun,
    neither acknowledged nor resolved), if any."""
    t, begun = Tree(), {}
    for r in recs:
        if r["t"] == "B":
            begun[r["seq"]] = r
        elif r["t"] == "A":
            t.apply(begun.pop(r["seq"]))
        elif r["t"] == "R":
            op = begun.pop(r["seq"])
            if r["state"] != "old":
                t.apply(op, empty=r["state"] == "empty")
            else:
                t.next_id = max(t.next_id, op.get("id", 0) + 1)
    if len(begun) > 1:
        raise Fail("more than one op in flight in the journal: %r" % sorted(begun))
    return t, next(iter(begun.values()), None)


def last_seq(recs):
    return max([r["seq"] for r in recs if "seq" in r], default=0)


# ---- the worker ----

class Journal:
    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def put(self, rec):
        os.write(self.fd, (json.dumps(rec) + "\n").encode())
        os.fsync(self.fd)


def next_op(t, rng, seq):
    """A random op on tree @t (as a journal record)."""
    nid = t.next_id
    dirs = [d for d in t.dirs]
    files = sorted(t.files)
    x = rng.random()
    if len(dirs) < 5 or (x < 0.07 and len(dirs) < MAX_DIRS):
        parent = rng.choice([d for d in dirs if t.depth(d) < MAX_DEPTH])
        return {"op": "mkdir", "id": nid, "parent": parent, "name": "d%d" % nid}
    if len(files) < 3 or (x < 0.35 and len(files) < MAX_FILES):
        n = rng.randint(10, 3000)
        content = "%d:" % nid + "".join(rng.choice(string.ascii_letters) for _ in range(n))
        return {"op": "create", "id": nid, "dir": rng.choice(dirs), "name": "f%d" % nid,
                "content": content}
    if x < 0.45 or len(files) >= MAX_FILES:
        return {"op": "unlink", "file": rng.choice(files)}
    movable = [d for d in dirs if d]
    if x < 0.55 and movable:
        d = rng.choice(movable)
        under = t.below(d)
        parents = [p for p in dirs if p not in under and p != t.dirs[d][0] and
                   t.depth(p) + 1 + t.height(d) <= MAX_DEPTH]
        if parents:
            return {"op": "rename_dir", "dir": d, "parent": rng.choice(parents),
                    "name": t.dirs[d][1]}
    f = rng.choice(files)
    src_dir = t.files[f][0]
    others = [d for d in dirs if d != src_dir]
    dst = rng.choice(others) if others and rng.random() < 0.9 else src_dir
    in_dst = [g for g in files if t.files[g][0] == dst and g != f]
    if in_dst and rng.random() < 0.15:  # over another file: that one is gone
        g = rng.choice(in_dst)
        return {"op": "rename_file", "file": f, "dir": dst, "name": t.files[g][1],
                "replaces": g}
    return {"op": "rename_file", "file": f, "dir": dst, "name": "f%d.%d" % (f, seq)}


def perform(mnt, t, op):
    j = lambda rel: os.path.join(mnt, rel) if rel else mnt
    k = op["op"]
    if k == "mkdir":
        os.mkdir(j("/".join(p for p in (t.path(op["parent"]), op["name"]) if p)))
    elif k == "create":
        path = j("/".join(p for p in (t.path(op["dir"]), op["name"]) if p))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            data = op["content"].encode()
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)
    elif k == "unlink":
        os.unlink(j(t.fpath(op["file"])))
    elif k == "rename_file":
        dst = "/".join(p for p in (t.path(op["dir"]), op["name"]) if p)
        os.rename(j(t.fpath(op["file"])), j(dst))
    elif k == "rename_dir":
        dst = "/".join(p for p in (t.path(op["parent"]), op["name"]) if p)
        os.rename(j(t.path(op["dir"])), j(dst))


def worker(mnt, journal, seed):
    t, inflight = replay(read_journal(journal))
    if inflight:
        raise Fail("worker: an unresolved op in the journal")
    seq = last_seq(read_journal(journal))
    rng = random.Random(seed)
    jn = Journal(journal)
    end = time.monotonic() + 120  # the driver kills the mount long before
    while time.monotonic() < end:
        seq += 1
        op = next_op(t, rng, seq)
        jn.put(dict(op, t="B", seq=seq))
        try:
            perform(mnt, t, op)
        except OSError as e:
            name = errno.errorcode.get(e.errno, str(e.errno))
            jn.put({"t": "X", "seq": seq, "errno": name, "what": str(e)})
            return 3 if e.errno in (errno.ENOTCONN, errno.ECONNABORTED) else 1
        jn.put({"t": "A", "seq": seq})
        t.apply(op)
    return 1


# ---- the driver ----

def is_mounted(mnt):
    with open("/proc/mounts") as f:
        return any(line.split()[1] == mnt for line in f)


def wait_for(cond, what, deadline_s):
    end = time.monotonic() + deadline_s
    while not cond():
        if time.monotonic() > end:
            raise Fail("timed out waiting for %s" % what)
        time.sleep(0.05)


def walk(mnt):
    dirs, files = set(), {}
    todo = [""]
    while todo:
        d = todo.pop()
        for e in os.scandir(os.path.join(mnt, d) if d else mnt):
            rel = os.path.join(d, e.name) if d else e.name
            if e.is_dir(follow_symlinks=False):
                dirs.add(rel)
                todo.append(rel)
            else:
                with open(os.path.join(mnt, rel), "rb") as f:
                    files[rel] = f.read()
    return dirs, files


def diff(actual, want):
    (ad, af), (wd, wf) = actual, want
    out = []
    if ad != wd:
        out.append("dirs missing %s, extra %s" % (sorted(wd - ad)[:5], sorted(ad - wd)[:5]))
    missing, extra = sorted(set(wf) - set(af)), sorted(set(af) - set(wf))
    wrong = sorted(p for p in set(af) & set(wf) if af[p] != wf[p])
    if missing or extra or wrong:
        out.append("files missing %s, extra %s, wrong content %s" %
                   (missing[:5], extra[:5], [(p, af[p][:40]) for p in wrong[:3]]))
    return "; ".join(out) or "same"


class Driver:
    def __init__(self, mnt, workdir, opts):
        self.mnt, self.workdir, self.o = mnt, workdir, opts
        self.journal = os.path.join(workdir, "journal")
        self.proc = None    # our mount.cairn
        self.worker = None
        self.stats = {"inflight": 0, "applied": 0, "found": 0, "repaired": 0, "stale": 0}

    def log(self, msg):
        print("crash: %s" % msg, flush=True)

    def mount(self):
        with open(os.path.join(self.workdir, "mount.log"), "ab") as log:
            self.proc = subprocess.Popen(
                [self.o["--mount"], "default", self.mnt, "-c", self.o["--conf"], "-f"],
                stdout=log, stderr=subprocess.STDOUT)

        def up():
            if self.proc.poll() is not None:
                raise Fail("mount.cairn exited with %d (see mount.log)" % self.proc.returncode)
            return is_mounted(self.mnt) and os.path.isdir(self.mnt)
        wait_for(up, "mount.cairn to mount %s" % self.mnt, MOUNT_DEADLINE_S)

    def unmount_dead(self):
        if subprocess.run(["fusermount3", "-u", "-z", self.mnt], capture_output=True).returncode:
            subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        wait_for(lambda: not is_mounted(self.mnt), "the dead mount to go", 10)

    def stop(self):
        """Cleanup on the way out: the worker, our mount.cairn, its mount."""
        if self.worker and self.worker.poll() is None:
            self.worker.kill()
            self.worker.wait()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if is_mounted(self.mnt):
            self.unmount_dead()

    def check(self, repair):
        cmd = [self.o["--cairn"], "-c", self.o["--conf"], "--json", "fs", "check", "default"]
        r = subprocess.run(cmd + (["--repair"] if repair else []), capture_output=True,
                           text=True, timeout=120)
        try:
            return r.returncode, json.loads(r.stdout)
        except ValueError:
            raise Fail("%s: exit %d, %s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))

    def verify(self, what):
        """The tree on the mount must be the journal's (with the op in flight
        done or not); records which in the journal."""
        recs = read_journal(self.journal)
        t, op = replay(recs)
        actual = walk(self.mnt)
        cands = [("old", t)]
        if op:
            new = t.copy()
            new.apply(op)
            cands.append(("new", new))
            if op["op"] == "create":
                empty = t.copy()
                empty.apply(op, empty=True)
                cands.append(("empty", empty))
        for state, cand in cands:
            if cand.render() == actual:
                break
        else:
            after = "; vs after it: %s" % diff(actual, cands[1][1].render()) if op else ""
            raise Fail("%s: the tree is not what the journal says: vs before the op in "
                       "flight (%s): %s%s" % (what, op and op["op"], diff(actual, t.render()),
                                             after))
        if state == "empty":
            self.stale_check(cand.fpath(op["id"]), len(op["content"]))
        if op:
            Journal(self.journal).put({"t": "R", "seq": op["seq"], "state": state})
            if state != "old":
                self.stats["applied"] += 1
            self.log("%s: the %s in flight at the kill was %s" %
                     (what, op["op"], {"old": "not done", "new": "done",
                                       "empty": "done, its data not"}[state]))
        return len(cand.dirs) - 1, len(cand.files)

    def stale_check(self, rel, n):
        """A create whose write was cut off left an empty file: extended, it
        must read as zeros, not as the bytes of the write that never
        completed (client/fs_data.c clears the tail before a file grows)."""
        path = os.path.join(self.mnt, rel)
        os.truncate(path, n)
        with open(path, "rb") as f:
            data = f.read()
        os.truncate(path, 0)
        if data == bytes(n):
            return
        self.stats["stale"] += 1
        raise Fail("%s: extended after a cut-off write, it reads %r, not zeros" % (rel, data[:40]))

    def round(self, n, rng):
        self.mount()
        self.verify("round %d, after the remount" % n)
        t0 = time.monotonic()
        before = len(read_journal(self.journal))
        w = self.worker = subprocess.Popen([sys.executable, os.path.abspath(__file__), "worker",
                                            self.mnt, self.journal, str(rng.randrange(2**32))])
        kill_at = t0 + rng.uniform(0.3, 2.0)

        def ready():
            if w.poll() is not None:
                raise Fail("the worker exited (%d) before the kill: %s" %
                           (w.returncode, read_journal(self.journal)[-1:]))
            acks = sum(1 for r in read_journal(self.journal)[before:] if r["t"] == "A")
            return acks >= 3 and time.monotonic() >= kill_at
        wait_for(ready, "the worker's first acknowledged ops", 60)
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        killed_after = time.monotonic() - t0
        try:
            rc = w.wait(WORKER_DEADLINE_S)
        except subprocess.TimeoutExpired:
            w.kill()
            raise Fail("the worker did not notice the dead mount")
        recs = read_journal(self.journal)
        last = recs[-1]
        if rc != 3 or last["t"] != "X":
            raise Fail("the worker ended with %d, last record %r (want ENOTCONN)" % (rc, last))
        acks = sum(1 for r in recs[before:] if r["t"] == "A")
        _, inflight = replay(recs)
        self.log("round %d: killed mount.cairn %.2f s after the worker started, %d ops "
                 "acknowledged, in flight: %s (%s)" %
                 (n, killed_after, acks, inflight and inflight["op"], last["errno"]))
        if inflight:
            self.stats["inflight"] += 1
        self.unmount_dead()

        rc, rep = self.check(False)
        problems = sum(rep[k] for k in ("orphans", "dangling", "bad_nlink", "intents"))
        self.log("round %d: check: %s" % (n, " ".join(
            "%s=%s" % (k, rep[k]) for k in ("inodes", "entries", "orphans", "dangling",
                                            "bad_nlink", "intents"))))
        if problems:
            self.stats["found"] += 1
            if rc == 0:
                raise Fail("fs check exited 0 with %d problems unrepaired" % problems)
        # The repair counts what its own pass finds: a rename intent rolled
        # forward first also settles the link count the plain check saw.
        rc, rep = self.check(True)
        if rc != 0 or not rep["clean"]:
            raise Fail("fs check --repair: exit %d, %r" % (rc, rep))
        self.stats["repaired"] += rep["repaired"]
        rc, rep = self.check(False)
        bad = {k: rep[k] for k in ("orphans", "dangling", "bad_nlink", "intents") if rep[k]}
        if rc != 0 or bad or not rep["consistent"]:
            raise Fail("fs check after --repair: exit %d, %r" % (rc, rep))
        return rep

    def run(self, rounds, seed):
        rng = random.Random(seed)
        for n in range(1, rounds + 1):
            rep = self.round(n, rng)
            self.mount_and_count(n, rep, rounds)
        return self.stats

    def mount_and_count(self, n, rep, rounds):
        """The check's counts must be the tree's (no orphan left) once the
        next mount resolved the op in flight; the last round verifies here."""
        if n == rounds:
            self.mount()
            dirs, files = self.verify("the final mount")
            self.stop()
        else:
            recs = read_journal(self.journal)
            t, op = replay(recs)
            if op:  # resolved by the next round's verify; count both ways
                new = t.copy()
                new.apply(op)
                counts = {(len(t.dirs) - 1, len(t.files)), (len(new.dirs) - 1, len(new.files))}
            else:
                counts = {(len(t.dirs) - 1, len(t.files))}
            dirs, files = None, None
            if not any(rep["inodes"] == 1 + d + f and rep["entries"] == d + f
                       for d, f in counts):
                raise Fail("round %d: check counts %d inodes, %d entries; the journal says "
                           "(dirs, files) in %r" % (n, rep["inodes"], rep["entries"],
                                                    sorted(counts)))
        if dirs is not None and (rep["inodes"] != 1 + dirs + files or
                                 rep["entries"] != dirs + files):
            raise Fail("the last check counts %d inodes, %d entries; the tree has %d "
                       "directories and %d files" % (rep["inodes"], rep["entries"], dirs, files))


def main():
    args = sys.argv[1:]
    if args[:1] == ["worker"] and len(args) == 4:
        return worker(args[1], args[2], int(args[3]))
    opts = {"--mount": None, "--cairn": None, "--conf": None, "--rounds": "8",
            "--seed": os.environ.get("CAIRN_SEED")}
    pos = []
    while args:
        a = args.pop(0)
        if a in opts and args:
            opts[a] = args.pop(0)
        else:
            pos.append(a)
    if len(pos) != 2 or not all(opts[k] for k in ("--mount", "--cairn", "--conf")):
        print(__doc__, file=sys.stderr)
        return 2
    seed = int(opts["--seed"]) if opts["--seed"] else random.SystemRandom().randrange(2**32)
    print("crash: seed %d (replay the choices with --seed %d)" % (seed, seed), flush=True)
    d = Driver(os.path.realpath(pos[0]), pos[1], opts)
    t0 = time.monotonic()
    try:
        st = d.run(int(opts["--rounds"]), seed)
    except Fail as e:
        print("crash: FAIL (seed %d): %s" % (seed, e), flush=True)
        return 1
    finally:
        d.stop()
    t, _ = replay(read_journal(d.journal))
    acked = sum(1 for r in read_journal(d.journal) if r["t"] == "A")
    print("crash: %s rounds, %d ops acknowledged, %d files and %d directories at the end; "
          "an op in flight at %d kills (%d of them done); check found problems after %d "
          "kills, %d repairs; stale data after %d kills; %.1f s" %
          (opts["--rounds"], acked, len(t.files), len(t.dirs) - 1, st["inflight"],
           st["applied"], st["found"], st["repaired"], st["stale"], time.monotonic() - t0),
          flush=True)
    if st["inflight"] == 0:
        print("crash: FAIL: no kill caught an op in flight", flush=True)
        return 1
    if st["found"] == 0:
        print("crash: note: no kill left anything for fs check to repair this time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
