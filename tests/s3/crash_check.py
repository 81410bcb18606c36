"""Kill -9 of cairn-s3 during uploads (run by test_crash.sh).

Each round: 8 writer threads (each with keys of its own, so the writes to a
key are ordered) PUT objects (overwrites of a fixed key set,
sizes from 0 to 9 MiB, so 1 to 3 stripes) and multipart uploads, every body
unique and its MD5 known; at a random moment the gateway is killed with
SIGKILL. A write whose response arrived is acknowledged: afterwards the key
must read back exactly that content, or the content of a write to the same
key that was in flight at the kill (it may have committed or not), never
anything else: no mix of old and new stripes, no torn object, no key that
was never written. The ETag must be the MD5 of what is read (or the
multipart form). Then `cairn s3 gc --older-than 0` must reclaim the data of
the writes the kills cut off, and leave every object intact.

    crash_check.py ROUNDS CLUSTER_DIR CAIRN_BIN DEPLOY_CLUSTER
"""
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ROUNDS, DIR, CAIRN, CLUSTER = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
BUCKET = "crash"
KEYS = [f"k{i:02d}" for i in range(24)] + ["dir/sub/é-%d" % i for i in range(4)]
ABSENT = "absent"
PROBLEMS = []   # found by writer threads (a thread cannot end the process)
SEED = int(os.environ.get("CAIRN_SEED", time.time_ns() % 1000000))
print(f"crash_check: seed {SEED} (replay with CAIRN_SEED={SEED})", flush=True)
rng = random.Random(SEED)


def client():
    return boto3.client(
        "s3", endpoint_url=os.environ["CAIRN_S3_ENDPOINT"], region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60))


def body_for(key, serial, size):
    """Unique, reproducible content: the key and serial in every 64 bytes."""
    tag = f"{key}#{serial}#".encode()
    block = (tag * (64 // len(tag) + 1))[:64]
    return (block * (size // 64 + 1))[:size]


def deadline_wait(what, cond, seconds=60):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    sys.exit(f"crash_check: timed out waiting for {what}")


class State:
    """Per key: the MD5s it may hold (acknowledged + in flight at a kill)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.allowed = {}   # key -> set of md5 hex
        self.history = {}   # key -> [(round, serial, md5, size, outcome)], for the report
        self.round = 0
        self.serial = 0

    def next_serial(self):
        with self.lock:
            self.serial += 1
            return self.serial


def put_simple(s3, key, data):
    etag = s3.put_object(Bucket=BUCKET, Key=key, Body=data)["ETag"].strip('"')
    if etag != hashlib.md5(data).hexdigest():
        PROBLEMS.append(f"PUT {key} ({len(data)} bytes) answered ETag {etag}, not the MD5 of "
                        "what it sent")


def put_multipart(s3, key, data):
    u = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts, off, n = [], 0, 1
    while off < len(data):
        chunk = data[off:off + (5 << 20)]
        e = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=u, PartNumber=n, Body=chunk)["ETag"]
        parts.append({"PartNumber": n, "ETag": e})
        off += len(chunk)
        n += 1
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=u,
                                 MultipartUpload={"Parts": parts})


def writer(st, stop, wid, counts):
    s3 = client()
    r = random.Random(SEED * 100 + wid)
    mine = KEYS[wid::8]     # each key has one writer: its writes are ordered
    while not stop.is_set():
        key = r.choice(mine)
        serial = st.next_serial()
        multipart = r.random() < 0.15
        size = r.choice([0, 100, 4096, 65536, (1 << 20) + 7, (4 << 20) + 1, 9 << 20])
        if multipart:
            size = max(size, (5 << 20) + 1)
        data = body_for(key, serial, size)
        md5 = hashlib.md5(data).hexdigest()
        with st.lock:
            # never written before: it may also stay absent if this is cut off
            st.allowed.setdefault(key, {ABSENT}).add(md5)   # may commit from now on
        try:
            (put_multipart if multipart else put_simple)(s3, key, data)
        except (BotoCoreError, ClientError, OSError) as e:
            counts["failed"] += 1
            with st.lock:
                st.history.setdefault(key, []).append(
                    (st.round, serial, md5, size, "cut off: " + type(e).__name__))
            continue        # in flight at a kill: both old and new stay allowed
        with st.lock:
            st.allowed[key] = {md5}          # acknowledged: only this, from now on
            st.history.setdefault(key, []).append((st.round, serial, md5, size, "acked"))
        counts["acked"] += 1


def gateway_pid():
    with open(os.path.join(DIR, "pid", "s3.0.pid")) as f:
        return int(f.read().strip())


def restart_gateway():
    subprocess.run([CLUSTER, "up", "--dir", DIR], check=True, stdout=subprocess.DEVNULL)

    def answers():
        try:
            client().head_bucket(Bucket=BUCKET)
            return True
        except (BotoCoreError, ClientError, OSError):
            return False
    deadline_wait("cairn-s3 to answer after restart", answers)


def etag_ok(etag, data):
    etag = etag.strip('"')
    if "-" in etag:
        return True     # multipart ETag: MD5 of part MD5s, checked by the boto3 suite
    return etag == hashlib.md5(data).hexdigest()


def verify(st):
    s3 = client()
    listed = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        listed.update(o["Key"] for o in page.get("Contents", []))
    unknown = listed - set(st.allowed)
    if unknown:
        sys.exit(f"crash_check: keys never written are listed: {sorted(unknown)}")
    for key, allowed in st.allowed.items():
        try:
            obj = s3.get_object(Bucket=BUCKET, Key=key)
        except ClientError as e:
            if e.response["Error"]["Code"] == "NoSuchKey" and ABSENT in allowed:
                if key in listed:
                    sys.exit(f"crash_check: {key} is listed but does not read")
                continue    # its only writes were cut off before they committed
            sys.exit(f"crash_check: {key}: {e}")
        data = obj["Body"].read()
        md5 = hashlib.md5(data).hexdigest()
        if md5 not in allowed:
            for h in st.history.get(key, []):
                print(f"crash_check: {key} history: round {h[0]} serial {h[1]} md5 {h[2]} "
                      f"size {h[3]} {h[4]}", flush=True)
            sys.exit(f"crash_check: {key}: content {md5} ({len(data)} bytes) is neither the "
                     f"acknowledged write nor one in flight at the kill: {sorted(allowed)}")
        if not etag_ok(obj["ETag"], data):
            sys.exit(f"crash_check: {key}: ETag {obj['ETag']} is not the MD5 of its content")
        if key not in listed:
            sys.exit(f"crash_check: {key} reads back but is not listed")
        st.allowed[key] = {md5}


def gc(dry_run=False):
    cmd = [CAIRN, "-c", os.path.join(DIR, "cairn.conf"), "s3", "gc", "--older-than", "0",
           "--json"] + (["--dry-run"] if dry_run else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    st = State()
    s3 = client()
    s3.create_bucket(Bucket=BUCKET)
    total = {"acked": 0, "failed": 0}
    for rnd in range(ROUNDS):
        st.round = rnd + 1
        stop = threading.Event()
        counts = {"acked": 0, "failed": 0}
        threads = [threading.Thread(target=writer, args=(st, stop, w, counts)) for w in range(8)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(1.0, 4.0))
        os.kill(gateway_pid(), signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(120)
            if t.is_alive():
                sys.exit("crash_check: a writer hangs after the kill")
        if PROBLEMS:
            sys.exit("crash_check: " + "; ".join(PROBLEMS))
        restart_gateway()
        verify(st)
        for k in total:
            total[k] += counts[k]
        print(f"crash_check: round {rnd + 1}: {counts['acked']} acknowledged, "
              f"{counts['failed']} cut off by the kill; every key reads back an allowed "
              "version", flush=True)
    if total["acked"] == 0 or total["failed"] == 0:
        sys.exit(f"crash_check: the kills never hit a write in flight ({total}); the test "
                 "proved nothing")
    before = gc(dry_run=True)
    stats = gc()
    print(f"crash_check: gc: {json.dumps(stats)}", flush=True)
    if stats.get("removed", 0) == 0 and before.get("orphans", 0) > 0:
        sys.exit("crash_check: gc found orphans but removed none")
    verify(st)
    again = gc(dry_run=True)
    if again.get("orphans", 0) != 0:
        sys.exit(f"crash_check: orphans remain after gc: {again}")
    print(f"crash_check: {total['acked']} acknowledged writes over {ROUNDS} kills, all intact; "
          f"gc reclaimed {stats.get('removed')} orphaned objects and left every object whole",
          flush=True)


main()
