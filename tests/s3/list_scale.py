"""100,000 keys in one bucket, listed page by page (run by
test_list_scale.sh after s3_fill put them in the index): ListObjectsV2 with
continuation tokens, ListObjects with markers and ListObjectVersions each
return every key exactly once, in byte order; delimiter listings roll the
100 directories up, also across pages; a prefix lists one directory. Prints
the time per page (no assertion on speed).

    list_scale.py BUCKET COUNT DIRS
"""
import os
import sys
import time

import boto3
from botocore.config import Config

BUCKET, COUNT, DIRS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s3 = boto3.client("s3", endpoint_url=os.environ["CAIRN_S3_ENDPOINT"], region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
EXPECT = sorted((f"d{i % DIRS:03d}/f{i:06d}" for i in range(COUNT)), key=str.encode)


def fail(msg):
    sys.exit(f"list_scale: {msg}")



def timed_walk(name, op, field, **kw):
    t0 = time.monotonic()
    pages = 0
    keys = []
    for page in s3.get_paginator(op).paginate(Bucket=BUCKET, **kw):
        pages += 1
        keys += [o["Key"] for o in page.get(field, [])]
    dt = time.monotonic() - t0
    if keys != EXPECT:
        missing = set(EXPECT) - set(keys)
        fail(f"{name}: {len(keys)} keys, {len(missing)} missing, in order: "
             f"{keys == sorted(keys, key=str.encode)}, unique: {len(set(keys)) == len(keys)}")
    print(f"list_scale: {name}: {len(keys)} keys in {pages} pages, {dt:.1f} s "
          f"({1000 * dt / pages:.0f} ms per page)", flush=True)


def delimiters():
    r = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/")
    cps = [p["Prefix"] for p in r.get("CommonPrefixes", [])]
    if cps != [f"d{i:03d}/" for i in range(DIRS)] or r.get("Contents"):
        fail(f"delimiter listing gave {len(cps)} prefixes, {len(r.get('Contents', []))} keys")
    seen = []
    for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Delimiter="/", PaginationConfig={"PageSize": 7}):
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    if seen != cps:
        fail(f"delimiter listing in pages of 7 gave {len(seen)} prefixes")
    r = s3.list_objects_v2(Bucket=BUCKET, Prefix="d042/")
    want = [k for k in EXPECT if k.startswith("d042/")]
    got = [o["Key"] for o in r.get("Contents", [])]
    if got != want:
        fail(f"prefix d042/ gave {len(got)} keys, want {len(want)}")
    print(f"list_scale: delimiter: {len(cps)} CommonPrefixes in one page and in pages of 7; "
          f"prefix d042/: {len(got)} keys", flush=True)


def main():
    t0 = time.monotonic()
    timed_walk("ListObjectsV2", "list_objects_v2", "Contents")
    timed_walk("ListObjects (v1, markers)", "list_objects", "Contents")
    timed_walk("ListObjectVersions", "list_object_versions", "Versions")
    delimiters()
    one = s3.get_object(Bucket=BUCKET, Key=EXPECT[12345])
    if one["Body"].read() != b"" or one["ContentLength"] != 0:
        fail("a listed key does not read back as the empty object it is")
    print(f"list_scale: all checks passed in {time.monotonic() - t0:.1f} s")


main()
